/**
 * npm run bench:priority -- [--duration 5] [--repeat 5] [--connections 64] [--levels 4]
 *
 * Does priority cost throughput? One server, tiny_classifier with
 * `priority_levels` 4, a closed loop over REST (JSON, one row per request), runs
 * alternating between two traffic mixes on the same connections:
 * - without: no request gives a priority (all at the default level);
 * - mixed: the connections are split in as many groups as there are levels,
 *   each group sending one level, so the queue always holds every level at once.
 * Reports goodput, latency, the mean batch size (inference_count /
 * execution_count from the statistics extension) and the server's CPU time per
 * request, medians of the runs. Priority orders the queue and must not shrink
 * batches: mixed goodput should be at least 0.9× the figure without.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import type { RawLoadResult } from '../src/loadtool/load-loop.js';
import { machineInfo, reportHeading, type MachineInfo } from '../src/loadtool/machine.js';
import { runRestLoad } from '../src/loadtool/rest-load.js';
import { summarize, type PointSummary } from '../src/loadtool/summary.js';
import { writeModel } from '../src/modelgen/build.js';
import { BUNDLED_MODELS } from '../src/modelgen/catalog.js';
import { projectFile } from '../src/project-files.js';
import { startBrisk } from './lib/child-server.js';
import { requestBody, SCENARIOS } from './scenarios.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    repeat: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    levels: { type: 'string', default: '4' },
    out: { type: 'string', default: projectFile('bench', 'results', 'priority.md') },
  },
});
const levels = Number(args.levels);
const repeat = Number(args.repeat);
const perGroup = Math.max(1, Math.floor(Number(args.connections) / levels));
const MODEL = 'tiny_classifier';
const tiny = BUNDLED_MODELS.find((e) => e.model === MODEL)!;

function benchRepository(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'brisk-priority-bench-'));
  writeModel(root, tiny);
  const config = {
    max_batch_size: 256,
    dynamic_batching: { max_queue_delay_us: 200, max_queue_size: 8192, priority_levels: levels },
    instances: 2,
  };
  writeFileSync(path.join(root, MODEL, 'config.json'), JSON.stringify(config));
  return root;
}

/** The scenario's body, with `priority` set when given. */
function bodyWith(priority: number | undefined): Buffer {
  const { body } = requestBody(SCENARIOS['tiny']!);
  if (priority === undefined) return body;
  return Buffer.from(JSON.stringify({ ...(JSON.parse(body.toString()) as object), parameters: { priority } }));
}

/** Loops that ran side by side over one window, as one result. */
function merge(results: readonly RawLoadResult[]): RawLoadResult {
  const outcomes: Record<string, number> = {};
  for (const r of results) for (const [k, n] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + n;
  const joined = (pick: (r: RawLoadResult) => Float64Array): Float64Array => {
    const out = new Float64Array(results.reduce((n, r) => n + pick(r).length, 0));
    let at = 0;
    for (const r of results) {
      out.set(pick(r), at);
      at += pick(r).length;
    }
    return out;
  };
  return {
    sent: results.reduce((n, r) => n + r.sent, 0),
    answered: results.reduce((n, r) => n + r.answered, 0),
    outcomes,
    successLatenciesMs: joined((r) => r.successLatenciesMs),
    errorLatenciesMs: joined((r) => r.errorLatenciesMs),
    elapsedSeconds: Math.max(...results.map((r) => r.elapsedSeconds)),
  };
}

interface ServerFigures {
  inferences: number;
  executions: number;
  cpuSeconds: number;
}

async function serverFigures(base: string): Promise<ServerFigures> {
  const stats = (await (await fetch(`${base}/v2/models/${MODEL}/stats`)).json()) as { model_stats: { inference_count: number; execution_count: number }[] };
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const cpu = /^brisk_process_cpu_seconds_total (\S+)$/m.exec(metrics);
  if (!cpu) throw new Error('no brisk_process_cpu_seconds_total in /metrics');
  const { inference_count: inferences, execution_count: executions } = stats.model_stats[0]!;
  return { inferences, executions, cpuSeconds: Number(cpu[1]) };
}

type Mix = 'without' | 'mixed';
interface Run {
  point: PointSummary;
  meanBatch: number;
  cpuUsPerRequest: number;
}

/** Alternating runs of both mixes against the server at `base`. */
async function measureAll(base: string): Promise<Record<Mix, Run[]>> {
  const url = new URL(`${base}/v2/models/${MODEL}/infer`);
  const headers = { 'content-type': 'application/json' };
  const bodies: Record<Mix, Buffer[]> = {
    without: Array.from({ length: levels }, () => bodyWith(undefined)),
    mixed: Array.from({ length: levels }, (_, i) => bodyWith(i + 1)),
  };
  const runs: Record<Mix, Run[]> = { without: [], mixed: [] };
  for (let r = 0; r < repeat; r++) {
    for (const mix of ['without', 'mixed'] as const) {
      const before = await serverFigures(base);
      const raw = merge(
        await Promise.all(
          bodies[mix].map((body) =>
            runRestLoad({ mode: 'closed', concurrency: perGroup, connections: perGroup, durationSeconds: Number(args.duration), warmupSeconds: 1, url, body, headers }),
          ),
        ),
      );
      const after = await serverFigures(base);
      // Warm-up requests are in the server's counters too: both figures are per request the server answered.
      const answered = after.inferences - before.inferences;
      const run: Run = {
        point: summarize(raw, 'closed', perGroup * levels, 1),
        meanBatch: answered / (after.executions - before.executions),
        cpuUsPerRequest: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / answered,
      };
      runs[mix].push(run);
      process.stderr.write(
        `  ${mix}: ${fmt(run.point.requestsPerSecond)} req/s, p99 ${fmt(run.point.latencyMs.p99, 2)} ms, mean batch ${fmt(run.meanBatch, 1)}, ${fmt(run.cpuUsPerRequest, 1)} µs CPU/request\n`,
      );
    }
  }
  return runs;
}

function render(runs: Record<Mix, Run[]>, command: string, machine: MachineInfo): string {
  const median = (mix: Mix): Run => [...runs[mix]].sort((a, b) => a.point.requestsPerSecond - b.point.requestsPerSecond)[Math.floor(repeat / 2)]!;
  const line = (label: string, mix: Mix): string => {
    const { point, meanBatch, cpuUsPerRequest } = median(mix);
    const rates = runs[mix].map((x) => x.point.requestsPerSecond);
    const failed = point.sent - point.succeeded;
    return `| ${label} | ${fmt(point.requestsPerSecond)} | ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))} | ${fmt(point.latencyMs.p50, 2)} | ${fmt(point.latencyMs.p99, 2)} | ${fmt(meanBatch, 1)} | ${fmt(cpuUsPerRequest, 1)} | ${failed} |`;
  };
  const ratio = median('mixed').point.requestsPerSecond / median('without').point.requestsPerSecond;
  // Neighbouring runs share the machine's background load: their ratios show the noise.
  const pairs = runs.mixed.map((run, i) => run.point.requestsPerSecond / runs.without[i]!.point.requestsPerSecond);
  return [
    ...reportHeading('Priority levels and batching on the tiny model', command, machine),
    '',
    `Load: a closed loop over REST (JSON, one row per request), ${perGroup * levels} connections in ${levels} groups of ${perGroup}, ` +
      `${args.duration} s per run after 1 s warm-up, runs alternating between the two mixes, median of ${repeat}. ` +
      `One server; tiny_classifier with max_batch_size 256, instances 2, max_queue_delay_us 200, priority_levels ${levels}. ` +
      `"Mixed": group k sends priority k (1 the highest), so every level waits in the queue at once; "without": no request gives a priority. ` +
      'Mean batch: inference_count / execution_count over the run. CPU: the server process, all threads, per request it answered.',
    '',
    '| traffic | goodput req/s (median) | runs min–max | p50 ms | p99 ms | mean batch | CPU µs/request | failed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    line('no priority', 'without'),
    line(`priorities 1–${levels} mixed`, 'mixed'),
    '',
    `Mixed priorities: goodput ${fmt(ratio, 2)}× the figure without (the bar: at least 0.90×). ` +
      `Run by run, each mixed run over the run without just before it: ${pairs.map((r) => `${fmt(r, 2)}×`).join(', ')}.`,
    '',
  ].join('\n');
}

const machine = machineInfo();
const server = await startBrisk(['--model-repository', benchRepository()]);
let runs: Record<Mix, Run[]>;
try {
  runs = await measureAll(`http://127.0.0.1:${server.ready['httpPort'] as number}`);
} finally {
  await server.stop();
}
const report = render(runs, `npm run bench:priority -- ${process.argv.slice(2).join(' ')}`.trim(), machine);
writeFileSync(args.out, report);
process.stdout.write(report);
