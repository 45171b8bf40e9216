/**
 * --max-inflight-bytes counts what a request really costs: its decoding, its
 * deserialization, its answer until written, and a stream's unread answers.
 * Each test failed before: the budget counted raw body bytes only (issue 12, item 3).
 */
import { status, type ClientDuplexStream, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS } from '../../src/modelgen/catalog.js';
import { loadServiceDefinitions } from '../../src/grpc/protos.js';
import { binaryRequest } from '../helpers/binary.js';
import { waitFor } from '../helpers/conditions.js';
import { GrpcTestClient } from '../helpers/grpc-client.js';
import { IN_FLIGHT, scrape, seriesValue, waitForSeries } from '../helpers/observe.js';
import { requestHead, slowReader } from '../helpers/raw-http.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

const HELD = 'brisk_inflight_bytes';
const KiB = 1024;
const MiB = 1024 * KiB;

const repository = () =>
  writeRepository([
    { entry: TEST_MODELS.floatEcho, config: { max_batch_size: 8 } },
    { entry: TEST_MODELS.slow, config: { max_batch_size: 1 } },
  ]);

/** A float_echo request: `n` FP32 values in, the same out (binary both ways when `binary`). */
function echo(n: number, binary = true) {
  const data = new Float32Array(n).fill(0.5);
  if (binary) return binaryRequest([{ name: 'fp32_in', datatype: 'FP32', shape: [1, n], data }], { parameters: { binary_data_output: true } });
  const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'fp32_in', datatype: 'FP32', shape: [1, n], data: Array.from(data, () => 1) }] }));
  return { body, headers: { 'content-type': 'application/json' } };
}

const post = (server: TestServer, { body, headers }: { body: Buffer; headers: Record<string, string> }) =>
  request(`${server.url}/v2/models/float_echo/infer`, { method: 'POST', body, headers });

/** float_echo's answered requests; 0 before the first. */
function successes(text: string, protocol: 'rest' | 'grpc'): number {
  const series = `brisk_requests_total{model="float_echo",version="1",protocol="${protocol}",role="primary",outcome="success"}`;
  return text.includes(`${series} `) ? seriesValue(text, series) : 0;
}

/** A server with these flags, and a gRPC client of it, for the tests of one describe block. */
function serverFor(flags: readonly string[]): { readonly server: TestServer; readonly client: GrpcTestClient } {
  let server: TestServer | undefined;
  let client: GrpcTestClient | undefined;
  beforeAll(async () => {
    server = await startServer(repository(), flags);
    client = new GrpcTestClient(server.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });
  return {
    get server() {
      return server!;
    },
    get client() {
      return client!;
    },
  };
}

describe('REST under a 64 KiB budget', () => {
  const running = serverFor(['--max-inflight-bytes', String(64 * KiB)]);

  it('refuses with 413 a JSON body that fits but whose decoding never could, before decoding it', async () => {
    const { server } = running;
    // 24 KB of `1,`: as a string, a parsed array and a tensor it is about 500 KB.
    const request = echo(12_000, false);
    expect(request.body.length).toBeLessThan(32 * KiB);
    const answer = await post(server, request);
    expect(answer.status).toBe(413);
    expect(answer.headers.get('retry-after')).toBeNull();
    expect(answer.json()['error']).toMatch(/needs about \d+ bytes to be read and decoded, more than --max-inflight-bytes 65536/);
    // Nothing was decoded: the same tensor as binary data, whose decoding views the body, is served.
    expect((await post(server, echo(12_000))).status).toBe(200);
    expect(seriesValue(await scrape(server.url), HELD)).toBe(0);
  });

  it('refuses with 503 a JSON body whose decoding fits alone but not beside a queued request', async () => {
    const { server } = running;
    // A slow request holds its 18 KB body while it runs.
    const held = postJson(`${server.url}/v2/models/slow/infer`, {
      id: 'x'.repeat(18_000),
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }],
    });
    await waitForSeries(server.url, { [IN_FLIGHT]: 1 });
    // About 56 KB read and decoded: fits in 64 KiB, not beside 18 KB.
    const refused = await post(server, echo(1_200, false));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json()['error']).toMatch(/--max-inflight-bytes 65536/);
    expect((await held).status).toBe(200);
    expect((await post(server, echo(1_200, false))).status).toBe(200);
  });

  it('answers 413, not 503 and Retry-After, to a Content-Length above the whole budget', async () => {
    const { server } = running;
    const answer = await post(server, echo(25_000));
    expect(answer.status).toBe(413);
    expect(answer.headers.get('retry-after')).toBeNull();
    expect(answer.json()['error']).toMatch(/more than --max-inflight-bytes 65536 allows any request/);
  });
});

describe('a client that does not read its answer', () => {
  const running = serverFor(['--max-inflight-bytes', String(20 * MiB)]);

  it('holds the budget until its answer is written or it goes away', async () => {
    const { server } = running;
    // A 16 MiB answer: more than loopback socket buffers take, so most of it waits for the reader.
    const big = echo(4 * MiB);
    const bigHead = requestHead('POST', '/v2/models/float_echo/infer', { 'Content-Length': String(big.body.length), ...big.headers, Connection: 'close' });
    for (const ending of ['reads it', 'goes away'] as const) {
      const before = successes(await scrape(server.url), 'rest');
      const reader = slowReader(server.httpPort, bigHead, big.body);
      await waitFor('the answer to be computed', async () => successes(await scrape(server.url), 'rest') === before + 1);
      expect(seriesValue(await scrape(server.url), HELD)).toBeGreaterThanOrEqual(16 * MiB);
      // 5 MiB fits in 20 MiB alone, not beside the unread answer.
      const refused = await post(server, echo(1_250_000));
      expect(refused.status).toBe(503);
      expect(refused.json()['error']).toMatch(/--max-inflight-bytes/);

      if (ending === 'reads it') reader.socket.resume();
      else reader.socket.destroy();
      await reader.closed;
      if (ending === 'reads it') expect(reader.received()).toBeGreaterThan(16 * MiB);
      await waitForSeries(server.url, { [HELD]: 0 });
      expect((await post(server, echo(1_250_000))).status).toBe(200);
    }
  });
});

describe('gRPC under a 1 MiB budget', () => {
  const running = serverFor(['--max-inflight-bytes', String(MiB)]);

  const modelInfer = (loadServiceDefinitions().definition['inference.GRPCInferenceService'] as ServiceDefinition)['ModelInfer']!;
  const typed = (n: number) => ({
    model_name: 'float_echo',
    inputs: [{ name: 'fp32_in', datatype: 'FP32', shape: ['1', String(n)], contents: { fp32_contents: new Array<number>(n).fill(0.5) } }],
  });
  /** A ModelInfer call with the message's bytes as given, so a broken one reaches the server. */
  const rawCall = (bytes: Buffer) =>
    new Promise<ServiceError | null>((resolve) =>
      running.client.inference.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', (x: Buffer) => x, (x: Buffer) => x, bytes, (error: ServiceError | null) =>
        resolve(error),
      ),
    );

  it('refuses a message before deserializing it when its decoded size could never fit', async () => {
    const { server, client } = running;
    // 400 KB of fp32_contents: proto-loader's two trees of it are several MB.
    const bytes = modelInfer.requestSerialize(typed(100_000));
    expect(bytes.length).toBeLessThan(MiB / 2);
    const refused = await rawCall(bytes);
    expect(refused?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused?.details).toMatch(/more than --max-inflight-bytes 1048576/);
    // Cut short, the same message is refused the same way: it was never deserialized (that says INVALID_ARGUMENT).
    expect((await rawCall(bytes.subarray(0, bytes.length - 3)))?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(await rawCall(modelInfer.requestSerialize(typed(10)))).toBeNull();
    // The same tensor as raw contents is viewed in place, and costs about its size.
    const raw = await client.call<{ raw_output_contents: Buffer[] }>('ModelInfer', {
      model_name: 'float_echo',
      inputs: [{ name: 'fp32_in', datatype: 'FP32', shape: ['1', '100000'] }],
      raw_input_contents: [Buffer.from(new Float32Array(100_000).fill(0.5).buffer)],
    });
    expect(raw.raw_output_contents[0]!.length).toBe(400_000);
    expect(seriesValue(await scrape(server.url), HELD)).toBe(0);
  });
});

describe('ModelStreamInfer with a client that never reads', () => {
  const running = serverFor([]);

  /** Waits until `read` gives the same value for a second (four polls); returns it. */
  async function steady(what: string, read: () => Promise<number>): Promise<number> {
    let last = -1;
    let same = 0;
    await waitFor(what, async () => {
      const value = await read();
      same = value === last ? same + 1 : 0;
      last = value;
      return same >= 4;
    }, 60_000, 250);
    return last;
  }

  it('stops being read, so the server holds a bounded number of requests and answers', async () => {
    const { server, client } = running;
    // 2,000 requests of 16 KiB each, answered with 16 KiB each; the client reads none of the answers.
    const sent = 2_000;
    const stream = client.inference['ModelStreamInfer']!() as ClientDuplexStream<unknown, unknown>;
    stream.on('error', () => undefined);
    // Asks for answers once, then reads none: grpc-js buffers 16 and leaves the rest to HTTP/2 flow control.
    stream.on('data', () => undefined);
    stream.pause();
    const contents = Buffer.from(new Float32Array(4 * KiB).fill(0.5).buffer);
    for (let i = 0; i < sent; i++) {
      stream.write({ model_name: 'float_echo', id: `r${i}`, inputs: [{ name: 'fp32_in', datatype: 'FP32', shape: ['1', String(4 * KiB)] }], raw_input_contents: [contents] });
    }
    const answered = await steady('the server to stop answering', async () => successes(await scrape(server.url), 'grpc'));
    // What flow control lets through: buffers of 16 answers each way, an HTTP/2 window, at most 128 in flight.
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThan(300);
    expect(seriesValue(await scrape(server.url), HELD)).toBeLessThan(8 * MiB);
    // The client still holds what the server did not read.
    expect(stream.writableLength).toBeGreaterThan(0);

    stream.cancel();
    await waitForSeries(server.url, { [HELD]: 0, [IN_FLIGHT]: 0 });
  });
});
