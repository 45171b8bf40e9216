/**
 * The measuring parts of `npm run bench:cpu`, run for a second at a time on the real
 * server, the bare echo and ONNX Runtime: CPU read from /proc agrees with what the
 * process says it used and lands on the right thread; wrk's counts keep 2xx answers,
 * other statuses and socket errors apart; the report's arithmetic and verdicts.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChild, type ChildServer } from '../../bench/lib/child-server.js';
import { caseRow, caseTable, paired, spread, verdict } from '../../bench/lib/cpu-report.js';
import { OrtFloor } from '../../bench/lib/ort-floor.js';
import { clockTicksPerSecond, cpuBetween, parseStat, sampleCpu } from '../../bench/lib/proc-cpu.js';
import { briskCounters, measureUnderLoad, parseBriskCounters } from '../../bench/lib/server-cpu.js';
import { parseWrkOutput, runWrk, wrkAvailable, type WrkOptions } from '../../bench/lib/wrk.js';
import { requestBody, SCENARIOS } from '../../bench/scenarios.js';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import { writeRepository } from '../helpers/repository.js';
import { startServer, type TestServer } from '../helpers/server.js';

const tickUs = () => 1e6 / clockTicksPerSecond();

describe('CPU time from /proc', () => {
  it('reads utime and stime after a command name holding spaces and parentheses', () => {
    const fields = ['S', ...Array.from({ length: 10 }, (_, i) => String(i + 1)), '4242', '77', '0', '0', '20', '0', '9'];
    expect(parseStat(`1234 (a) (b c) ${fields.join(' ')}\n`)).toEqual({ comm: 'a) (b c', utimeTicks: 4242, stimeTicks: 77 });
    expect(() => parseStat('no parentheses here')).toThrow(/not a \/proc stat line/);
    expect(() => parseStat('1 (x) S 1 2')).toThrow(/no utime\/stime/);
  });

  it("agrees with process.cpuUsage for this process's CPU", () => {
    const usageBefore = process.cpuUsage();
    const before = sampleCpu(process.pid);
    const started = process.cpuUsage();
    let x = 0;
    while (process.cpuUsage(started).user < 200_000) x += Math.sqrt(x + 1);
    const after = sampleCpu(process.pid);
    const usage = process.cpuUsage(usageBefore);
    const used = cpuBetween(before, after);
    expect(x).toBeGreaterThan(0);
    expect(used.processUs).toBeGreaterThanOrEqual(200_000 - tickUs());
    expect(Math.abs(used.processUs - (usage.user + usage.system))).toBeLessThanOrEqual(2 * tickUs() + 0.05 * used.processUs);
    expect(used.mainUs).toBeLessThanOrEqual(used.processUs + tickUs());
  });

  it("charges the main thread (tid = pid) with its own work and not with a worker thread's", async () => {
    // The child burns 300 ms of CPU on its main thread, then 300 ms on a worker thread, reports
    // what process.cpuUsage says it used, and idles until killed.
    const burn = `const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
      const burnFor = (ms) => { const end = cpuMs() + ms; let x = 0; while (cpuMs() < end) x += Math.sqrt(x + 1); return x; };`;
    const workerCode = `${burn} require('node:worker_threads').parentPort.postMessage(burnFor(300));`;
    const script = `${burn}
      burnFor(300);
      const mainPhaseMs = cpuMs();
      const worker = new (require('node:worker_threads').Worker)(${JSON.stringify(workerCode)}, { eval: true });
      worker.once('message', () => {
        console.log(JSON.stringify({ mainPhaseMs, totalMs: cpuMs() }));
        setInterval(() => undefined, 60_000);
      });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
      const cpu = sampleCpu(child.pid!);
      const reported = JSON.parse(line) as { mainPhaseMs: number; totalMs: number };
      const tolerance = 2 * tickUs();
      expect(cpu.mainUs).toBeGreaterThanOrEqual(250_000);
      expect(cpu.mainUs).toBeLessThanOrEqual(reported.mainPhaseMs * 1000 + 150_000);
      expect(cpu.processUs - cpu.mainUs).toBeGreaterThanOrEqual(250_000 - tolerance);
      expect(Math.abs(cpu.processUs - reported.totalMs * 1000)).toBeLessThanOrEqual(tolerance + 0.05 * cpu.processUs);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe("the report's arithmetic", () => {
  it('takes the median and range of the rounds, leaving out rounds without a figure', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, rounds: 3 });
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, rounds: 4 });
    expect(spread([5, Number.NaN, 1])).toEqual({ median: 3, min: 1, max: 5, rounds: 2 });
    expect(spread([Number.NaN]).rounds).toBe(0);
  });

  it('compares round by round and judges the median against the goal', () => {
    expect(paired('ratio', [30, 20], [10, 10])).toEqual([3, 2]);
    expect(paired('difference', [450, 300], [290, 250])).toEqual([160, 50]);
    expect(() => paired('ratio', [1, 2], [1])).toThrow(/cannot pair/);

    // The median of the per-round ratios (2.0, 3.0, 1.5), not the ratio of the medians (20 / 10).
    const ratio = caseRow({ case: 'io', unit: 'µs', brisk: [20, 30, 15], floor: { label: 'echo', values: [10, 10, 10] }, comparison: 'ratio', goal: { atMost: 2 } });
    expect(ratio.comparison!.figure).toEqual({ median: 2, min: 1.5, max: 3, rounds: 3 });
    expect(verdict(ratio)).toBe('PASS');
    const over = caseRow({ case: 'io', unit: 'µs', brisk: [21, 30, 15], floor: { label: 'echo', values: [10, 10, 10] }, comparison: 'ratio', goal: { atMost: 2 } });
    expect(verdict(over)).toBe('FAIL');
    const latency = caseRow({ case: 'p50', unit: 'µs', brisk: [450, 400, 380], floor: { label: 'naive', values: [290, 300, 300] }, comparison: 'difference', goal: { atMost: 100 } });
    expect(latency.comparison!.figure.median).toBe(100);
    expect(verdict(latency)).toBe('PASS');
    expect(verdict(caseRow({ case: 'info', unit: 'µs', brisk: [1] }))).toBeUndefined();
    // No figure, no verdict: a round with no 2xx answer must not pass.
    expect(verdict(caseRow({ case: 'x', unit: 'µs', brisk: [Number.NaN], floor: { label: 'f', values: [1] }, comparison: 'ratio', goal: { atMost: 2 } }))).toBeUndefined();

    const table = caseTable([ratio, latency]);
    expect(table).toContain('| io | 20.0 µs (15.0–30.0) | 10.0 µs (10.0–10.0) echo | 2.00× (1.50–3.00) | ≤ 2.0× | PASS |');
    expect(table).toContain('| +100 µs (+80 to +160) | ≤ +100 µs | PASS |');
  });

  it('gives a baseline build its before figures, after/before round by round, and its own comparison with the floor', () => {
    // A ratio over a zero (an idle thread that read no tick) is no figure, not Infinity.
    expect(paired('ratio', [5, 0], [0, 0])).toEqual([Number.NaN, Number.NaN]);

    const row = caseRow({
      case: 'io',
      unit: 'µs',
      brisk: [20, 30, 15],
      floor: { label: 'echo', values: [10, 10, 10] },
      comparison: 'ratio',
      goal: { atMost: 2 },
      averageBatch: [100, 110, 120],
      baseline: { values: [40, 40, 60], averageBatch: [80, 90, 100] },
    });
    expect(row.baseline!.figure).toEqual({ median: 40, min: 40, max: 60, rounds: 3 });
    // after/before per round: 20/40, 30/40, 15/60; the median of those, not 20 / 40 from the medians.
    expect(row.baseline!.change).toEqual({ median: 0.5, min: 0.25, max: 0.75, rounds: 3 });
    expect(row.baseline!.comparison).toEqual({ kind: 'ratio', figure: { median: 4, min: 4, max: 6, rounds: 3 } });
    expect(row.baseline!.averageBatch!.median).toBe(90);
    // The verdict stays brisk's (after), whatever the baseline's.
    expect(verdict(row)).toBe('PASS');
    const latency = caseRow({
      case: 'p50',
      unit: 'µs',
      brisk: [300, 320],
      floor: { label: 'naive', values: [100, 100] },
      comparison: 'difference',
      goal: { atMost: 100 },
      baseline: { values: [450, 500] },
    });
    expect(latency.baseline!.comparison!.figure.median).toBe(375);
    expect(verdict(latency)).toBe('FAIL');

    const table = caseTable([row, latency, caseRow({ case: 'info', unit: 'µs', brisk: [1, 2], baseline: { values: [2, 2] } })]);
    expect(table).toContain('| case | before | after | after/before | floor | before vs floor | after vs floor | goal | pass/fail | avg batch before | avg batch after |');
    expect(table).toContain('| io | 40.0 µs (40.0–60.0) | 20.0 µs (15.0–30.0) | 0.50× (0.25–0.75) | 10.0 µs (10.0–10.0) echo | 4.00× (4.00–6.00) | 2.00× (1.50–3.00) | ≤ 2.0× | PASS | 90.0 (80.0–100.0) | 110.0 (100.0–120.0) |');
    expect(table).toContain('| p50 | 475 µs (450–500) | 310 µs (300–320) | 0.65× (0.64–0.67) | 100 µs (100–100) naive | +375 µs (+350 to +400) | +210 µs (+200 to +220) | ≤ +100 µs | FAIL |  |  |');
    expect(table).toContain('| info | 2.0 µs (2.0–2.0) | 1.5 µs (1.0–2.0) | 0.75× (0.50–1.00) |  |  |  |  |  |  |  |');
    // Without a baseline in the rows, the table keeps its columns.
    expect(caseTable([caseRow({ case: 'io', unit: 'µs', brisk: [1] })])).toMatch(/^\| case \| brisk \| floor \|/);
  });

  it("reads the model's counters from the exposition, whatever the label order", () => {
    const text = [
      '# HELP brisk_inferences_total Rows inferred.',
      'brisk_inferences_total{model="tiny_classifier",version="1"} 1200',
      'brisk_inferences_total{model="heavy_mlp",version="1"} 99',
      'brisk_executions_total{version="1",model="tiny_classifier"} 40',
      'brisk_requests_total{model="tiny_classifier",version="1",protocol="rest",role="primary",outcome="success"} 1100',
      'brisk_requests_total{model="tiny_classifier",version="1",protocol="rest",role="primary",outcome="overloaded"} 7',
      'brisk_requests_total{model="tiny_classifier",version="1",protocol="grpc",role="primary",outcome="success"} 100',
      'brisk_requests_total{model="tiny_classifier",version="1",protocol="rest",role="shadow",outcome="success"} 5',
    ].join('\n');
    expect(parseBriskCounters(text, 'tiny_classifier')).toEqual({ inferences: 1200, executions: 40, restOk: 1100 });
    expect(parseBriskCounters(text, 'absent')).toEqual({ inferences: 0, executions: 0, restOk: 0 });
  });

  it('refuses wrk output without its summary line', () => {
    expect(() => parseWrkOutput('Running 1s test @ http://x\n')).toThrow(/no summary/);
  });
});

const wrk = await wrkAvailable();
if (!wrk) console.warn('skipping the bench:cpu load tests: wrk is not installed (Debian: apt-get install wrk)');

describe.skipIf(!wrk)(`bench:cpu's load, one second at a time${wrk ? '' : ' (skipped: wrk is not installed)'}`, () => {
  let server: TestServer;
  let echo: ChildServer;
  const tiny = SCENARIOS['tiny']!;
  const { body, headers } = requestBody(tiny);
  const load = (port: number, path: string, connections = 16): WrkOptions => ({
    url: `http://127.0.0.1:${port}${path}`,
    body,
    headers,
    connections,
    threads: 1,
    seconds: 1,
  });

  beforeAll(async () => {
    const repository = writeRepository([{ entry: BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!, config: { max_batch_size: 64 } }]);
    [server, echo] = await Promise.all([
      startServer(repository),
      startChild(process.execPath, [projectFile('dist', 'bench', 'bare-uws-echo.js')], (l) => l['msg'] === 'serving'),
    ]);
  });

  afterAll(async () => {
    await Promise.all([server?.stop(), echo?.stop()]);
  });

  it("gives the server's CPU per 2xx answer, its batch size, and a count the server agrees with", async () => {
    const figures = await measureUnderLoad(server.process.pid!, load(server.httpPort, '/v2/models/tiny_classifier/infer'), () =>
      briskCounters(server.httpPort, 'tiny_classifier'),
    );
    expect(figures.ok).toBeGreaterThan(100);
    expect(figures.non2xx).toBe(0);
    expect(figures.socketErrors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
    expect(figures.mainUsPerOk).toBeGreaterThan(0);
    expect(figures.mainUsPerOk).toBeLessThanOrEqual(figures.processUsPerOk);
    expect(figures.mainBusy).toBeGreaterThan(0);
    expect(figures.mainBusy).toBeLessThanOrEqual(1.05);
    // The server finished every request wrk counted, and at most one more per connection.
    expect(figures.serverOk).toBeGreaterThanOrEqual(figures.ok);
    expect(figures.serverOk).toBeLessThanOrEqual(figures.ok + 16);
    expect(figures.averageBatch).toBeGreaterThanOrEqual(1);
    expect(figures.averageBatch).toBeLessThanOrEqual(64);
    expect(figures.latencyUs.p50).toBeGreaterThan(0);
    expect(figures.latencyUs.p50).toBeLessThanOrEqual(figures.latencyUs.p99);
  });

  it('counts answers other than 2xx apart, and gives no CPU per request without a 2xx', async () => {
    const figures = await measureUnderLoad(server.process.pid!, load(server.httpPort, '/v2/models/no_such_model/infer'));
    expect(figures.ok).toBe(0);
    expect(figures.non2xx).toBeGreaterThan(100);
    expect(figures.mainUsPerOk).toBeNaN();
    expect(figures.processUsPerOk).toBeNaN();
  });

  it('counts connections the server drops as socket errors, not answers', async () => {
    // Accepts every connection (wrk first checks that it can connect) and closes it unanswered.
    const dropping = createServer((socket) => socket.destroy());
    const port = await new Promise<number>((resolve) => dropping.listen(0, '127.0.0.1', () => resolve((dropping.address() as { port: number }).port)));
    try {
      const run = await runWrk(load(port, '/', 2));
      expect(run.answered).toBe(0);
      expect(run.ok).toBe(0);
      expect(run.socketErrors.read + run.socketErrors.connect).toBeGreaterThan(0);
    } finally {
      await new Promise((resolve) => dropping.close(resolve));
    }
  });

  it('fails, saying why, when nothing listens at the start', async () => {
    const probe = createServer();
    const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port)));
    await new Promise((resolve) => probe.close(resolve));
    await expect(runWrk(load(port, '/', 2))).rejects.toThrow(/unable to connect/);
  });

  it('has a bare echo that answers each POST with its body, at a fraction of the CPU', async () => {
    const response = await fetch(`http://127.0.0.1:${echo.ready['httpPort'] as number}/anything`, { method: 'POST', body, headers });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(Buffer.from(await response.arrayBuffer()).equals(body)).toBe(true);

    const echoed = await measureUnderLoad(echo.process.pid!, load(echo.ready['httpPort'] as number, '/v2/models/tiny_classifier/infer'));
    const served = await measureUnderLoad(server.process.pid!, load(server.httpPort, '/v2/models/tiny_classifier/infer'));
    expect(echoed.ok).toBeGreaterThan(100);
    expect(echoed.non2xx).toBe(0);
    expect(echoed.mainUsPerOk).toBeGreaterThan(0);
    expect(echoed.averageBatch).toBeUndefined();
    // The floor is a floor: transport alone costs less than transport plus serving a model.
    expect(echoed.mainUsPerOk).toBeLessThan(served.mainUsPerOk);
  });
});

describe('the ONNX Runtime floor', () => {
  it('gives CPU per row by batch size, cheaper per row in a batch than alone', async () => {
    const repository = writeRepository([{ entry: BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')! }]);
    const floor = await OrtFloor.open(`${repository}/tiny_classifier/1/model.onnx`, 'input', 64);
    try {
      const alone = await floor.measure(1, 0.3);
      const batched = await floor.measure(32, 0.3);
      expect(alone.rows).toBeGreaterThan(0);
      expect(batched.rows % 32).toBe(0);
      expect(alone.cpuUsPerRow).toBeGreaterThan(0);
      expect(batched.cpuUsPerRow).toBeLessThan(alone.cpuUsPerRow);
      expect(batched.wallUsPerRow).toBeGreaterThan(0);
    } finally {
      await floor.release();
    }
  });
});
