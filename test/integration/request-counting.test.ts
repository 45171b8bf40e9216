/**
 * brisk_requests_total counts every answered inference request, refusals before
 * decoding included, so the error-rate alert sees them. It used to count only
 * requests that reached a model's queue (issue 12, item 8).
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { GrpcTestClient } from '../helpers/grpc-client.js';
import { IN_FLIGHT, scrape, seriesValue, waitForSeries } from '../helpers/observe.js';
import { requestHead, statusLine } from '../helpers/raw-http.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let client: GrpcTestClient;

beforeAll(async () => {
  const repository = writeRepository([
    { entry: BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!, config: { max_batch_size: 8 } },
    { entry: TEST_MODELS.slow, config: { max_batch_size: 1 } },
  ]);
  server = await startServer(repository, ['--max-body-bytes', '32768', '--max-inflight-bytes', '16384', '--body-timeout-ms', '300']);
  client = new GrpcTestClient(server.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

const TINY = { model: 'tiny_classifier', version: '1' };
const UNKNOWN = { model: '', version: '' };

/** brisk_requests_total for these labels; 0 before the first. */
function counted(text: string, { model, version }: { model: string; version: string }, outcome: string, protocol = 'rest'): number {
  const series = `brisk_requests_total{model="${model}",version="${version}",protocol="${protocol}",role="primary",outcome="${outcome}"}`;
  return text.includes(`${series} `) ? seriesValue(text, series) : 0;
}

/** Runs `answer` and checks that it was counted exactly once, under these labels and outcome. */
async function countsOnce(labels: typeof TINY, outcome: string, answer: () => Promise<unknown>, protocol = 'rest'): Promise<void> {
  const before = counted(await scrape(server.url), labels, outcome, protocol);
  await answer();
  expect(counted(await scrape(server.url), labels, outcome, protocol)).toBe(before + 1);
}

const tinyInput = { name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0.5) };
const tinyUrl = () => `${server.url}/v2/models/tiny_classifier/infer`;

describe('brisk_requests_total', () => {
  it('counts a body that does not decode (400) under the model it was sent to', async () => {
    await countsOnce(TINY, 'invalid_argument', async () => {
      const answer = await request(tinyUrl(), { method: 'POST', body: '{"inputs": [', headers: { 'content-type': 'application/json' } });
      expect(answer.status).toBe(400);
    });
  });

  it('counts a body over --max-body-bytes (413)', async () => {
    await countsOnce(TINY, 'payload_too_large', async () => {
      const head = requestHead('POST', '/v2/models/tiny_classifier/infer', { 'Content-Length': '40000' });
      expect(await statusLine(server.httpPort, head)).toMatch(/^HTTP\/1.1 413/);
    });
  });

  it('counts a body that does not arrive in time (408)', async () => {
    await countsOnce(TINY, 'request_timeout', async () => {
      const head = requestHead('POST', '/v2/models/tiny_classifier/infer', { 'Content-Length': '100' });
      expect(await statusLine(server.httpPort, head, '{"inputs"')).toMatch(/^HTTP\/1.1 408/);
    });
  });

  it('counts budget refusals: a request that can never fit (413) and one that cannot fit now (503)', async () => {
    await countsOnce(TINY, 'payload_too_large', async () => {
      const answer = await postJson(tinyUrl(), { id: 'x'.repeat(20_000), inputs: [tinyInput] });
      expect(answer.status).toBe(413);
      expect(answer.json()['error']).toMatch(/--max-inflight-bytes 16384/);
    });
    // A slow request holds its 4.5 KB body while it runs; 13.5 KB read and decoded does not fit beside it.
    const held = postJson(`${server.url}/v2/models/slow/infer`, { id: 'x'.repeat(4_500), inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    await waitForSeries(server.url, { [IN_FLIGHT]: 1 });
    await countsOnce(TINY, 'overloaded', async () => {
      const answer = await postJson(tinyUrl(), { id: 'y'.repeat(3_000), inputs: [tinyInput] });
      expect(answer.status).toBe(503);
      expect(answer.json()['error']).toMatch(/--max-inflight-bytes 16384/);
    });
    expect((await held).status).toBe(200);
  });

  it('counts requests for unknown models under model="" version="", never under the name sent', async () => {
    await countsOnce(UNKNOWN, 'not_found', async () => {
      expect((await postJson(`${server.url}/v2/models/made_up_model/infer`, { inputs: [tinyInput] })).status).toBe(404);
    });
    await countsOnce(
      UNKNOWN,
      'not_found',
      async () => {
        const error = await client.call('ModelInfer', { model_name: 'made_up_model', inputs: [] }).catch((e: ServiceError) => e);
        expect((error as ServiceError).code).toBe(status.NOT_FOUND);
      },
      'grpc',
    );
    expect(await scrape(server.url)).not.toContain('made_up_model');
  });

  it('counts a malformed gRPC message under model="" (no model is known before it is read)', async () => {
    await countsOnce(
      UNKNOWN,
      'invalid_argument',
      async () => {
        const error = await new Promise<ServiceError | null>((resolve) =>
          client.inference.makeUnaryRequest(
            '/inference.GRPCInferenceService/ModelInfer',
            (x: Buffer) => x,
            (x: Buffer) => x,
            // Field 5 (inputs) declares 100 bytes; two follow.
            Buffer.from([0x2a, 0x64, 0x01, 0x02]),
            (e: ServiceError | null) => resolve(e),
          ),
        );
        expect(error?.code).toBe(status.INVALID_ARGUMENT);
      },
      'grpc',
    );
  });
});
