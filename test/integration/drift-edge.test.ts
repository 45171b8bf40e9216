/**
 * Drift edge cases against a real server (review of issue 15): clients that name their
 * outputs, the usual way with KServe clients, must still give the reference its rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftReport } from '../../src/drift/drift-report.js';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { waitFor } from '../helpers/conditions.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;
const WIDTH = 64;
const REFERENCE_ROWS = 40;

let server: TestServer;

beforeAll(async () => {
  const repository = writeRepository([
    { entry: tiny, config: { max_batch_size: 64, drift: { enabled: true, reference_rows: REFERENCE_ROWS, min_window_rows: 10, class_scores: ['probabilities'] } } },
  ]);
  server = await startServer(repository);
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const report = async (): Promise<DriftReport> => (await request(`${server.url}/v2/models/tiny_classifier/versions/1/drift`)).json<DriftReport>();

async function infer(rows: number, outputs?: { name: string }[]): Promise<void> {
  const data = Array.from({ length: rows * WIDTH }, (_, i) => ((i * 7919) % 101) / 50 - 1);
  const answer = await postJson(`${server.url}/v2/models/tiny_classifier/infer`, {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, WIDTH], data }],
    ...(outputs ? { outputs } : {}),
  });
  expect(answer.status, answer.body.toString()).toBe(200);
}

describe('drift with requests that name their outputs', () => {
  it('captures the reference from requests naming every output, then counts them in the window', async () => {
    for (let i = 0; i < REFERENCE_ROWS / 10; i++) await infer(10, [{ name: 'probabilities' }]);
    await waitFor('the reference captured', async () => (await report()).state === 'ready');
    expect((await report()).reference_rows).toBe(REFERENCE_ROWS);
    await infer(12, [{ name: 'probabilities' }]);
    await waitFor('12 rows in the window', async () => (await report()).window_rows === 12);
  });
});
