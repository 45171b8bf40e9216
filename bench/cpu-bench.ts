/**
 * npm run bench:cpu -- [--rounds 5] [--seconds 5] [--connections 256] [--wrk-threads 1] [--wrk-cpu last|none|<n>]
 *                      [--batch-sizes 1,8,32,64,128] [--floor-seconds 1] [--idle-seconds 2] [--warmup 2] [--out FILE]
 *                      [--baseline DIR]
 *
 * Issue 13's measuring stick: the CPU this server spends per request, against what
 * the same work costs at its floor, in one run. The subjects alternate round by
 * round, so drift on a shared machine falls on all of them alike:
 *  - tiny_classifier, JSON, wrk at saturation: the main (I/O) thread's CPU per 2xx
 *    answer, against a bare uWebSockets.js echo's (bench/bare-uws-echo.ts);
 *  - heavy_mlp, binary extension, wrk at saturation: the whole process's CPU per
 *    inference, against ONNX Runtime in this process on one intra-op thread at its
 *    cheapest batch size (bench/lib/ort-floor.ts);
 *  - one request at a time (wrk -c1), tiny JSON: p50 and p99 against the naive
 *    server (bench/naive-server.ts);
 *  - the server idle: CPU a second with no load.
 * With --baseline DIR, a second brisk from another checkout's build (DIR/dist, serving
 * DIR/models) runs beside this tree's in every brisk case, back to back with it, and the
 * report gives its figures as "before", this tree's as "after", and after/before.
 * CPU time is per thread from /proc (bench/lib/proc-cpu.ts); every figure is the
 * median of the rounds with their range, and comparisons are made round by round.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { projectFile } from '../src/project-files.js';
import { startBrisk, startChild, type ChildServer } from './lib/child-server.js';
import { caseRow, caseTable, formatChange, formatSpread, paired, spread, verdict, type CaseRow, type Spread } from './lib/cpu-report.js';
import { bestFloor, OrtFloor, type FloorPoint } from './lib/ort-floor.js';
import { clockTicksPerSecond, cpuBetween, sampleCpu } from './lib/proc-cpu.js';
import { briskCounters, measureUnderLoad, socketErrorCount, type LoadFigures } from './lib/server-cpu.js';
import { runWrk, wrkAvailable, type WrkOptions } from './lib/wrk.js';
import { requestBody, SCENARIOS, type Scenario } from './scenarios.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '256' },
    'wrk-threads': { type: 'string', default: '1' },
    'wrk-cpu': { type: 'string', default: 'last' },
    'batch-sizes': { type: 'string', default: '1,8,32,64,128' },
    'floor-seconds': { type: 'string', default: '1' },
    'idle-seconds': { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2' },
    out: { type: 'string', default: projectFile('bench', 'results', 'cpu.md') },
    baseline: { type: 'string' },
  },
});

function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a whole number of at least 1; got ${JSON.stringify(value)}`);
  return n;
}

function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new Error(`--${flag} must be a number above 0; got ${JSON.stringify(value)}`);
  return n;
}

const cores = os.availableParallelism();
const settings = {
  rounds: positiveInteger('rounds', args.rounds),
  seconds: positiveInteger('seconds', args.seconds),
  connections: positiveInteger('connections', args.connections),
  wrkThreads: positiveInteger('wrk-threads', args['wrk-threads']),
  batchSizes: args['batch-sizes'].split(',').map((b) => positiveInteger('batch-sizes', b)),
  floorSeconds: positiveNumber('floor-seconds', args['floor-seconds']),
  idleSeconds: positiveNumber('idle-seconds', args['idle-seconds']),
  warmupSeconds: positiveInteger('warmup', args.warmup),
  // One wrk thread on a core of its own keeps its placement the same for every subject.
  wrkCpu: args['wrk-cpu'] === 'none' ? undefined : args['wrk-cpu'] === 'last' ? (cores > 1 ? cores - 1 : undefined) : Number(args['wrk-cpu']),
};
if (settings.wrkCpu !== undefined && !(Number.isInteger(settings.wrkCpu) && settings.wrkCpu >= 0 && settings.wrkCpu < cores)) {
  throw new Error(`--wrk-cpu must be last, none or a core from 0 to ${cores - 1}; got ${JSON.stringify(args['wrk-cpu'])}`);
}

/** The checkout whose build is "before": its CLI and its model repository must be there, built. */
function baselineCheckout(dir: string): { dir: string; cli: string; models: string } {
  const root = path.resolve(dir);
  const cli = path.join(root, 'dist', 'src', 'cli.js');
  const models = path.join(root, 'models');
  if (!existsSync(cli)) throw new Error(`--baseline ${dir}: no ${cli} (build that checkout first: npx tsc -p .)`);
  if (!existsSync(models)) throw new Error(`--baseline ${dir}: no ${models} (build its models first: node dist/src/cli.js models)`);
  return { dir: root, cli, models };
}
const baseline = args.baseline === undefined ? undefined : baselineCheckout(args.baseline);

/** A checkout's short revision, +dirty with uncommitted changes to tracked files. */
function revisionOf(dir: string): string {
  try {
    const revision = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    return dirty ? `${revision}+dirty` : revision;
  } catch {
    return 'unknown';
  }
}

const tiny = SCENARIOS['tiny']!;
const heavy = SCENARIOS['heavy']!;
const modelFile = (scenario: Scenario): string => projectFile('models', scenario.model, '1', 'model.onnx');
const httpPort = (server: ChildServer): number => server.ready['httpPort'] as number;
/** The model's config.json as brisk reads it (null: none, defaults): what a change to instances or threads shows up in. */
const configOf = (scenario: Scenario, models = projectFile('models')): unknown => {
  const file = path.join(models, scenario.model, 'config.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
};
const configText = (scenario: Scenario, models?: string): string => {
  const config = configOf(scenario, models);
  return config === null ? '(no config.json: defaults)' : `\`${JSON.stringify(config)}\``;
};

interface Servers {
  brisk: ChildServer;
  /** The --baseline build's brisk, when there is one. */
  baseline?: ChildServer;
  echo: ChildServer;
  naive: ChildServer;
  floor: OrtFloor;
}

/** wrk options for a scenario's body against a server. */
function load(server: ChildServer, scenario: Scenario, connections: number, seconds = settings.seconds): WrkOptions {
  const { body, headers } = requestBody(scenario);
  return {
    url: `http://127.0.0.1:${httpPort(server)}/v2/models/${scenario.model}/infer`,
    body,
    headers,
    connections,
    threads: Math.min(settings.wrkThreads, connections),
    seconds,
    cpu: settings.wrkCpu,
  };
}

/** A brisk (this tree's or the baseline's) under load, with its counters read around the run. */
const briskLoad = (server: ChildServer, scenario: Scenario, connections: number): Promise<LoadFigures> =>
  measureUnderLoad(server.process.pid!, load(server, scenario, connections), () => briskCounters(httpPort(server), scenario.model));

interface IdleFigures {
  processUsPerSecond: number;
  mainUsPerSecond: number;
}

async function idle(server: ChildServer): Promise<IdleFigures> {
  const before = sampleCpu(server.process.pid!);
  await new Promise((r) => setTimeout(r, settings.idleSeconds * 1000));
  const cpu = cpuBetween(before, sampleCpu(server.process.pid!));
  return { processUsPerSecond: (cpu.processUs * 1e6) / cpu.wallUs, mainUsPerSecond: (cpu.mainUs * 1e6) / cpu.wallUs };
}

interface Round {
  round: number;
  /** The order the subjects ran in. */
  order: string[];
  tinyBrisk?: LoadFigures;
  tinyEcho?: LoadFigures;
  heavyBrisk?: LoadFigures;
  floor?: FloorPoint[];
  loneBrisk?: LoadFigures;
  loneNaive?: LoadFigures;
  idle?: IdleFigures;
  /** The --baseline build's brisk in the same cases. */
  tinyBaseline?: LoadFigures;
  heavyBaseline?: LoadFigures;
  loneBaseline?: LoadFigures;
  idleBaseline?: IdleFigures;
}

/** A subject's run in a round: records its figures in the round and says them in a line. */
type Step = [name: string, run: (round: Round) => Promise<string>];

const perRequest = (l: LoadFigures, what: 'main' | 'process'): string =>
  `${fmt(l.okPerSecond)} 2xx/s, ${what} ${fmt(what === 'main' ? l.mainUsPerOk : l.processUsPerOk, 1)} µs/req` +
  (l.averageBatch === undefined ? '' : `, batch ${fmt(l.averageBatch, 1)}`);

/**
 * Each comparison's two subjects run back to back, first one then the other first in
 * alternate rounds; the comparisons themselves rotate. So a pair is measured seconds
 * apart, and no subject always comes first or after the same one. A baseline runs on
 * the other side of this tree's brisk from the floor (before, brisk, floor; reversed
 * in alternate rounds), so brisk is back to back with both the things it is held against.
 */
function schedule(servers: Servers, index: number): Step[][] {
  // The baseline build's brisk (the module's `baseline` is its checkout).
  const { brisk, baseline: prior } = servers;
  const beside = (subject: Step, before: Step | undefined): Step[] => (before ? [before, subject] : [subject]);
  const groups: Step[][] = [
    [
      ...beside(
        ['brisk tiny JSON', async (r) => perRequest((r.tinyBrisk = await briskLoad(brisk, tiny, settings.connections)), 'main')],
        prior && ['baseline tiny JSON', async (r) => perRequest((r.tinyBaseline = await briskLoad(prior, tiny, settings.connections)), 'main')],
      ),
      ['bare uWS echo', async (r) => perRequest((r.tinyEcho = await measureUnderLoad(servers.echo.process.pid!, load(servers.echo, tiny, settings.connections))), 'main')],
    ],
    [
      ...beside(
        ['brisk heavy binary', async (r) => perRequest((r.heavyBrisk = await briskLoad(brisk, heavy, settings.connections)), 'process')],
        prior && ['baseline heavy binary', async (r) => perRequest((r.heavyBaseline = await briskLoad(prior, heavy, settings.connections)), 'process')],
      ),
      [
        'ONNX Runtime floor',
        async (r) => {
          const points: FloorPoint[] = [];
          for (const batchSize of settings.batchSizes) points.push(await servers.floor.measure(batchSize, settings.floorSeconds));
          r.floor = points;
          return `${points.map((p) => `b${p.batchSize} ${fmt(p.cpuUsPerRow, 1)}`).join(', ')} µs/row`;
        },
      ],
    ],
    [
      ...beside(
        ['brisk lone request', async (r) => `p50 ${fmt((r.loneBrisk = await briskLoad(brisk, tiny, 1)).latencyUs.p50)} µs`],
        prior && ['baseline lone request', async (r) => `p50 ${fmt((r.loneBaseline = await briskLoad(prior, tiny, 1)).latencyUs.p50)} µs`],
      ),
      ['naive lone request', async (r) => `p50 ${fmt((r.loneNaive = await measureUnderLoad(servers.naive.process.pid!, load(servers.naive, tiny, 1))).latencyUs.p50)} µs`],
    ],
    beside(
      ['brisk idle', async (r) => `${fmt((r.idle = await idle(brisk)).processUsPerSecond / 1000, 1)} ms CPU/s`],
      prior && ['baseline idle', async (r) => `${fmt((r.idleBaseline = await idle(prior)).processUsPerSecond / 1000, 1)} ms CPU/s`],
    ),
  ];
  const rotated = [...groups.slice(index % groups.length), ...groups.slice(0, index % groups.length)];
  return rotated.map((group) => (index % 2 === 1 ? [...group].reverse() : group));
}

async function warmUp(servers: Servers): Promise<void> {
  const seconds = settings.warmupSeconds;
  process.stderr.write(`warm-up: ${seconds} s per server and body\n`);
  await runWrk(load(servers.brisk, tiny, settings.connections, seconds));
  if (servers.baseline) await runWrk(load(servers.baseline, tiny, settings.connections, seconds));
  await runWrk(load(servers.echo, tiny, settings.connections, seconds));
  await runWrk(load(servers.brisk, heavy, settings.connections, seconds));
  if (servers.baseline) await runWrk(load(servers.baseline, heavy, settings.connections, seconds));
  await runWrk(load(servers.naive, tiny, 1, seconds));
}

async function measureRounds(servers: Servers): Promise<Round[]> {
  const rounds: Round[] = [];
  for (let index = 0; index < settings.rounds; index++) {
    const round: Round = { round: index + 1, order: [] };
    for (const [name, run] of schedule(servers, index).flat()) {
      round.order.push(name);
      process.stderr.write(`round ${index + 1} ${name}: ${await run(round)}\n`);
    }
    rounds.push(round);
  }
  return rounds;
}

const column = <T>(rounds: readonly Round[], pick: (r: Round) => T | undefined): T[] => rounds.map((r) => pick(r)!);

function summarise(rounds: readonly Round[]): { rows: CaseRow[]; floorByBatch: { batchSize: number; cpuUsPerRow: ReturnType<typeof spread> }[] } {
  const best = column(rounds, (r) => bestFloor(r.floor!));
  const bestBatches = [...new Set(best.map((p) => p.batchSize))].join(', ');
  const tinyBatch = column(rounds, (r) => r.tinyBrisk!.averageBatch!);
  const heavyBatch = column(rounds, (r) => r.heavyBrisk!.averageBatch!);
  const loneBatch = column(rounds, (r) => r.loneBrisk!.averageBatch!);
  /** The baseline's same figure in the same rounds, when the run had one. */
  const before = (pick: (r: Round) => LoadFigures | undefined, figure: (l: LoadFigures) => number) =>
    baseline && { values: column(rounds, (r) => figure(pick(r)!)), averageBatch: column(rounds, (r) => pick(r)!.averageBatch!) };
  const c = settings.connections;
  const rows = [
    caseRow({
      case: `tiny JSON, c=${c}: I/O (main) thread CPU per request`,
      unit: 'µs',
      brisk: column(rounds, (r) => r.tinyBrisk!.mainUsPerOk),
      floor: { label: 'bare uWS echo', values: column(rounds, (r) => r.tinyEcho!.mainUsPerOk) },
      comparison: 'ratio',
      goal: { atMost: 2.0 },
      averageBatch: tinyBatch,
      baseline: before((r) => r.tinyBaseline, (l) => l.mainUsPerOk),
    }),
    caseRow({
      case: `tiny JSON, c=${c}: whole-process CPU per request`,
      unit: 'µs',
      brisk: column(rounds, (r) => r.tinyBrisk!.processUsPerOk),
      floor: { label: 'bare uWS echo', values: column(rounds, (r) => r.tinyEcho!.processUsPerOk) },
      comparison: 'ratio',
      averageBatch: tinyBatch,
      baseline: before((r) => r.tinyBaseline, (l) => l.processUsPerOk),
    }),
    caseRow({
      case: `heavy binary, c=${c}: whole-process CPU per inference`,
      unit: 'µs',
      brisk: column(rounds, (r) => r.heavyBrisk!.processUsPerOk),
      floor: { label: `ONNX Runtime, 1 thread, best batch (${bestBatches})`, values: best.map((p) => p.cpuUsPerRow) },
      comparison: 'ratio',
      goal: { atMost: 1.3 },
      averageBatch: heavyBatch,
      baseline: before((r) => r.heavyBaseline, (l) => l.processUsPerOk),
    }),
    caseRow({
      case: `heavy binary, c=${c}: main thread CPU per inference`,
      unit: 'µs',
      brisk: column(rounds, (r) => r.heavyBrisk!.mainUsPerOk),
      averageBatch: heavyBatch,
      baseline: before((r) => r.heavyBaseline, (l) => l.mainUsPerOk),
    }),
    caseRow({
      case: 'lone request (c=1), tiny JSON: p50 latency',
      unit: 'µs',
      brisk: column(rounds, (r) => r.loneBrisk!.latencyUs.p50),
      floor: { label: 'naive server', values: column(rounds, (r) => r.loneNaive!.latencyUs.p50) },
      comparison: 'difference',
      goal: { atMost: 100 },
      averageBatch: loneBatch,
      baseline: before((r) => r.loneBaseline, (l) => l.latencyUs.p50),
    }),
    caseRow({
      case: 'lone request (c=1), tiny JSON: p99 latency',
      unit: 'µs',
      brisk: column(rounds, (r) => r.loneBrisk!.latencyUs.p99),
      floor: { label: 'naive server', values: column(rounds, (r) => r.loneNaive!.latencyUs.p99) },
      comparison: 'difference',
      averageBatch: loneBatch,
      baseline: before((r) => r.loneBaseline, (l) => l.latencyUs.p99),
    }),
  ];
  const floorByBatch = settings.batchSizes.map((batchSize) => ({
    batchSize,
    cpuUsPerRow: spread(rounds.map((r) => r.floor!.find((p) => p.batchSize === batchSize)!.cpuUsPerRow)),
  }));
  return { rows, floorByBatch };
}

/** Per subject: throughput, how busy the server was, what it refused or failed. */
function detailTable(rounds: readonly Round[]): string {
  // With a baseline, each brisk row is this tree's ("after"), the baseline's ("before") beside it.
  const brisk = baseline ? 'brisk after' : 'brisk';
  const before = (name: string, pick: (r: Round) => LoadFigures): [string, (r: Round) => LoadFigures][] => (baseline ? [[name, pick]] : []);
  const subjects: [string, (r: Round) => LoadFigures][] = [
    ...before(`brisk before, tiny JSON, c=${settings.connections}`, (r) => r.tinyBaseline!),
    [`${brisk}, tiny JSON, c=${settings.connections}`, (r) => r.tinyBrisk!],
    [`bare uWS echo, tiny JSON, c=${settings.connections}`, (r) => r.tinyEcho!],
    ...before(`brisk before, heavy binary, c=${settings.connections}`, (r) => r.heavyBaseline!),
    [`${brisk}, heavy binary, c=${settings.connections}`, (r) => r.heavyBrisk!],
    ...before('brisk before, tiny JSON, c=1', (r) => r.loneBaseline!),
    [`${brisk}, tiny JSON, c=1`, (r) => r.loneBrisk!],
    ['naive server, tiny JSON, c=1', (r) => r.loneNaive!],
  ];
  const lines = [
    '| subject | 2xx/s | main thread busy | process cores busy | main µs/req | process µs/req | p50 µs | p99 µs | non-2xx | socket errors | server-counted successes − wrk 2xx |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, pick] of subjects) {
    const runs = rounds.map(pick);
    const s = (f: (l: LoadFigures) => number, digits = 1) => formatSpread(spread(runs.map(f)), digits);
    const total = (f: (l: LoadFigures) => number) => fmt(runs.reduce((a, l) => a + f(l), 0));
    const counted = runs.every((l) => l.serverOk !== undefined) ? total((l) => l.serverOk! - l.ok) : 'n/a';
    lines.push(
      `| ${name} | ${s((l) => l.okPerSecond, 0)} | ${s((l) => l.mainBusy * 100, 0)} % | ${s((l) => l.processCores, 2)} | ${s((l) => l.mainUsPerOk)} | ${s((l) => l.processUsPerOk)} | ${s((l) => l.latencyUs.p50, 0)} | ${s((l) => l.latencyUs.p99, 0)} | ${total((l) => l.non2xx)} | ${total((l) => socketErrorCount(l.socketErrors))} | ${counted} |`,
    );
  }
  return lines.join('\n');
}

const isServing = (line: Record<string, unknown>) => line['msg'] === 'serving';

/** The baseline checkout's brisk with the flags startBrisk gives this tree's (child-server.ts), serving its own models/. */
function startBaseline(checkout: NonNullable<typeof baseline>): Promise<ChildServer> {
  return startChild(
    process.execPath,
    [
      checkout.cli, 'serve', '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--admin-port', '0',
      '--state-dir', mkdtempSync(path.join(os.tmpdir(), 'brisk-bench-state-')),
      '--drain-delay', '0', '--model-repository', checkout.models,
    ],
    isServing,
  );
}

async function startServers(): Promise<Servers> {
  const brisk = await startBrisk();
  const before = baseline && (await startBaseline(baseline));
  const echo = await startChild(process.execPath, [projectFile('dist', 'bench', 'bare-uws-echo.js')], isServing);
  const naive = await startChild(process.execPath, [projectFile('dist', 'bench', 'naive-server.js'), modelFile(tiny), tiny.model], isServing);
  const floor = await OrtFloor.open(modelFile(heavy), heavy.inputName, heavy.rowSize);
  return { brisk, baseline: before, echo, naive, floor };
}

async function main(): Promise<void> {
  if (!(await wrkAvailable())) throw new Error('wrk is not installed (Debian: apt-get install wrk)');
  const machine = machineInfo();
  const command = `npm run bench:cpu -- ${process.argv.slice(2).join(' ')}`.trim();
  const loadBefore = os.loadavg()[0]!;
  const servers = await startServers();
  let rounds: Round[];
  try {
    await warmUp(servers);
    rounds = await measureRounds(servers);
  } finally {
    await Promise.all([servers.brisk.stop(), servers.baseline?.stop(), servers.echo.stop(), servers.naive.stop(), servers.floor.release()]);
  }
  const loadAfter = os.loadavg()[0]!;
  const { rows, floorByBatch } = summarise(rounds);
  const idleMs = (pick: (r: Round) => IdleFigures, thread: keyof IdleFigures): number[] => rounds.map((r) => pick(r)[thread] / 1000);
  const idle = {
    process: spread(idleMs((r) => r.idle!, 'processUsPerSecond')),
    main: spread(idleMs((r) => r.idle!, 'mainUsPerSecond')),
  };
  // The baseline's idle CPU and after/before round by round (a round where the baseline read 0 ticks gives no ratio).
  const idleBefore = baseline && {
    process: spread(idleMs((r) => r.idleBaseline!, 'processUsPerSecond')),
    main: spread(idleMs((r) => r.idleBaseline!, 'mainUsPerSecond')),
    processChange: spread(paired('ratio', idleMs((r) => r.idle!, 'processUsPerSecond'), idleMs((r) => r.idleBaseline!, 'processUsPerSecond'))),
    mainChange: spread(paired('ratio', idleMs((r) => r.idle!, 'mainUsPerSecond'), idleMs((r) => r.idleBaseline!, 'mainUsPerSecond'))),
  };
  const idleFigures = (s: { process: Spread; main: Spread }) =>
    `${formatSpread(s.process, 1)} ms CPU a second for the whole process, main thread ${formatSpread(s.main, 1)} ms`;
  const tick = `(read in clock ticks: ${fmt(1000 / clockTicksPerSecond() / settings.idleSeconds, 1)} ms a second is one tick)`;
  const baselineRevision = baseline && revisionOf(baseline.dir);
  const pinning =
    settings.wrkCpu === undefined
      ? 'wrk is not pinned (--wrk-cpu none): it and the server share the cores as the scheduler places them'
      : `wrk runs pinned to core ${settings.wrkCpu} (taskset); the servers are not pinned`;
  const report = [
    ...reportHeading('CPU per request: brisk against its floors (issue 13)', command, machine),
    '',
    `${settings.rounds} round${settings.rounds === 1 ? '' : 's'}; in each, every subject runs for ${settings.seconds} s (the ONNX Runtime floor ${fmt(settings.floorSeconds, 1)} s per batch size, the idle server ${fmt(settings.idleSeconds, 1)} s). ` +
      "A comparison's two subjects run back to back, which goes first alternating from round to round, and the comparisons rotate, so drift on this shared machine falls on all of them. " +
      `Figures are the median over rounds with the min–max in brackets; a ratio or difference is taken round by round and its median is judged against the goal. ${settings.warmupSeconds} s of load per server and body before round 1 is not counted.`,
    '',
    `Load: wrk ${settings.wrkThreads} thread(s), keep-alive, ${settings.connections} connections at saturation and 1 for the lone request, one row per request (bench/scenarios.ts); ${pinning}. ` +
      "The load generator shares the machine's cores with the server: what is compared is CPU time of the server's own threads per answer, which the sharing changes far less than throughput. " +
      'Only 2xx answers count as requests; non-2xx answers and socket errors are counted apart (below), and the CPU spent on them is charged to the 2xx ones.',
    '',
    "CPU time: utime + stime from /proc/<pid>/stat (all the process's threads) and /proc/<pid>/task/<pid>/stat (the main thread, the event loop that does the HTTP I/O), in clock ticks, read when wrk starts and when it has exited. " +
      'The ONNX Runtime floor is heavy_mlp in the bench process, one intra-op thread, the same feeds every session.run, CPU time of the whole process (process.cpuUsage) per row at its cheapest batch size. ' +
      "Latency is wrk's, one request at a time on one keep-alive connection. Average batch is the server's brisk_inferences_total / brisk_executions_total over the run.",
    '',
    `brisk serves the bundled models/ as configured: tiny_classifier ${configText(tiny)}, heavy_mlp ${configText(heavy)}.`,
    '',
    ...(baseline
      ? [
          `Before and after: "before" is a second brisk built from ${baseline.dir} (revision ${baselineRevision}), started as this tree's is with --model-repository ${baseline.models}, ` +
            `where tiny_classifier is ${configText(tiny, baseline.models)} and heavy_mlp ${configText(heavy, baseline.models)}; "after" is this tree's (revision ${machine.gitRevision}). ` +
            'Both run in every round: in each brisk case the two run back to back, before then after or after then before, alternating from round to round, with the floor on the far side of after. ' +
            'after/before is taken round by round, like the comparisons with the floors; below 1× is a saving.',
          '',
        ]
      : []),
    caseTable(rows),
    '',
    "Reading it: at saturation the server's main thread should be close to 100 % busy (the table of subjects below); far below, the machine's other load set the rate, and CPU per request, though still the server's own, is inflated by cache and scheduling interference. " +
      'The whole-process tiny row and the main-thread heavy row have no goal: they show where the time goes.',
    '',
    idleBefore
      ? `brisk idle, before: ${idleFigures(idleBefore)}; after: ${idleFigures(idle)}; after/before ${formatChange(idleBefore.processChange)} for the process, ` +
        `${formatChange(idleBefore.mainChange)} for the main thread ${tick}.`
      : `brisk idle: ${idleFigures(idle)} ${tick}.`,
    '',
    `Machine load (1-minute load average, other users of this VM included): ${fmt(loadBefore, 2)} before the run, ${fmt(loadAfter, 2)} after; ` +
      `above ${cores} means processes were waiting for a core, and the figures are the noisier for it.`,
    '',
    'ONNX Runtime floor by batch size (heavy_mlp, 1 intra-op thread), CPU µs per row:',
    '',
    `| batch | ${floorByBatch.map((f) => f.batchSize).join(' | ')} |`,
    `| --- | ${floorByBatch.map(() => '---:').join(' | ')} |`,
    `| µs/row | ${floorByBatch.map((f) => formatSpread(f.cpuUsPerRow)).join(' | ')} |`,
    '',
    'Every subject under load:',
    '',
    detailTable(rounds),
    '',
    "The last column compares the server's own count of successful requests with wrk's 2xx count: requests answered after wrk stopped reading make it positive; a negative one would mean wrk counted answers that were not successes.",
    '',
  ].join('\n');
  writeFileSync(args.out, report);
  const verdicts = Object.fromEntries(rows.filter((r) => verdict(r)).map((r) => [r.case, verdict(r)]));
  writeFileSync(
    args.out.replace(/\.md$/, '.json'),
    JSON.stringify(
      {
        command,
        machine,
        modelConfigs: { [tiny.model]: configOf(tiny), [heavy.model]: configOf(heavy) },
        // "before": rows[].baseline, idle.before and rounds[].*Baseline are its figures.
        baseline: baseline && {
          dir: baseline.dir,
          revision: baselineRevision,
          modelConfigs: { [tiny.model]: configOf(tiny, baseline.models), [heavy.model]: configOf(heavy, baseline.models) },
        },
        loadAverage: { before: loadBefore, after: loadAfter },
        settings,
        rows,
        verdicts,
        floorByBatch,
        idle: idleBefore ? { ...idle, before: idleBefore } : idle,
        rounds,
      },
      null,
      2,
    ),
  );
  console.log(report);
  console.log(`written to ${path.relative(process.cwd(), args.out)} and .json`);
}

await main();
