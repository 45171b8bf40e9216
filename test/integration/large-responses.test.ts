import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS } from '../../src/modelgen/catalog.js';
import { binaryRequest, readOutputs } from '../helpers/binary.js';
import { waitFor } from '../helpers/conditions.js';
import { writeRepository } from '../helpers/repository.js';
import { request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  const repository = writeRepository([{ entry: TEST_MODELS.floatEcho, config: { max_batch_size: 4 } }]);
  server = await startServer(repository);
});

afterAll(async () => {
  await server?.stop();
});

/**
 * A float_echo request whose FP32 output is `n` values, 4 bytes each, every one distinct and
 * exact in FP32 (i × 0.5 for i < 2^24). Only the tensor asked back is built: the typed_echo
 * request this once used carried 47 MiB in twelve datatypes, which took seconds to build
 * and send on a loaded machine.
 */
function echoRequest(n: number) {
  const values = Float32Array.from({ length: n }, (_, i) => i * 0.5);
  return { values, ...binaryRequest([{ name: 'fp32_in', datatype: 'FP32', shape: [1, n], data: values }], { outputs: [{ name: 'fp32_out', parameters: { binary_data: true } }] }) };
}

const inferences = async (): Promise<number> =>
  (await request(`${server.url}/v2/models/float_echo/stats`)).json<{ model_stats: { inference_count: number }[] }>().model_stats[0]!.inference_count;

describe('large responses', () => {
  it('reach a client that reads slowly whole and exact, while the server keeps serving others', { timeout: 30_000 }, async () => {
    // 8 MiB of FP32 output: far past the 256 KiB written in one go, so it goes out as the client reads.
    const { values, body, headers } = echoRequest(2 * 1024 * 1024);
    const head = [
      'POST /v2/models/float_echo/infer HTTP/1.1',
      'Host: x',
      `Content-Length: ${body.length}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      'Connection: close',
      '',
      '',
    ].join('\r\n');
    const socket = connect(server.httpPort, '127.0.0.1');
    socket.pause();
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(head);
    socket.write(body);

    // While that client reads nothing of its answer, another is served. A fixed 300 ms wait here
    // was, on a loaded machine, over before the large request had even been received, so the
    // other request was served before the slow reader held anything up: wait until the large
    // answer has been computed, and so is being written to a client that does not read.
    await waitFor('the large request to be inferred', async () => (await inferences()) === 1);
    const small = echoRequest(4);
    const quick = await fetch(`${server.url}/v2/models/float_echo/infer`, { method: 'POST', body: small.body, headers: small.headers });
    expect(quick.status).toBe(200);
    expect(await inferences()).toBe(2);

    // Now read slowly: resume in small steps.
    for (let i = 0; i < 10; i++) {
      socket.resume();
      await new Promise((r) => setTimeout(r, 20));
      socket.pause();
    }
    socket.resume();
    await closed;
    const raw = Buffer.concat(chunks);
    const split = raw.indexOf('\r\n\r\n');
    const responseHead = raw.subarray(0, split).toString();
    expect(responseHead).toMatch(/^HTTP\/1.1 200/);
    const headerLength = /inference-header-content-length: (\d+)/i.exec(responseHead)![1]!;
    const { outputs } = readOutputs(raw.subarray(split + 4), headerLength);
    const out = outputs[0]!.data as Float32Array;
    expect(out.length).toBe(values.length);
    // Every value in place: a wrong write offset would shift or repeat bytes.
    for (const i of [0, 1, 4095, 32768, 500_000, values.length - 1]) expect(out[i]).toBe(values[i]);
    expect(Buffer.from(out.buffer, out.byteOffset, out.byteLength).equals(Buffer.from(values.buffer))).toBe(true);
  });
});
