import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { externalTool } from '../helpers/external-tools.js';
import { scrape as scrapeServer, seriesValue as value } from '../helpers/observe.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

const promtool = externalTool('promtool');
let server: TestServer;
const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;

beforeAll(async () => {
  const repository = writeRepository([
    { entry: tiny, config: { max_batch_size: 32 } },
    { entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 1 } } },
  ]);
  server = await startServer(repository);
});

afterAll(async () => {
  await server?.stop();
});

const scrape = (): Promise<string> => scrapeServer(server.url);

const tinyInfer = (rows = 1) =>
  postJson(`${server.url}/v2/models/tiny_classifier/infer`, {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 64], data: new Array(rows * 64).fill(0.5) }],
  });

describe('/metrics', () => {
  it('counts requests, rows, batches and latencies as they are served', async () => {
    const answers = await Promise.all([...Array.from({ length: 20 }, () => tinyInfer()), tinyInfer(3)]);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const text = await scrape();
    const labels = '{model="tiny_classifier",version="1"}';
    const requestLabels = '{model="tiny_classifier",version="1",protocol="rest",role="primary"';
    expect(value(text, `brisk_requests_total${requestLabels},outcome="success"}`)).toBe(21);
    expect(value(text, `brisk_request_duration_seconds_count${requestLabels}}`)).toBe(21);
    expect(value(text, `brisk_inferences_total${labels}`)).toBe(23);
    expect(value(text, `brisk_queue_duration_seconds_count${labels}`)).toBe(21);
    const stats = (await request(`${server.url}/v2/models/tiny_classifier/stats`)).json<{ model_stats: { execution_count: number }[] }>();
    const executions = stats.model_stats[0]!.execution_count;
    expect(value(text, `brisk_executions_total${labels}`)).toBe(executions);
    expect(value(text, `brisk_batch_size_count${labels}`)).toBe(executions);
    expect(value(text, `brisk_compute_duration_seconds_count${labels}`)).toBe(executions);
    expect(value(text, `brisk_batch_size_sum${labels}`)).toBe(23);
    // Every request is in the +Inf bucket of its latency histogram.
    expect(value(text, `brisk_request_duration_seconds_bucket{le="+Inf",${requestLabels.slice(1)}}`)).toBe(21);
    expect(value(text, `brisk_model_load_seconds${labels}`)).toBeGreaterThan(0);
    expect(value(text, 'brisk_requests_in_flight')).toBe(0);
    expect(value(text, `brisk_queue_capacity${labels}`)).toBe(1024);
    expect(value(text, `brisk_request_duration_recent_seconds{model="tiny_classifier",version="1",role="primary",percentile="p99"}`)).toBeGreaterThan(0);
    expect(value(text, 'brisk_process_resident_memory_bytes')).toBeGreaterThan(1e6);
    // Busy since the previous scrape: the next scrape, right after more work, shows a share of the worker's time.
    await Promise.all(Array.from({ length: 20 }, () => tinyInfer(32)));
    const busy = value(await scrape(), `brisk_worker_busy_ratio${labels}`);
    expect(busy).toBeGreaterThan(0);
    expect(busy).toBeLessThanOrEqual(1);
  });

  it('counts refused requests by outcome', async () => {
    const slow = () =>
      postJson(`${server.url}/v2/models/slow/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    const answers = await Promise.all(Array.from({ length: 6 }, slow));
    const refused = answers.filter((a) => a.status === 503).length;
    expect(refused).toBeGreaterThan(0);
    const text = await scrape();
    expect(value(text, 'brisk_requests_total{model="slow",version="1",protocol="rest",role="primary",outcome="overloaded"}')).toBe(refused);
  });

  it('never makes a series from a name a client made up', async () => {
    await postJson(`${server.url}/v2/models/made_up_model/infer`, { inputs: [] });
    await postJson(`${server.url}/v2/models/tiny_classifier/versions/77/infer`, { inputs: [] });
    const text = await scrape();
    expect(text).not.toContain('made_up_model');
    expect(text).not.toContain('version="77"');
  });

  it.skipIf(!promtool.available)(`passes promtool check metrics${promtool.skipNote}`, async () => {
    const text = await scrape();
    expect(text).toMatch(/# TYPE brisk_request_duration_seconds histogram/);
    // promtool exits non-zero and names the problem on any format or naming error.
    execFileSync('promtool', ['check', 'metrics'], { input: text });
  });
});
