import { describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { binaryRequest } from '../helpers/binary.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer } from '../helpers/server.js';

const heavy = BUNDLED_MODELS.find((e) => e.model === 'heavy_mlp')!;
const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;

describe('a batch past its time limit', () => {
  it('fails with 500 and a clear message, its worker is replaced, and serving goes on', async () => {
    const repository = writeRepository([
      { entry: heavy, as: 'limited', config: { max_batch_size: 4096, instances: 1, batch_timeout_ms: 80 } },
      { entry: tiny },
    ]);
    const server = await startServer(repository);
    try {
      const rows = 4096;
      const big = binaryRequest([{ name: 'input', datatype: 'FP32', shape: [rows, 512], data: new Float32Array(rows * 512).fill(0.5) }]);
      const small = binaryRequest([{ name: 'input', datatype: 'FP32', shape: [1, 512], data: new Float32Array(512).fill(0.5) }]);
      const url = `${server.url}/v2/models/limited/infer`;

      const failed = await request(url, { method: 'POST', body: big.body, headers: big.headers });
      expect(failed.status).toBe(500);
      expect(failed.json()['error']).toMatch(/ran past batch_timeout_ms 80; its worker was stopped and is being replaced/);

      // Another model is untouched, and the limited one serves again once its worker is back.
      const other = await postJson(`${server.url}/v2/models/tiny_classifier/infer`, {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0) }],
      });
      expect(other.status).toBe(200);
      const recovered = await request(url, { method: 'POST', body: small.body, headers: small.headers });
      expect(recovered.status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('turns readiness off at once, answers every request in flight, then exits 0', async () => {
    const repository = writeRepository([{ entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 16 } } }]);
    const server = await startServer(repository);
    const slow = () =>
      postJson(`${server.url}/v2/models/slow/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    const inFlight = [slow(), slow(), slow()];
    await new Promise((r) => setTimeout(r, 50));
    const exited = server.stop();
    await new Promise((r) => setTimeout(r, 20));
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(503);
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(await exited).toBe(0);
    expect(server.logs.some((l) => l['msg'] === 'stopped' && l['drained'] === true)).toBe(true);
  });
});
