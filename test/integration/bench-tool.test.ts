import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/lib/load.js';
import { runBench, writeReport } from '../../src/loadtool/bench.js';
import { runRestLoad } from '../../src/loadtool/rest-load.js';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import { waitFor } from '../helpers/conditions.js';
import { tempDir, writeRepository } from '../helpers/repository.js';
import { request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  const repository = writeRepository([
    { entry: BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!, config: { max_batch_size: 64 } },
    { entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 200 } } },
    // Holds one request and refuses the rest at once with 503: a server under overload.
    { entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 1 } }, as: 'slow_refusing' },
  ]);
  server = await startServer(repository);
});

afterAll(async () => {
  await server?.stop();
});

const inferences = async (model: string): Promise<number> =>
  (await request(`${server.url}/v2/models/${model}/stats`)).json<{ model_stats: { inference_count: number }[] }>().model_stats[0]!.inference_count;

const options = { connections: 64, rows: 1, dim: 1, warmupSeconds: 0, protocol: 'rest' } as const;

describe('the bench tool, against a real server', () => {
  it('reports the requests it really sent and had answered, with percentiles from its samples', async () => {
    const before = await inferences('tiny_classifier');
    const result = await runBench({ ...options, url: server.url, model: 'tiny_classifier', mode: 'closed', loads: [4], durationSeconds: 1 });
    const point = result.points[0]!;
    // A closed loop: each of the 4 connections sent again on every answer (not a rate, which a busy machine cannot promise).
    expect(point.sent).toBeGreaterThan(4 * 4);
    expect(point.answered).toBe(point.sent);
    expect(point.outcomes).toEqual({ '200': point.sent });
    // The server counted exactly the requests the tool says it sent.
    expect((await inferences('tiny_classifier')) - before).toBe(point.sent);
    const { p50, p90, p95, p99, max } = point.latencyMs;
    expect(p50).toBeGreaterThan(0);
    expect(p50 <= p90 && p90 <= p95 && p95 <= p99 && p99 <= max).toBe(true);
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.command).toMatch(/npm run bench/);
  });

  it('stops after --requests when given a count, in both loops', async () => {
    const closed = await runBench({ ...options, url: server.url, model: 'tiny_classifier', mode: 'closed', loads: [4], durationSeconds: 60, requests: 200 });
    expect(closed.points[0]!.sent).toBe(200);
    expect(closed.points[0]!.answered).toBe(200);
    const open = await runBench({ ...options, url: server.url, model: 'tiny_classifier', mode: 'open', loads: [500], durationSeconds: 60, requests: 100 });
    expect(open.points[0]!.sent).toBe(100);
  });

  it('sends a binary-extension body from a file, as tritonclient would', async () => {
    const values = new Float32Array(64).fill(0.5);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], parameters: { binary_data_size: 256 } }] }));
    const file = path.join(tempDir('bench-input'), 'request.bin');
    writeFileSync(file, Buffer.concat([header, Buffer.from(values.buffer)]));
    const result = await runBench({ ...options, url: server.url, model: 'tiny_classifier', mode: 'closed', loads: [2], durationSeconds: 0.5, input: file, headerLength: header.length });
    expect(result.points[0]!.outcomes).toEqual({ '200': result.points[0]!.sent });
  });

  it('loads a server over gRPC too, counting every call', async () => {
    const before = await inferences('tiny_classifier');
    const result = await runBench({ ...options, protocol: 'grpc', url: server.grpcAddress, model: 'tiny_classifier', mode: 'closed', loads: [8], durationSeconds: 1 });
    const point = result.points[0]!;
    // Each of the 8 streams called again on every answer.
    expect(point.sent).toBeGreaterThan(8 * 4);
    expect(point.outcomes).toEqual({ OK: point.sent });
    expect(point.requestsPerSecond).toBeGreaterThan(0);
    expect((await inferences('tiny_classifier')) - before).toBe(point.sent);
  });

  // The work is about 22 inferences of `slow`, one at a time: 5 s alone, and up to 1.5 s each
  // (35 s) seen with the two cores shared by a dozen busy processes.
  it('counts queueing in open-loop latency when the server is too slow for the rate', { timeout: 60_000 }, async () => {
    // `slow` serves about five requests a second, one at a time.
    const closed = await runBench({ ...options, url: server.url, model: 'slow', mode: 'closed', loads: [1], durationSeconds: 1 });
    const open = await runBench({ ...options, url: server.url, model: 'slow', mode: 'open', loads: [20], durationSeconds: 60, requests: 20 });
    const service = closed.points[0]!.latencyMs.p50;
    const point = open.points[0]!;
    expect(point.sent).toBe(20);
    expect(point.answered).toBe(20);
    // Twenty requests due in 1 s and served five a second: the last waited seconds, and the
    // latency says so, because it runs from when each request was due.
    expect(point.latencyMs.p50).toBeGreaterThan(3 * service);
    expect(point.latencyMs.max).toBeGreaterThan(2000);
  });

  it('writes a JSON result, a markdown table and SVG charts', async () => {
    const result = await runBench({ ...options, url: server.url, model: 'tiny_classifier', mode: 'closed', loads: [1, 4], durationSeconds: 0.5 });
    const out = path.join(tempDir('bench'), 'run');
    const markdown = writeReport(result, out);
    expect(markdown).toMatch(/\| concurrency \| sent \| answered \| goodput req\/s \| rows\/s \| outcomes \| p50 ms \| p90 ms \| p95 ms \| p99 ms \| max ms \| other answers p50 ms \| p99 ms \|/);
    expect(JSON.parse(readFileSync(`${out}.json`, 'utf8')).points).toHaveLength(2);
    for (const chart of ['latency', 'throughput']) {
      const svg = readFileSync(`${out}-${chart}.svg`, 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L/);
    }
  });

  // Issue 12: the latency of fast 503 refusals was mixed into the percentiles, so p99
  // improved the more a server refused.
  it('keeps the latency of refusals apart from that of successes, and counts only successes as throughput', { timeout: 60_000 }, async () => {
    // Forty requests due in one second at a model that serves about five a second and queues one.
    const result = await runBench({ ...options, url: server.url, model: 'slow_refusing', mode: 'open', loads: [40], durationSeconds: 1 });
    const point = result.points[0]!;
    const successes = point.outcomes['200'] ?? 0;
    const refusals = point.outcomes['503'] ?? 0;
    expect(successes).toBeGreaterThan(0);
    expect(refusals).toBeGreaterThan(successes);
    expect(point.succeeded).toBe(successes);
    expect(point.answered).toBe(successes + refusals);
    expect(point.requestsPerSecond).toBeLessThanOrEqual(successes);
    // A success waits for the slow model (about 200 ms); a refusal comes at once.
    expect(point.latencyMs.p50).toBeGreaterThan(100);
    expect(point.errorLatencyMs.p99).toBeLessThan(point.latencyMs.p50);
    expect(writeReport(result, path.join(tempDir('bench-refusals'), 'run'))).toMatch(/\| 40 \| 40 \| \d+ \|/);
  });

  // Issue 12: the REST baselines' req/s counted every answer, 404s and 503s included.
  it('counts only 2xx answers as the baselines\' throughput, with their latency apart', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0.5) }] });
    const result = await runLoad({ url: `${server.url}/v2/models/no_such_model/infer`, connections: 2, durationSeconds: 0.5, body, headers: { 'content-type': 'application/json' } });
    expect(result.non2xx).toBeGreaterThan(0);
    expect(result.non2xx).toBe(result.requests);
    expect(result.requestsPerSecond).toBe(0);
    expect(result.latencyMs.p50).toBeNaN();
    expect(result.non2xxLatencyMs!.p50).toBeGreaterThan(0);
  });

  // Issue 12: the load tool is part of the product; the image runs it without bench/ or dev dependencies.
  it('answers `brisk bench --help` with its flags', () => {
    const help = spawnSync(process.execPath, [projectFile('dist', 'src', 'cli.js'), 'bench', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: brisk bench/);
    expect(help.stdout).toMatch(/--mode closed\|open/);
  });
});

/** A plain HTTP server on loopback whose handler decides when (or whether) to answer. */
async function holdingServer(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const http = createServer((req, res) => req.resume().on('end', () => handle(req, res)));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/v2/models/m/infer`);
  const connections = () => new Promise<number>((resolve, reject) => http.getConnections((e, n) => (e ? reject(e) : resolve(n))));
  return { url, connections, close: () => new Promise<void>((resolve) => http.close(() => resolve()).closeAllConnections()) };
}

const loop = { body: Buffer.from('{}'), headers: { 'content-type': 'application/json' }, warmupSeconds: 0, durationSeconds: 60 } as const;

// A fixed 30 s wait for answers after sending counted a slow server's answers (one a second
// under load) as "no answer": the wait now ends only when answers stop coming.
describe('the load loop, after sending', () => {
  it('waits for answers as long as they keep coming, however long that is in all', async () => {
    // One answer every 100 ms: thirty take 3 s, twice the 1.5 s the loop waits without any.
    const waiting: ServerResponse[] = [];
    const answer = setInterval(() => waiting.shift()?.end('{}'), 100);
    const http = await holdingServer((_, res) => waiting.push(res));
    try {
      const raw = await runRestLoad({ ...loop, url: http.url, mode: 'open', rate: 1000, requests: 30, concurrency: 30, connections: 30, stallSeconds: 1.5 });
      expect(raw.sent).toBe(30);
      expect(raw.outcomes).toEqual({ '200': 30 });
      expect(raw.elapsedSeconds).toBeGreaterThan(2.9);
    } finally {
      clearInterval(answer);
      await http.close();
    }
  });

  it('gives up once none has come for stallSeconds, and counts each request it gave up on once', async () => {
    const http = await holdingServer(() => undefined);
    try {
      const raw = await runRestLoad({ ...loop, url: http.url, mode: 'open', rate: 1000, requests: 5, concurrency: 5, connections: 5, stallSeconds: 0.3 });
      expect(raw.sent).toBe(5);
      expect(raw.answered).toBe(0);
      // Closing the connections afterwards fails those requests (ECONNRESET): not an outcome of the run.
      await waitFor('the tool to close its connections', async () => (await http.connections()) === 0);
      expect(raw.outcomes).toEqual({ 'no answer': 5 });
    } finally {
      await http.close();
    }
  });
});
