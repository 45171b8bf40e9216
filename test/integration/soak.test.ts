import { describe, expect, it } from 'vitest';
import { processRss, runSoak } from '../../bench/lib/soak.js';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { binaryRequest } from '../helpers/binary.js';
import { writeRepository } from '../helpers/repository.js';
import { request, startServer } from '../helpers/server.js';

describe('a short soak far past capacity', () => {
  it('answers every request with 200, 4xx or 503, and loses none', { timeout: 60_000 }, async () => {
    // `slow` serves about five requests a second; 200 a second is forty times that.
    const repository = writeRepository([
      { entry: TEST_MODELS.slow, as: 'tiny_classifier', config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 8 } } },
      { entry: BUNDLED_MODELS.find((e) => e.model === 'scorer')! },
    ]);
    const server = await startServer(repository);
    try {
      const result = await runSoak({
        host: '127.0.0.1',
        port: server.httpPort,
        model: 'tiny_classifier',
        validBody: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }),
        ratePerSecond: 200,
        durationSeconds: 3,
        drainSeconds: 20,
        connections: 64,
        rss: () => processRss(server.process.pid!),
      });
      expect(result.lost, JSON.stringify(result.lostReasons)).toBe(0);
      const statuses = Object.keys(result.answered).map(Number);
      expect(statuses.every((s) => s === 200 || (s >= 400 && s < 500) || s === 503), JSON.stringify(result.answered)).toBe(true);
      expect(result.answered['200']).toBeGreaterThan(0);
      expect(result.answered['503']).toBeGreaterThan(0);
      expect(result.answered['400']).toBeGreaterThan(0);
      expect(result.answered['404']).toBeGreaterThan(0);
      expect(Object.values(result.answered).reduce((a, b) => a + b, 0)).toBe(result.sent);
    } finally {
      await server.stop();
    }
  });
});

describe('memory under steady load', () => {
  it('stays bounded: a finished batch’s tensors are not kept', { timeout: 60_000 }, async () => {
    const repository = writeRepository([{ entry: TEST_MODELS.floatEcho, config: { max_batch_size: 8 } }]);
    const server = await startServer(repository);
    try {
      // 1 MiB in and 1 MiB out per request: a leak of either shows within a few hundred.
      const { body, headers } = binaryRequest([{ name: 'fp32_in', datatype: 'FP32', shape: [1, 262_144], data: new Float32Array(262_144).fill(0.5) }], {
        outputs: [{ name: 'fp32_out', parameters: { binary_data: true } }],
      });
      const send = async (count: number): Promise<void> => {
        const workers = Array.from({ length: 8 }, async (_, w) => {
          for (let i = w; i < count; i += 8) {
            const answer = await request(`${server.url}/v2/models/float_echo/infer`, { method: 'POST', body, headers });
            expect(answer.status).toBe(200);
          }
        });
        await Promise.all(workers);
      };
      await send(100);
      const warm = processRss(server.process.pid!)!;
      await send(600);
      const grown = processRss(server.process.pid!)! - warm;
      expect(grown / 2 ** 20).toBeLessThan(200);
    } finally {
      await server.stop();
    }
  });
});

