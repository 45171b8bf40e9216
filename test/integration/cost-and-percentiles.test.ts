import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS } from '../../src/modelgen/catalog.js';
import { percentile } from '../../bench/lib/load.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let spawnedAt: number;
let servingAt: number;
const PRICE_PER_HOUR = 3.6; // $0.001 a second

beforeAll(async () => {
  const repository = writeRepository([{ entry: TEST_MODELS.slow, config: { max_batch_size: 1, intra_op_threads: 1 } }]);
  spawnedAt = performance.now();
  server = await startServer(repository, ['--cost-per-hour', String(PRICE_PER_HOUR)]);
  servingAt = performance.now();
});

afterAll(async () => {
  await server?.stop();
});

interface Stats {
  inference_count: number;
  inference_stats: { compute_infer: { ns: number } };
  recent_latency_seconds: { count: number; p50: number; p95: number; p99: number };
  cost_per_1k_inferences: { compute: number; allocated: number };
}

describe('a controlled run on the slow model', () => {
  it('reports recent percentiles that agree with the client, and costs that match the formulas', async () => {
    const client: number[] = [];
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      const answer = await postJson(`${server.url}/v2/models/slow/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
      client.push((performance.now() - started) / 1000);
      expect(answer.status).toBe(200);
    }
    const statsAt = performance.now();
    const stats = (await request(`${server.url}/v2/models/slow/stats`)).json<{ model_stats: Stats[] }>().model_stats[0]!;

    // The server's time excludes the network and HTTP: a little less than the client's, never more.
    const clientP50 = percentile(Float64Array.from(client).sort(), 0.5);
    expect(stats.recent_latency_seconds.count).toBe(6);
    expect(stats.recent_latency_seconds.p50).toBeLessThan(clientP50 * 1.045);
    expect(stats.recent_latency_seconds.p50).toBeGreaterThan(clientP50 * 0.8);

    // compute: price/s × busy core-seconds / cores / thousands (one intra-op thread per batch here).
    const busySeconds = stats.inference_stats.compute_infer.ns / 1e9;
    const thousands = stats.inference_count / 1000;
    const expectedCompute = ((PRICE_PER_HOUR / 3600) * (busySeconds / os.availableParallelism())) / thousands;
    expect(stats.cost_per_1k_inferences.compute).toBeCloseTo(expectedCompute, 9);

    // allocated: the only model computing takes all elapsed time: price/s × uptime / thousands.
    const uptime = (stats.cost_per_1k_inferences.allocated * thousands) / (PRICE_PER_HOUR / 3600);
    expect(uptime).toBeGreaterThan((statsAt - servingAt) / 1000);
    expect(uptime).toBeLessThan((performance.now() - spawnedAt) / 1000);

    const metrics = (await request(`${server.url}/metrics`)).body.toString();
    const exported = Number(/brisk_cost_per_1k_inferences\{model="slow",version="1",basis="compute"\} (\S+)/.exec(metrics)?.[1]);
    expect(exported).toBeCloseTo(expectedCompute, 9);
  });
});
