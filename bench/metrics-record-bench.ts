/**
 * npx tsc -p . && node dist/bench/metrics-record-bench.js [--iterations 1000000] [--rounds 7]
 *
 * What recording metrics costs the I/O thread, in ns per call, three ways, alternating rounds:
 * - prom-client: the series as they were before the recorders: prom-client children cached in
 *   maps (`labels(...)` done once), which still hash their label object on every observe/inc;
 * - ServerMetrics by model and version: requestDone and batchDone with names, now delegating
 *   to the recorders (the queue wait through recorder(model, version), found on every call);
 * - recorder: the per-version recorder the hot path holds.
 * Per request: one success (counter, latency histogram, two recent windows) and one queue wait.
 * Per batch: batch size, compute time, inferences and executions. Each figure is the process's
 * CPU time per call, the median of the rounds, with the spread (min–max).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Counter, Histogram, Registry } from 'prom-client';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { BATCH_SIZE_BUCKETS, LATENCY_BUCKETS, RECENT_WINDOW_SECONDS, ServerMetrics, type MetricSources } from '../src/observability/metrics.js';
import { WindowedHistogram } from '../src/observability/windowed-histogram.js';
import { projectFile } from '../src/project-files.js';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '7' },
    out: { type: 'string', default: projectFile('bench', 'results', 'metrics-record.md') },
  },
});
const ITERATIONS = Number(args.iterations);
const ROUNDS = Number(args.rounds);

/** The recording half of ServerMetrics before the recorders (src/observability/metrics.ts at ae0bea9), trimmed to one role. */
class PromClientChildren {
  private readonly registers = [new Registry()];
  private readonly requests = new Counter({ name: 'r_total', help: 'h', labelNames: ['model', 'version', 'protocol', 'role', 'outcome'], registers: this.registers });
  private readonly requestDuration = new Histogram({
    name: 'd',
    help: 'h',
    labelNames: ['model', 'version', 'protocol', 'role'],
    buckets: LATENCY_BUCKETS,
    registers: this.registers,
  });
  private readonly queueDuration = new Histogram({ name: 'q', help: 'h', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers: this.registers });
  private readonly computeDuration = new Histogram({ name: 'c', help: 'h', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers: this.registers });
  private readonly batchSize = new Histogram({ name: 'b', help: 'h', labelNames: ['model', 'version'], buckets: BATCH_SIZE_BUCKETS, registers: this.registers });
  private readonly inferences = new Counter({ name: 'i_total', help: 'h', labelNames: ['model', 'version'], registers: this.registers });
  private readonly executions = new Counter({ name: 'e_total', help: 'h', labelNames: ['model', 'version'], registers: this.registers });
  private readonly requestSeries = new Map<
    string,
    Map<string, Map<string, Map<string, { outcomes: Map<string, Counter.Internal>; duration: Histogram.Internal<string>; recent: WindowedHistogram; served: WindowedHistogram }>>>
  >();
  private readonly batchSeries = new Map<
    string,
    Map<string, { batchSize: Histogram.Internal<string>; compute: Histogram.Internal<string>; queue: Histogram.Internal<string>; inferences: Counter.Internal; executions: Counter.Internal }>
  >();

  requestDone(model: string, version: string, protocol: string, role: string, outcome: string, seconds: number): void {
    let byVersion = this.requestSeries.get(model);
    if (!byVersion) this.requestSeries.set(model, (byVersion = new Map()));
    let byProtocol = byVersion.get(version);
    if (!byProtocol) byVersion.set(version, (byProtocol = new Map()));
    let byRole = byProtocol.get(protocol);
    if (!byRole) byProtocol.set(protocol, (byRole = new Map()));
    let series = byRole.get(role);
    if (!series) {
      series = {
        outcomes: new Map(),
        duration: this.requestDuration.labels({ model, version, protocol, role }),
        recent: new WindowedHistogram(RECENT_WINDOW_SECONDS),
        served: new WindowedHistogram(RECENT_WINDOW_SECONDS),
      };
      byRole.set(role, series);
    }
    let counter = series.outcomes.get(outcome);
    if (!counter) series.outcomes.set(outcome, (counter = this.requests.labels({ model, version, protocol, role, outcome })));
    counter.inc();
    if (outcome !== 'success') return;
    series.duration.observe(seconds);
    series.recent.record(seconds);
    series.served.record(seconds);
  }

  /** The version's series; before, batchDone looked them up once per batch and observed each queue wait on `queue`. */
  batchSeriesFor(model: string, version: string) {
    let byVersion = this.batchSeries.get(model);
    if (!byVersion) this.batchSeries.set(model, (byVersion = new Map()));
    let series = byVersion.get(version);
    if (!series) {
      const labels = { model, version };
      series = {
        batchSize: this.batchSize.labels(labels),
        compute: this.computeDuration.labels(labels),
        queue: this.queueDuration.labels(labels),
        inferences: this.inferences.labels(labels),
        executions: this.executions.labels(labels),
      };
      byVersion.set(version, series);
    }
    return series;
  }

  batchDone(model: string, version: string, rows: number, computeSeconds: number): void {
    const series = this.batchSeriesFor(model, version);
    series.batchSize.observe(rows);
    series.compute.observe(computeSeconds);
    series.inferences.inc(rows);
    series.executions.inc();
  }
}

const noSources: MetricSources = { inFlight: () => 0, heldBytes: () => 0, versions: () => [], shadows: () => [] };
const MODEL = 'tiny_classifier';
const VERSION = '1';
/** Latencies and waits as a loaded server sees them: 0.1–8 ms, mostly in the low buckets. */
const SECONDS = Float64Array.from({ length: 1024 }, (_, i) => 0.0001 * (1 + ((i * 37) % 80)));
const ROWS = Uint32Array.from({ length: 1024 }, (_, i) => 1 + ((i * 13) % 32));

type Case = { name: string; perRequest: () => void; perBatch: () => void };

function cases(): Case[] {
  const old = new PromClientChildren();
  const oldQueue = old.batchSeriesFor(MODEL, VERSION).queue;
  const viaMethods = new ServerMetrics(noSources);
  const viaRecorder = new ServerMetrics(noSources);
  const recorder = viaRecorder.recorder(MODEL, VERSION);
  return [
    {
      name: 'prom-client children (before)',
      perRequest: () => {
        for (let i = 0; i < ITERATIONS; i++) {
          const s = SECONDS[i & 1023]!;
          old.requestDone(MODEL, VERSION, 'rest', 'primary', 'success', s);
          oldQueue.observe(s / 2);
        }
      },
      perBatch: () => {
        for (let i = 0; i < ITERATIONS; i++) old.batchDone(MODEL, VERSION, ROWS[i & 1023]!, SECONDS[i & 1023]!);
      },
    },
    {
      name: 'ServerMetrics by model and version (now)',
      perRequest: () => {
        for (let i = 0; i < ITERATIONS; i++) {
          const s = SECONDS[i & 1023]!;
          viaMethods.requestDone(MODEL, VERSION, 'rest', 'primary', 'success', s);
          viaMethods.recorder(MODEL, VERSION).queueWait(s / 2);
        }
      },
      perBatch: () => {
        for (let i = 0; i < ITERATIONS; i++) viaMethods.batchDone(MODEL, VERSION, ROWS[i & 1023]!, SECONDS[i & 1023]!, []);
      },
    },
    {
      name: 'recorder (hot path)',
      perRequest: () => {
        for (let i = 0; i < ITERATIONS; i++) {
          const s = SECONDS[i & 1023]!;
          recorder.requestDone('rest', 'primary', 'success', s);
          recorder.queueWait(s / 2);
        }
      },
      perBatch: () => {
        for (let i = 0; i < ITERATIONS; i++) recorder.batchDone(ROWS[i & 1023]!, SECONDS[i & 1023]!);
      },
    },
  ];
}

/** CPU time, not wall time: on a shared VM the neighbours' load would otherwise be counted as ours. */
const nsPerCall = (run: () => void): number => {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / ITERATIONS;
};

const all = cases();
const samples = all.map(() => ({ perRequest: [] as number[], perBatch: [] as number[] }));
// One unmeasured round first, so every case is optimised before it is timed.
for (let round = -1; round < ROUNDS; round++) {
  all.forEach((c, i) => {
    const request = nsPerCall(c.perRequest);
    const batch = nsPerCall(c.perBatch);
    if (round < 0) return;
    samples[i]!.perRequest.push(request);
    samples[i]!.perBatch.push(batch);
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const figure = (xs: number[]): string => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
const base = samples[0]!;
const lines = [
  ...reportHeading('Recording metrics: ns per call', `node dist/bench/metrics-record-bench.js --iterations ${ITERATIONS} --rounds ${ROUNDS}`, machineInfo()),
  '',
  `CPU ns per call (the process's user + system time), median of ${ROUNDS} rounds of ${ITERATIONS.toLocaleString('en')} calls each (min–max). Per request: one success (its counter, its`,
  'latency histogram, two recent-percentile windows) and one queue wait. Per batch: batch size, compute time, inferences, executions.',
  '"By model and version" finds the recorder in two maps on every call, as a caller that does not hold it pays.',
  '',
  '| recording through | requestDone + queue wait, ns | speed-up | batchDone, ns | speed-up |',
  '|---|---:|---:|---:|---:|',
  ...all.map((c, i) => {
    const s = samples[i]!;
    const speedUp = (before: number[], now: number[]) => (i === 0 ? '–' : `${(median(before) / median(now)).toFixed(1)}×`);
    return `| ${c.name} | ${figure(s.perRequest)} | ${speedUp(base.perRequest, s.perRequest)} | ${figure(s.perBatch)} | ${speedUp(base.perBatch, s.perBatch)} |`;
  }),
  '',
];
const report = lines.join('\n');
writeFileSync(args.out, report);
console.log(report);
