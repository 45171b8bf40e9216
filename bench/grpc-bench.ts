/**
 * npm run bench:grpc -- [--duration 5] [--repeat 3] [--connections 16] [--streams 32] [--brisk dist/src/cli.js] [--baseline <cli.js>]
 *
 * In one run: unary ModelInfer calls from h2load (prepared gRPC frames) against
 * a bare grpc-js echo server (the floor the issue names: proto-loader decodes the
 * request and encodes the answer), the same echo answering pre-encoded bytes
 * (grpc-js alone), this server on the tiny model and on the compute-heavy model,
 * and the heavy model's in-process ONNX Runtime ceiling; with --baseline, another
 * build of this server too (a checkout of an earlier revision, built), as more
 * targets in the same turns: before and after, measured alike. Every call carries one
 * row as raw contents, as tritonclient sends it; the echo answers with as many
 * bytes as this server does on the tiny model. All servers run at once and the
 * targets take turns, run by run, so that a busy neighbour weighs on all alike.
 *
 * Calls/s depend on what else the cores are doing; the servers' own CPU time per
 * call (user + system from /proc, the whole process and its main thread, over each
 * measured run) less, though a starved server handles fewer calls per turn of its
 * event loop and pays more for each. Both are noisy on a shared machine: compare
 * targets within one run, where they take turns.
 *
 * h2load sees only HTTP statuses, and a failed gRPC call is an HTTP 200 with its
 * grpc-status in the trailers. So grpc-status is counted by the server: this
 * server's brisk_requests_total by outcome, read before and after each measured
 * run (h2load's warm-up is a run of its own, before the first reading), gives
 * the calls that failed, and the throughput reported is of the calls h2load had
 * answered less those. One call to each
 * target with a grpc-js client first checks that the frame h2load sends is
 * answered OK (the echo server has no other failure: it answers every call).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Client, status } from '@grpc/grpc-js';
import { loadServiceDefinitions } from '../src/grpc/protos.js';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { projectFile } from '../src/project-files.js';
import { measureCeiling } from './ceiling.js';
import { startChild, type ChildServer } from './lib/child-server.js';
import { h2loadAvailable, runH2load, type GrpcLoadOptions, type H2loadRun } from './lib/h2load.js';
import type { LoadResult } from './lib/load.js';
import { medianRun } from './lib/report.js';
import { SCENARIOS, type Scenario } from './scenarios.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    repeat: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    streams: { type: 'string', default: '32' },
    out: { type: 'string', default: projectFile('bench', 'results', 'grpc-baseline.md') },
    // Another build of this server to measure (a baseline checkout's dist/src/cli.js, say).
    brisk: { type: 'string', default: projectFile('dist', 'src', 'cli.js') },
    baseline: { type: 'string' },
  },
});
const durationSeconds = Number(args.duration);
const repeat = Number(args.repeat);
const connections = Number(args.connections);
const streams = Number(args.streams);
const METHOD = '/inference.GRPCInferenceService/ModelInfer';

const { definition } = loadServiceDefinitions();
const serialize = (definition['inference.GRPCInferenceService'] as Record<string, { requestSerialize(v: unknown): Buffer }>)[
  'ModelInfer'
]!.requestSerialize;

function requestMessage(scenario: Scenario): Buffer {
  const values = Float32Array.from({ length: scenario.rowSize }, (_, i) => Math.sin(i) * 0.5);
  return serialize({
    model_name: scenario.model,
    inputs: [{ name: scenario.inputName, datatype: 'FP32', shape: [1, scenario.rowSize] }],
    raw_input_contents: [Buffer.from(values.buffer)],
  });
}

/** Calls a server finished, by grpc-status, by its own count. */
interface StatusTally {
  ok: number;
  /** Answered with an error status, by outcome. */
  failed: Record<string, number>;
  /** Calls whose client went away first: here, calls in flight when h2load ended a run. Not answers. */
  cancelled: number;
}

interface GrpcRun extends LoadResult {
  /** h2load's own rate: every call answered with HTTP 200, whatever its grpc-status. */
  h2loadRate: number;
  /** By the server, over the measured run; undefined where the server keeps no count (the echo server). */
  server?: StatusTally;
  /** The server's CPU time per OK call over the measured run, µs: all its threads, and its main thread; undefined without /proc. */
  cpuMicrosPerCall?: CpuPerCall;
}

interface CpuPerCall {
  process: number;
  main: number;
}

interface Row {
  target: string;
  runs: GrpcRun[];
  median: GrpcRun;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used, all threads and its main thread, from /proc; undefined elsewhere. */
function cpuSeconds(pid: number): { process: number; main: number } | undefined {
  const seconds = (path: string): number => {
    const stat = readFileSync(path, 'utf8');
    // utime and stime are fields 14 and 15 of the line, after the command in parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  };
  try {
    return { process: seconds(`/proc/${pid}/stat`), main: seconds(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined;
  }
}

/** This server from a build's cli.js, on free loopback ports, as startBrisk starts it. */
function startBriskAt(cli: string, extraArgs: readonly string[]): Promise<ChildServer> {
  const state = mkdtempSync(path.join(tmpdir(), 'brisk-bench-state-'));
  const serve = ['serve', '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--admin-port', '0', '--state-dir', state, '--drain-delay', '0'];
  return startChild(process.execPath, [cli, ...serve, ...extraArgs], (line) => line['msg'] === 'serving');
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** One call with grpc-js carrying exactly the bytes h2load sends; throws unless it is answered OK. */
function verifyCall(port: number, message: Buffer): Promise<void> {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<void>((resolve, reject) =>
    client.makeUnaryRequest(METHOD, (b: Buffer) => b, (b: Buffer) => b, message, (error) => {
      client.close();
      if (error) reject(new Error(`${METHOD} on port ${port} answered ${status[error.code]}: ${error.details}`));
      else resolve();
    }),
  );
}

/** This server's count of gRPC calls answered, by outcome (brisk_requests_total). */
async function briskTally(httpPort: number): Promise<StatusTally> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const tally: StatusTally = { ok: 0, failed: {}, cancelled: 0 };
  for (const [, labels, value] of text.matchAll(/^brisk_requests_total\{([^}]*)\} (\S+)$/gm)) {
    if (!labels!.includes('protocol="grpc"') || !labels!.includes('role="primary"')) continue;
    const outcome = /outcome="([^"]*)"/.exec(labels!)?.[1] ?? 'unknown';
    if (outcome === 'success') tally.ok += Number(value);
    else if (outcome === 'cancelled') tally.cancelled += Number(value);
    else tally.failed[outcome] = (tally.failed[outcome] ?? 0) + Number(value);
  }
  return tally;
}

const failedCount = (t: StatusTally): number => Object.values(t.failed).reduce((a, b) => a + b, 0);

/** The tally once calls cut off at the end of a run have been answered: two equal readings in a row. */
async function settledTally(read: () => Promise<StatusTally>): Promise<StatusTally> {
  let last = await read();
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const next = await read();
    if (next.ok === last.ok && failedCount(next) === failedCount(last) && next.cancelled === last.cancelled) return next;
    last = next;
  }
}

function difference(after: StatusTally, before: StatusTally): StatusTally {
  const failed: Record<string, number> = {};
  for (const [outcome, n] of Object.entries(after.failed)) {
    const delta = n - (before.failed[outcome] ?? 0);
    if (delta) failed[outcome] = delta;
  }
  return { ok: after.ok - before.ok, failed, cancelled: after.cancelled - before.cancelled };
}

interface Target {
  name: string;
  port: number;
  pid: number;
  scenario: Scenario;
  tally?: () => Promise<StatusTally>;
  runs: GrpcRun[];
}

/** CPU time per call between two readings, µs. */
function perCall(before: CpuPerCall | undefined, after: CpuPerCall | undefined, calls: number): CpuPerCall | undefined {
  if (!before || !after || calls <= 0) return undefined;
  return { process: ((after.process - before.process) * 1e6) / calls, main: ((after.main - before.main) * 1e6) / calls };
}

/** One h2load run with the server's count and CPU time around it: calls it answered, by its count where it keeps one. */
async function counted(target: Target, options: GrpcLoadOptions): Promise<{ h2: H2loadRun; server?: StatusTally; cpu?: CpuPerCall }> {
  const before = target.tally ? await settledTally(target.tally) : undefined;
  const cpuBefore = cpuSeconds(target.pid);
  const h2 = await runH2load(options);
  const server = target.tally && before ? difference(await settledTally(target.tally), before) : undefined;
  // Once the server's count has settled, every call it counts has had all its CPU time.
  const cpuAfter = cpuSeconds(target.pid);
  // Every call the server finished in the run, also those h2load stopped reading.
  const finished = server ? server.ok + failedCount(server) : h2.completed;
  const cpu = perCall(cpuBefore, cpuAfter, finished);
  return { h2, ...(server ? { server } : {}), ...(cpu ? { cpu } : {}) };
}

/** One measured run of a target, after a warm-up run of its own. */
async function measure(target: Target, round: number): Promise<void> {
  const options: GrpcLoadOptions = { host: '127.0.0.1', port: target.port, method: METHOD, message: requestMessage(target.scenario), connections, streamsPerConnection: streams, durationSeconds };
  await runH2load({ ...options, durationSeconds: 1 });
  const { h2, server, cpu } = await counted(target, options);
  // Goodput: the calls h2load had answered, less those the server says failed.
  const ok = server ? Math.max(0, h2.completed - failedCount(server)) : h2.completed;
  const run: GrpcRun = {
    connections: connections * streams,
    requests: h2.completed,
    requestsPerSecond: ok / h2.seconds,
    errors: h2.failed,
    non2xx: h2.non200 + (server ? failedCount(server) : 0),
    latencyMs: h2.latencyMs,
    h2loadRate: h2.completed / h2.seconds,
    ...(server ? { server } : {}),
    ...(cpu ? { cpuMicrosPerCall: cpu } : {}),
  };
  target.runs.push(run);
  const failures = server ? `, ${failedCount(server)} failed by the server's count` : '';
  const cpuText = cpu ? `, ${cpu.process.toFixed(1)} µs CPU a call (main thread ${cpu.main.toFixed(1)})` : '';
  process.stderr.write(`  ${target.name} run ${round + 1}: ${run.requestsPerSecond.toFixed(0)} OK calls/s${failures}, p99 ${run.latencyMs.p99.toFixed(2)} ms${cpuText}\n`);
}

async function main(): Promise<void> {
  if (!(await h2loadAvailable())) throw new Error('h2load is not installed (Debian: apt-get install nghttp2-client)');
  const machine = machineInfo();
  const loadAtStart = os.loadavg();
  const command = `npm run bench:grpc -- ${process.argv.slice(2).join(' ')}`.trim();
  const tiny = SCENARIOS['tiny']!;
  const heavy = SCENARIOS['heavy']!;

  process.stderr.write('heavy_mlp in-process ceiling\n');
  const ceiling = await measureCeiling(
    { modelPath: projectFile('models', heavy.model, '1', 'model.onnx'), inputName: heavy.inputName, rowSize: heavy.rowSize, batchSize: 128, seconds: durationSeconds },
    os.availableParallelism(),
  );

  const started: ChildServer[] = [];
  const targets: Target[] = [];
  try {
    const startEcho = async (name: string, extra: string[]): Promise<void> => {
      const echo = await startChild(process.execPath, [projectFile('dist', 'bench', 'grpc-echo-server.js'), ...extra], (l) => l['msg'] === 'serving');
      started.push(echo);
      targets.push({ name, port: echo.ready['grpcPort'] as number, pid: echo.process.pid!, scenario: tiny, runs: [] });
    };
    await startEcho('grpc-js echo, proto-loader (the floor)', []);
    await startEcho('grpc-js echo, bytes only (transport alone)', ['--bytes']);
    const startBrisk = async (cli: string, label: string): Promise<void> => {
      const brisk = await startBriskAt(cli, ['--metrics', 'true']);
      started.push(brisk);
      const tally = () => briskTally(brisk.ready['httpPort'] as number);
      for (const scenario of [tiny, heavy]) {
        targets.push({ name: `${label} ModelInfer ${scenario.model}`, port: brisk.ready['grpcPort'] as number, pid: brisk.process.pid!, scenario, tally, runs: [] });
      }
    };
    if (args.baseline) await startBrisk(args.baseline, 'brisk (baseline build)');
    await startBrisk(args.brisk, 'brisk');
    for (const target of targets) await verifyCall(target.port, requestMessage(target.scenario));
    for (let round = 0; round < repeat; round++) for (const target of targets) await measure(target, round);
  } finally {
    await Promise.all(started.map((child) => child.stop()));
  }
  const rows: Row[] = targets.map((t) => ({ target: t.name, runs: t.runs, median: medianRun(t.runs) }));

  const echoRate = rows[0]!.median.requestsPerSecond;
  /** The median over a row's runs of one CPU figure; undefined if a run has none. */
  const cpuOf = (row: Row, pick: (run: GrpcRun) => number | undefined): number | undefined => {
    const values = row.runs.map(pick);
    return values.every((v) => v !== undefined) ? median(values as number[]) : undefined;
  };
  const echoCpu = cpuOf(rows[0]!, (r) => r.cpuMicrosPerCall?.process);
  const lines = [
    '| target | OK calls/s (median) | runs min–max | p50 ms | p95 ms | p99 ms | failed calls (gRPC status, HTTP or reset) | × echo | server CPU µs/call (median; main thread) | × echo, by CPU | × ceiling |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => {
      const m = row.median;
      const rates = row.runs.map((r) => r.requestsPerSecond);
      const vsCeiling = row.target.includes('heavy') ? fmt(m.requestsPerSecond / ceiling.rowsPerSecond, 2) : '';
      const all = cpuOf(row, (r) => r.cpuMicrosPerCall?.process);
      const main = cpuOf(row, (r) => r.cpuMicrosPerCall?.main);
      const cpuCell = all !== undefined && main !== undefined ? `${fmt(all, 1)} (${fmt(main, 1)})` : '';
      const byCpu = all !== undefined && echoCpu !== undefined ? fmt(echoCpu / all, 2) : '';
      return `| ${row.target} | ${fmt(m.requestsPerSecond)} | ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))} | ${fmt(m.latencyMs.p50, 2)} | ${fmt(m.latencyMs.p95, 2)} | ${fmt(m.latencyMs.p99, 2)} | ${m.non2xx + m.errors} | ${fmt(m.requestsPerSecond / echoRate, 2)} | ${cpuCell} | ${byCpu} | ${vsCeiling} |`;
    }),
  ];
  const sum = (runs: GrpcRun[], f: (r: GrpcRun) => number) => runs.reduce((a, r) => a + f(r), 0);
  const checks = rows.map((row) => {
    const h2loadLine = `h2load logged ${fmt(sum(row.runs, (r) => r.requests))} calls answered with HTTP 200 over the ${row.runs.length} measured runs`;
    if (!row.runs.every((r) => r.server)) return `- ${row.target}: ${h2loadLine}; the echo server answers every call OK (checked with one grpc-js call).`;
    const failed: Record<string, number> = {};
    for (const r of row.runs) for (const [outcome, n] of Object.entries(r.server!.failed)) failed[outcome] = (failed[outcome] ?? 0) + n;
    const ok = sum(row.runs, (r) => r.server!.ok);
    const answered = ok + Object.values(failed).reduce((a, b) => a + b, 0);
    const failures = Object.keys(failed).length ? Object.entries(failed).map(([k, n]) => `${k}: ${fmt(n)}`).join(', ') : 'none';
    const unread = answered - sum(row.runs, (r) => r.requests);
    return (
      `- ${row.target}: ${h2loadLine}; the server counted ${fmt(ok)} OK, failed calls ${failures}. ` +
      `Of the calls in flight when a run ended, the server answered ${fmt(unread)} after h2load had stopped reading and saw ${fmt(sum(row.runs, (r) => r.server!.cancelled))} cancelled.`
    );
  });
  const report = [
    ...reportHeading('gRPC baseline: brisk vs a bare grpc-js server vs in-process ONNX Runtime', command, machine),
    `Load generator: h2load, ${connections} connections × ${streams} streams, unary ModelInfer with one row in raw_input_contents; ${durationSeconds} s per run after a 1 s warm-up run, median of ${repeat} runs, the targets taking turns run by run; on the same cores as the servers.`,
    ...(args.baseline ? [`Baseline build: \`${args.baseline}\`; this build: \`${args.brisk}\`.`] : []),
    `Load average when the runs began: ${loadAtStart.map((l) => l.toFixed(2)).join(', ')}; when they ended: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}.`,
    'Calls/s counts calls that succeeded: h2load\'s calls answered with HTTP 200, less the calls the server counted as failed (a failed gRPC call is an HTTP 200 too). Latency is h2load\'s, over every call it had answered.',
    'Server CPU is the server process\'s user + system time over each measured run (from /proc), per call it finished; "× echo, by CPU" is the proto-loader echo\'s CPU per call over the target\'s: how many calls the target serves per CPU second, relative to the echo.',
    '',
    `In-process ceiling for heavy_mlp: ${fmt(ceiling.rowsPerSecond)} rows/s (batch ${ceiling.batchSize}, ${ceiling.threads} thread(s) × ${ceiling.intraOpThreads} intra-op, all threads over one window).`,
    '',
    ...lines,
    '',
    'grpc-status, by the server\'s own count over each measured run:',
    ...checks,
    '',
  ].join('\n');
  writeFileSync(args.out, report);
  writeFileSync(args.out.replace(/\.md$/, '.json'), JSON.stringify({ command, machine, ceiling, rows }, null, 2));
  console.log(report);
}

await main();
