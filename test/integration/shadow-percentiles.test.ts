/**
 * A version's recent latency percentiles are what its clients waited for: shadow
 * copies, which wait behind every real request, are kept apart under role="shadow".
 * They used to be mixed in (issue 12, item 9).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS } from '../../src/modelgen/catalog.js';
import { scrape, seriesValue, waitForSeries } from '../helpers/observe.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  const repository = writeRepository([
    { entry: TEST_MODELS.fast, config: { max_batch_size: 8 } },
    { entry: TEST_MODELS.slow, config: { max_batch_size: 1 } },
  ]);
  // fast serves the route; every request is copied to slow.
  writeFileSync(
    path.join(repository, 'routes.json'),
    JSON.stringify({ checked: { targets: [{ model: 'fast', version: '1', weight: 100 }], shadows: [{ model: 'slow', version: '1', percent: 100 }] } }),
  );
  // Shadows are never shed for load nor timed out here (slow runs one at a time), so every copy runs.
  server = await startServer(repository, ['--shadow-max-load', '1', '--shadow-timeout-ms', '600000']);
});

afterAll(async () => {
  await server?.stop();
});

interface RecentStats {
  recent_latency_seconds: { count: number; p99: number };
  recent_shadow_latency_seconds?: { count: number; p99: number };
}

const recentOf = async (model: string): Promise<RecentStats> =>
  (await request(`${server.url}/v2/models/${model}/stats`)).json<{ model_stats: RecentStats[] }>().model_stats[0]!;

const x = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };

describe('recent latency percentiles', () => {
  it('leave shadow copies out of what a version served, and show them under role="shadow"', async () => {
    for (let i = 0; i < 3; i++) expect((await postJson(`${server.url}/v2/models/checked/infer`, x)).status).toBe(200);
    expect((await postJson(`${server.url}/v2/models/slow/infer`, x)).status).toBe(200);
    await waitForSeries(server.url, { 'brisk_shadow_compared_total{route="checked",shadow="slow/1"}': 3 });

    // slow served one client; the three copies are its shadow traffic.
    const slow = await recentOf('slow');
    expect(slow.recent_latency_seconds.count).toBe(1);
    expect(slow.recent_shadow_latency_seconds?.count).toBe(3);
    expect((await recentOf('fast')).recent_latency_seconds.count).toBe(3);
    expect((await recentOf('fast')).recent_shadow_latency_seconds).toBeUndefined();

    const text = await scrape(server.url);
    const p99 = (model: string, role: string) => seriesValue(text, `brisk_request_duration_recent_seconds{model="${model}",version="1",role="${role}",percentile="p99"}`);
    expect(p99('slow', 'shadow')).toBeGreaterThan(0);
    expect(p99('slow', 'primary')).toBeGreaterThan(0);
    expect(p99('fast', 'primary')).toBeGreaterThan(0);
    expect(text).not.toMatch(/brisk_request_duration_recent_seconds\{model="fast",version="1",role="shadow"/);
  });
});
