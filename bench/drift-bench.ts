/**
 * npm run bench:drift -- [--rounds 3] [--seconds 5] [--connections 64] [--out FILE]
 *
 * What drift costs (issue 15), in one run: two servers of this build on the bundled
 * models, one with drift off, one with the bundled drift settings (tiny_classifier
 * every row, sample_ratio 1.0; heavy_mlp sample_ratio 0.1). Each is warmed until its
 * reference is captured, then wrk saturates each model on each server, the two servers
 * back to back and first in alternate rounds: throughput, the I/O (main) thread's CPU
 * per answer and the whole process's, from /proc. Then, in this process, the worker's
 * share: countBatch (drift/binning.ts) on heavy_mlp's 512 inputs and 1,000 outputs.
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { countBatch } from '../src/drift/binning.js';
import { DriftWindow } from '../src/drift/drift-window.js';
import { profiledTensors } from '../src/drift/profiled-tensors.js';
import { buildReference, type TensorRows } from '../src/drift/reference-builder.js';
import { layoutOf } from '../src/drift/reference-profile.js';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { projectFile } from '../src/project-files.js';
import { batchesPerTiming, binningCase, HEAVY, median as medianOf, timeBatches } from './lib/binning-micro.js';
import { startBrisk, type ChildServer } from './lib/child-server.js';
import { briskCounters, measureUnderLoad, type LoadFigures } from './lib/server-cpu.js';
import { runWrk } from './lib/wrk.js';
import { requestBody, SCENARIOS, type Scenario } from './scenarios.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    out: { type: 'string', default: projectFile('bench', 'results', 'drift.md') },
  },
});
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
const connections = Number(args.connections);

type Mode = 'off' | 'on';
const MODELS = ['tiny_classifier', 'heavy_mlp'] as const;

/** A repository of the bundled models' files, with their configs as bundled (on) or without the drift block (off). */
function repository(mode: Mode): string {
  const root = mkdtempSync(path.join(tmpdir(), `brisk-drift-bench-${mode}-`));
  for (const model of MODELS) {
    mkdirSync(path.join(root, model));
    symlinkSync(projectFile('models', model, '1'), path.join(root, model, '1'));
    const config = JSON.parse(readFileSync(projectFile('models', model, 'config.json'), 'utf8')) as Record<string, unknown>;
    if (mode === 'off') delete config['drift'];
    writeFileSync(path.join(root, model, 'config.json'), JSON.stringify(config));
  }
  return root;
}

const port = (server: ChildServer): number => server.ready['httpPort'] as number;

function wrkLoad(server: ChildServer, scenario: Scenario, wrkSeconds: number) {
  const { body, headers } = requestBody(scenario);
  return { url: `http://127.0.0.1:${port(server)}/v2/models/${scenario.model}/infer`, body, headers, connections, threads: 1, seconds: wrkSeconds, cpu: undefined };
}

/** Load until the version's drift reference is captured (and warm the server either way). */
async function warm(server: ChildServer, mode: Mode, scenario: Scenario): Promise<void> {
  for (let attempt = 0; attempt < 30; attempt++) {
    await runWrk(wrkLoad(server, scenario, 2));
    if (mode === 'off') return;
    const answer = await fetch(`http://127.0.0.1:${port(server)}/v2/models/${scenario.model}/versions/1/drift`);
    if (((await answer.json()) as { state: string }).state === 'ready') return;
  }
  throw new Error(`${scenario.model}: no drift reference after 60 s of load`);
}

const measure = (server: ChildServer, scenario: Scenario): Promise<LoadFigures> =>
  measureUnderLoad(server.process.pid!, wrkLoad(server, scenario, seconds), () => briskCounters(port(server), scenario.model));

/** The worker's share: counting heavy_mlp-sized batches (512 inputs, 1,000 outputs, 10 bins), per batch and per row; medians of 5 timings. */
async function binningMicroBench(): Promise<{ ratio: number; rows: number; usPerBatch: number; usPerCountedRow: number }[]> {
  const results = [];
  for (const ratio of [1, 0.1]) {
    const c = await binningCase(HEAVY, ratio);
    const batches = batchesPerTiming(c);
    timeBatches(countBatch, c, Math.ceil(batches / 4));
    const timings = Array.from({ length: 5 }, () => timeBatches(countBatch, c, batches));
    results.push({ ratio, rows: c.rows, usPerBatch: medianOf(timings.map((t) => t.usPerBatch)), usPerCountedRow: medianOf(timings.map((t) => t.usPerCountedRow)) });
  }
  return results;
}

/** The I/O thread's share: adding a worker's counts into the window, once a second per worker (DRIFT_FLUSH_MS). */
async function windowAddMicroBench(): Promise<{ model: string; bins: number; usPerBatch: number }[]> {
  const shapes = [
    { model: 'tiny_classifier', input: 64, output: 10, classScores: ['probabilities'] },
    { model: 'heavy_mlp', input: 512, output: 1000, classScores: [] as string[] },
  ];
  const results = [];
  for (const shape of shapes) {
    const spec = { maxBatchSize: 128, inputs: [{ name: 'input', datatype: 'FP32' as const, shape: [-1, shape.input] }], outputs: [{ name: 'probabilities', datatype: 'FP32' as const, shape: [-1, shape.output] }] };
    const { tensors } = profiledTensors(spec, shape.classScores);
    const random = (n: number): Float64Array => Float64Array.from({ length: n }, () => Math.random());
    const rowsOf = new Map<string, TensorRows>([
      ['input:input', { data: random(2000 * shape.input), rows: 2000 }],
      ['output:probabilities', { data: random(2000 * shape.output), rows: 2000 }],
    ]);
    const reference = await buildReference(tensors, rowsOf, { model: shape.model, version: '1', bins: 10, source: 'captured' });
    const { plan } = layoutOf(reference, tensors, 1);
    const window = new DriftWindow(plan.bins + 1, 600);
    const counts = new Uint32Array(plan.bins + 1).fill(3);
    for (let i = 0; i < 1000; i++) window.add(counts);
    const runs = 20_000;
    const started = process.cpuUsage();
    for (let i = 0; i < runs; i++) window.add(counts);
    const cpu = process.cpuUsage(started);
    results.push({ model: shape.model, bins: plan.bins, usPerBatch: (cpu.user + cpu.system) / runs });
  }
  return results;
}

const machine = machineInfo();
const load = loadavg().map((l) => l.toFixed(2)).join(', ');
const servers: Record<Mode, ChildServer> = {
  off: await startBrisk(['--model-repository', repository('off')]),
  on: await startBrisk(['--model-repository', repository('on')]),
};
const scenarios = { tiny_classifier: SCENARIOS['tiny']!, heavy_mlp: SCENARIOS['heavy']! };
const figures: Record<string, LoadFigures[]> = {};
try {
  for (const mode of ['off', 'on'] as const) for (const model of MODELS) await warm(servers[mode], mode, scenarios[model]);
  for (let round = 0; round < rounds; round++) {
    for (const model of MODELS) {
      const order: Mode[] = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      for (const mode of order) {
        const result = await measure(servers[mode], scenarios[model]);
        (figures[`${model}:${mode}`] ??= []).push(result);
        process.stderr.write(
          `  round ${round + 1} ${model} drift ${mode}: ${fmt(result.okPerSecond)} 2xx/s, main ${fmt(result.mainUsPerOk, 2)} µs/req, process ${fmt(result.processUsPerOk, 1)} µs/req, batch ${fmt(result.averageBatch ?? Number.NaN, 1)}\n`,
        );
      }
    }
  }
} finally {
  await Promise.all([servers.off.stop(), servers.on.stop()]);
}
const micro = await binningMicroBench();
const windowAdds = await windowAddMicroBench();
const loadAfter = loadavg().map((l) => l.toFixed(2)).join(', ');

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
/** Each round's on/off ratio (the pair ran back to back), then their median. */
const pairedRatio = (model: string, read: (f: LoadFigures) => number): number =>
  median(figures[`${model}:on`]!.map((on, i) => read(on) / read(figures[`${model}:off`]![i]!)));
const pct = (ratio: number): string => `${ratio >= 1 ? '+' : ''}${fmt((ratio - 1) * 100, 1)}%`;
const row = (model: string, label: string): string => {
  const off = figures[`${model}:off`]!;
  const on = figures[`${model}:on`]!;
  const m = (list: LoadFigures[], read: (f: LoadFigures) => number): string => fmt(median(list.map(read)), 2);
  return [
    `| ${model} | ${label}`,
    `${m(off, (f) => f.okPerSecond)} → ${m(on, (f) => f.okPerSecond)}`,
    pct(pairedRatio(model, (f) => f.okPerSecond)),
    `${m(off, (f) => f.mainUsPerOk)} → ${m(on, (f) => f.mainUsPerOk)}`,
    pct(pairedRatio(model, (f) => f.mainUsPerOk)),
    `${m(off, (f) => f.processUsPerOk)} → ${m(on, (f) => f.processUsPerOk)}`,
    `${pct(pairedRatio(model, (f) => f.processUsPerOk))} |`,
  ].join(' | ');
};
const report = [
  ...reportHeading('What drift costs', `npm run bench:drift -- ${process.argv.slice(2).join(' ')}`, machine),
  '',
  `Load average (1, 5, 15 min) before: ${load}; after: ${loadAfter}. ` +
    `wrk, ${connections} connections, ${seconds} s per run at saturation, one request of one row each (tiny JSON, heavy binary, bench/scenarios.ts); ` +
    `two servers of this build, drift off and drift as bundled, warmed until the reference was captured; the two back to back in each round, first in turn; ${rounds} rounds. ` +
    'Figures are medians of the rounds (off → on); changes are the median of each round’s on/off ratio. CPU from /proc: the main thread is the I/O thread.',
  '',
  '| model | drift | 2xx/s | change | I/O thread µs/req | change | process µs/req | change |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  row('tiny_classifier', 'sample_ratio 1.0'),
  row('heavy_mlp', 'sample_ratio 0.1'),
  '',
  'The worker’s share, in this process: `countBatch` on a heavy_mlp batch of 128 rows (512 input and 1,000 output features, 10 bins each, a reference of 2,000 rows).',
  '',
  '| sample_ratio | CPU µs per batch of 128 | CPU µs per counted row |',
  '| ---: | ---: | ---: |',
  ...micro.map((m) => `| ${m.ratio} | ${fmt(m.usPerBatch, 1)} | ${fmt(m.usPerCountedRow, 2)} |`),
  '',
  'The I/O thread’s share, in this process: `DriftWindow.add`, once a second per worker that counted rows (each worker sums its batches and sends them every DRIFT_FLUSH_MS), ' +
    'so per request it is this divided by a second’s requests: nil at any real rate. Nothing else of drift runs on the I/O thread once the reference is built.',
  '',
  '| model | bins | CPU µs per add (per worker per second) |',
  '| --- | ---: | ---: |',
  ...windowAdds.map((w) => `| ${w.model} | ${fmt(w.bins)} | ${fmt(w.usPerBatch, 2)} |`),
  '',
].join('\n');
writeFileSync(args.out, report);
console.log(report);
