/**
 * The cost of the hop between the main thread and a model's worker threads,
 * measured in-process on ModelPool alone (no HTTP, no scheduler):
 * - closed loop: `concurrency` batches always in flight; the main thread's CPU
 *   µs per batch (from /proc/self/task/<pid>/stat, the main thread only), the
 *   whole process's CPU µs per row, and ONNX Runtime's own time per row;
 * - lone: one batch of one row at a time, the round trip's p50 and p99;
 * - idle: the whole process's CPU over a quiet interval with every pool loaded.
 * Rounds alternate the cases, and each figure is the median of the rounds with
 * their range beside it.
 *
 * npx tsc -p . && node dist/bench/worker-hop-bench.js [--rounds 3] [--seconds 3] [--idle-seconds 5] [--only tiny|heavy]
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { projectFile } from '../src/project-files.js';
import { ModelPool } from '../src/runtime/model-pool.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    'idle-seconds': { type: 'string', default: '5' },
    'lone-count': { type: 'string', default: '3000' },
    only: { type: 'string' },
  },
});
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
const idleSeconds = Number(args['idle-seconds']);
const loneCount = Number(args['lone-count']);

const TICK_US = 1e6 / 100; // CLK_TCK is 100 on Linux

/** The main thread's CPU time in µs (its tid is the pid), at the kernel's tick resolution. */
function mainThreadCpuUs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US; // utime, stime
}

function processCpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

interface Case {
  label: string;
  model: string;
  input: string;
  output: string;
  width: number;
  rows: number;
  instances: number;
  intraOpThreads: number;
  concurrency: number;
}

const CASES: Case[] = [
  { label: 'tiny 1 row, 2×1, c=4', model: 'tiny_classifier', input: 'input', output: 'probabilities', width: 64, rows: 1, instances: 2, intraOpThreads: 1, concurrency: 4 },
  { label: 'tiny 32 rows, 2×1, c=4', model: 'tiny_classifier', input: 'input', output: 'probabilities', width: 64, rows: 32, instances: 2, intraOpThreads: 1, concurrency: 4 },
  { label: 'heavy 64 rows, 1×2, c=2', model: 'heavy_mlp', input: 'input', output: 'logits', width: 512, rows: 64, instances: 1, intraOpThreads: 2, concurrency: 2 },
  { label: 'heavy 64 rows, 2×1, c=4', model: 'heavy_mlp', input: 'input', output: 'logits', width: 512, rows: 64, instances: 2, intraOpThreads: 1, concurrency: 4 },
].filter((c) => !args.only || c.model.startsWith(args.only));

async function openPool(c: Case): Promise<ModelPool> {
  const pool = new ModelPool(
    { modelPath: projectFile('models', c.model, '1', 'model.onnx'), executionProviders: ['cpu'], intraOpThreads: c.intraOpThreads, intraOpSpinning: false, warmup: [] },
    c.instances,
  );
  await pool.ready();
  await pool.describe();
  return pool;
}

function batchOf(c: Case, template: Float32Array): { data: Float32Array; shape: number[] } {
  // A fresh buffer per batch, as the scheduler assembles one: it is transferred away.
  return { data: template.slice(0, c.rows * c.width), shape: [c.rows, c.width] };
}

interface LoopFigures {
  mainUsPerBatch: number;
  processUsPerRow: number;
  ortUsPerRow: number;
  rowsPerSecond: number;
}

async function closedLoop(pool: ModelPool, c: Case, template: Float32Array): Promise<LoopFigures> {
  const outputs = [c.output];
  let batches = 0;
  let computeSeconds = 0;
  let stopAt = 0;
  const submitter = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const { data, shape } = batchOf(c, template);
      const result = await pool.run([{ name: c.input, type: 'float32', shape, data }], outputs, [data.buffer as ArrayBuffer], 30_000);
      batches += 1;
      computeSeconds += result.computeSeconds;
    }
  };
  // A short settle-in, not counted.
  stopAt = performance.now() + 300;
  await Promise.all(Array.from({ length: c.concurrency }, submitter));
  batches = 0;
  computeSeconds = 0;
  const main0 = mainThreadCpuUs();
  const proc0 = processCpuUs();
  const t0 = performance.now();
  stopAt = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: c.concurrency }, submitter));
  const elapsed = (performance.now() - t0) / 1000;
  const rows = batches * c.rows;
  return {
    mainUsPerBatch: (mainThreadCpuUs() - main0) / batches,
    processUsPerRow: (processCpuUs() - proc0) / rows,
    ortUsPerRow: (computeSeconds * 1e6) / rows,
    rowsPerSecond: rows / elapsed,
  };
}

async function lone(pool: ModelPool, c: Case, template: Float32Array): Promise<{ p50: number; p99: number }> {
  const one = { ...c, rows: 1 };
  const times: number[] = [];
  for (let i = 0; i < loneCount + 200; i++) {
    const { data, shape } = batchOf(one, template);
    const t0 = performance.now();
    await pool.run([{ name: c.input, type: 'float32', shape, data }], [c.output], [data.buffer as ArrayBuffer], 30_000);
    if (i >= 200) times.push((performance.now() - t0) * 1000);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length * 0.5)]!, p99: times[Math.floor(times.length * 0.99)]! };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[], digits = 1): string =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

const pools = new Map<Case, ModelPool>();
for (const c of CASES) pools.set(c, await openPool(c));
const template = Float32Array.from({ length: 128 * 512 }, (_, i) => Math.sin(i));

const loop = new Map<Case, LoopFigures[]>(CASES.map((c) => [c, []]));
const lones: { p50: number; p99: number }[] = [];
const idle: number[] = [];
const loneCase = CASES.find((c) => c.model === 'tiny_classifier') ?? CASES[0]!;

for (let round = 0; round < rounds; round++) {
  for (const c of CASES) loop.get(c)!.push(await closedLoop(pools.get(c)!, c, template));
  lones.push(await lone(pools.get(loneCase)!, loneCase, template));
  const idle0 = processCpuUs();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  idle.push(((processCpuUs() - idle0) / ((performance.now() - t0) * 1000)) * 100);
  console.error(`round ${round + 1}/${rounds} done`);
}

console.log(`worker hop, ${rounds} rounds of ${seconds} s (median (min–max))`);
console.log('| case | main thread µs/batch | process µs/row | ORT µs/row | rows/s |');
console.log('|---|---|---|---|---|');
for (const c of CASES) {
  const f = loop.get(c)!;
  console.log(
    `| ${c.label} | ${fmt(f.map((x) => x.mainUsPerBatch))} | ${fmt(f.map((x) => x.processUsPerRow))} | ${fmt(f.map((x) => x.ortUsPerRow))} | ${fmt(f.map((x) => x.rowsPerSecond), 0)} |`,
  );
}
console.log(`lone batch (${loneCase.label.split(',')[0]}, 1 row, c=1): p50 ${fmt(lones.map((l) => l.p50))} µs, p99 ${fmt(lones.map((l) => l.p99))} µs`);
console.log(`idle, ${pools.size} pools loaded: process CPU ${fmt(idle, 2)} % of one core over ${idleSeconds} s`);
for (const pool of pools.values()) await pool.close();
