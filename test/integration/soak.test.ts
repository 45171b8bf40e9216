import { describe, expect, it } from 'vitest';
import { processRss, runSoak } from '../../bench/lib/soak.js';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { writeRepository } from '../helpers/repository.js';
import { startServer } from '../helpers/server.js';

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
