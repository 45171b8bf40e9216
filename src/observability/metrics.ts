/**
 * Every Prometheus metric of the server, defined in one place (prom-client, on
 * a registry of our own). Base units in names (seconds), counters end in
 * _total, one prefix. Label values come only from the server's own models,
 * versions and routes: callers pass "" for anything a client named that is not
 * served, so a request can never create a new series. This module imports
 * nothing of ours but the shared request types; the core calls it.
 *
 * The hot path records through each version's recorder (version-recorder.ts):
 * plain numbers and typed-array buckets, no label hashing; prom-client renders
 * them at scrape.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Protocol } from '../types.js';
import { costPer1k, type CostPer1k } from './cost.js';
import { CounterFamily } from './counter-family.js';
import { HistogramFamily } from './histogram-family.js';
import { VersionSeries, type Role, type VersionFamilies, type VersionRecorder } from './version-recorder.js';
import type { Percentiles } from './windowed-histogram.js';

export type { Role, VersionRecorder } from './version-recorder.js';

export const METRIC_PREFIX = 'brisk_';

/** 100 µs to 10 s, about four buckets per decade: fine enough for p95/p99 across replicas. */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10,
];
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

const ROLES: readonly Role[] = ['primary', 'canary', 'shadow'];

/** Gauges read at scrape time from the server's own state. */
export interface MetricSources {
  inFlight(): number;
  /** Bytes held against --max-inflight-bytes: requests being read, decoded or queued, answers being written. */
  heldBytes(): number;
  versions(): readonly {
    model: string;
    version: string;
    queued: number;
    /** max_queue_size: requests past it are refused. */
    queueCapacity: number;
    busySeconds: number;
    /** Busy seconds × the intra-op threads each batch uses. */
    busyCoreSeconds: number;
    inferences: number;
    instances: number;
    /** Worker threads that died and were replaced. */
    workerExits: number;
    loadSeconds?: number;
  }[];
  shadows(): readonly {
    route: string;
    shadow: string;
    compared: number;
    errors: number;
    dropped: number;
    maxAbsDiff: number;
    meanAbsDiff: number;
    argmaxAgreement: number | null;
  }[];
}

export interface CostSettings {
  pricePerHour: number;
  cores: number;
  /** performance.now() at start. */
  startedAtMs: number;
}

/** The window of the recent percentiles in the stats endpoint. */
export const RECENT_WINDOW_SECONDS = 60;

export class ServerMetrics {
  readonly registry = new Registry();
  /** model → version → its recorder, kept for the server's life: a reloaded version goes on counting. */
  private readonly recorders = new Map<string, Map<string, VersionSeries>>();
  private readonly families: VersionFamilies;

  constructor(
    private readonly sources: MetricSources,
    private readonly cost?: CostSettings,
  ) {
    const registers = [this.registry];
    const name = (n: string) => `${METRIC_PREFIX}${n}`;
    // Process figures, read at scrape time (prom-client's defaults name gauges *_total, which promtool refuses).
    new Counter({
      name: name('process_cpu_seconds_total'),
      help: 'CPU time of the process, user and system, all threads.',
      registers,
      collect() {
        const usage = process.cpuUsage();
        this.reset();
        this.inc((usage.user + usage.system) / 1e6);
      },
    });
    new Gauge({
      name: name('process_resident_memory_bytes'),
      help: 'Resident memory of the process.',
      registers,
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
    let loopMark = performance.eventLoopUtilization();
    new Gauge({
      name: name('event_loop_utilization_ratio'),
      help: 'Share of time the I/O thread was busy since the previous scrape.',
      registers,
      collect() {
        const now = performance.eventLoopUtilization();
        this.set(performance.eventLoopUtilization(now, loopMark).utilization);
        loopMark = now;
      },
    });
    const perVersionLabels = ['model', 'version'];
    const perRequestLabels = [...perVersionLabels, 'protocol', 'role'];
    this.families = {
      requests: new CounterFamily(this.registry, {
        name: name('requests_total'),
        help: 'Inference requests answered, by outcome (success or the error code).',
        labelNames: [...perRequestLabels, 'outcome'],
      }),
      requestDuration: new HistogramFamily(this.registry, {
        name: name('request_duration_seconds'),
        help: 'Time from a decoded request to its answer: queue, batch and split, without the network.',
        labelNames: perRequestLabels,
        buckets: LATENCY_BUCKETS,
      }),
      queueDuration: new HistogramFamily(this.registry, {
        name: name('queue_duration_seconds'),
        help: 'Time requests waited in the queue before their batch started.',
        labelNames: perVersionLabels,
        buckets: LATENCY_BUCKETS,
      }),
      computeDuration: new HistogramFamily(this.registry, {
        name: name('compute_duration_seconds'),
        help: 'Time inside ONNX Runtime per batch, on the worker thread.',
        labelNames: perVersionLabels,
        buckets: LATENCY_BUCKETS,
      }),
      batchSize: new HistogramFamily(this.registry, {
        name: name('batch_size'),
        help: 'Rows per executed batch.',
        labelNames: perVersionLabels,
        buckets: BATCH_SIZE_BUCKETS,
      }),
      inferences: new CounterFamily(this.registry, {
        name: name('inferences_total'),
        help: 'Rows inferred (a request of k rows counts k); divided by executions it is the batching efficiency.',
        labelNames: perVersionLabels,
      }),
      executions: new CounterFamily(this.registry, { name: name('executions_total'), help: 'Batches executed.', labelNames: perVersionLabels }),
      recentWindowSeconds: RECENT_WINDOW_SECONDS,
    };
    type VersionSource = ReturnType<MetricSources['versions']>[number];
    type ShadowSource = ReturnType<MetricSources['shadows']>[number];
    interface Series<S> {
      labelNames: string[];
      list: () => readonly S[];
      labels: (s: S) => Record<string, string>;
    }
    const perVersion: Series<VersionSource> = {
      labelNames: ['model', 'version'],
      list: () => sources.versions(),
      labels: (v) => ({ model: v.model, version: v.version }),
    };
    const perShadow: Series<ShadowSource> = {
      labelNames: ['route', 'shadow'],
      list: () => sources.shadows(),
      labels: (s) => ({ route: s.route, shadow: s.shadow }),
    };
    // Figures the serving core holds, read at scrape time; a null or undefined one is left out,
    // and so is a version unloaded since the last scrape (its gauges would otherwise stay, stale).
    const mirroredGauge = <S>(metric: string, help: string, series: Series<S>, read: (s: S) => number | null | undefined) =>
      new Gauge({
        name: name(metric),
        help,
        labelNames: series.labelNames,
        registers,
        collect() {
          this.reset();
          for (const s of series.list()) {
            const value = read(s);
            if (value !== null && value !== undefined) this.set(series.labels(s), value);
          }
        },
      });
    // Counts the serving core keeps, mirrored as counters when scraped.
    const mirroredCounter = <S>(metric: string, help: string, series: Series<S>, read: (s: S) => number) =>
      new Counter({
        name: name(metric),
        help,
        labelNames: series.labelNames,
        registers,
        collect() {
          this.reset();
          for (const s of series.list()) this.inc(series.labels(s), read(s));
        },
      });
    new Gauge({
      name: name('requests_in_flight'),
      help: 'Inference requests accepted and not yet answered.',
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    mirroredGauge('queue_depth', 'Requests waiting in a model version queue.', perVersion, (v) => v.queued);
    mirroredGauge('queue_capacity', 'Requests a model version queue holds before it refuses more (max_queue_size).', perVersion, (v) => v.queueCapacity);
    const busy = new Map<string, { seconds: number; at: number }>();
    new Gauge({
      name: name('worker_busy_ratio'),
      help: 'Share of the version’s worker time spent in ONNX Runtime since the previous scrape.',
      labelNames: ['model', 'version'],
      registers,
      collect() {
        const now = performance.now() / 1000;
        for (const v of sources.versions()) {
          const key = `${v.model}/${v.version}`;
          const last = busy.get(key) ?? { seconds: 0, at: now };
          const elapsed = now - last.at;
          if (elapsed > 0) this.set({ model: v.model, version: v.version }, Math.min(1, (v.busySeconds - last.seconds) / (elapsed * v.instances)));
          busy.set(key, { seconds: v.busySeconds, at: now });
        }
      },
    });
    mirroredCounter('worker_exits_total', 'Worker threads of a model version that died (their batch failed) and were replaced.', perVersion, (v) => v.workerExits);
    mirroredGauge('model_load_seconds', 'Time a model version took to load.', perVersion, (v) => v.loadSeconds);
    const recentOf = (model: string, version: string, role: Role): Percentiles => this.recent(model, version, role);
    new Gauge({
      name: name('request_duration_recent_seconds'),
      help: `Latency percentiles of the last ${RECENT_WINDOW_SECONDS} s of successful requests, per version and role (shadow copies apart), without PromQL.`,
      labelNames: ['model', 'version', 'role', 'percentile'],
      registers,
      collect() {
        // Only windows that hold requests: one that emptied leaves no stale figures behind.
        this.reset();
        for (const v of sources.versions()) {
          for (const role of ROLES) {
            const p = recentOf(v.model, v.version, role);
            if (p.count === 0) continue;
            this.set({ model: v.model, version: v.version, role, percentile: 'p50' }, p.p50);
            this.set({ model: v.model, version: v.version, role, percentile: 'p95' }, p.p95);
            this.set({ model: v.model, version: v.version, role, percentile: 'p99' }, p.p99);
          }
        }
      },
    });
    new Gauge({
      name: name('inflight_bytes'),
      help: 'Bytes held against --max-inflight-bytes: request bodies being read, their decoding, queued tensors and answers not yet written.',
      registers,
      collect() {
        this.set(sources.heldBytes());
      },
    });
    const costs = (): CostPer1k[] => this.costs();
    if (cost && cost.pricePerHour > 0) {
      new Gauge({
        name: name('cost_per_1k_inferences'),
        help: 'Cost of 1,000 inferences in the currency of --cost-per-hour: basis="compute" prices the model’s own compute time, basis="allocated" shares all elapsed time by compute, idle included.',
        labelNames: ['model', 'version', 'basis'],
        registers,
        collect() {
          for (const c of costs()) {
            const [model, version] = c.key.split('/') as [string, string];
            this.set({ model, version, basis: 'compute' }, c.compute);
            this.set({ model, version, basis: 'allocated' }, c.allocated);
          }
        },
      });
    }
    mirroredCounter('shadow_compared_total', 'Shadow copies run and compared with the primary.', perShadow, (s) => s.compared);
    mirroredCounter('shadow_errors_total', 'Shadow copies that failed or could not be compared.', perShadow, (s) => s.errors);
    mirroredCounter('shadow_dropped_total', 'Shadow copies shed under load.', perShadow, (s) => s.dropped);
    mirroredGauge('shadow_max_abs_difference', 'Largest absolute difference between shadow and primary outputs.', perShadow, (s) => s.maxAbsDiff);
    mirroredGauge('shadow_mean_abs_difference', 'Mean absolute difference between shadow and primary outputs.', perShadow, (s) => s.meanAbsDiff);
    mirroredGauge('shadow_argmax_agreement_ratio', 'Share of rows whose class-score argmax agrees.', perShadow, (s) => s.argmaxAgreement);
  }

  /**
   * The recorder of one version: the same object every time for the same model and version,
   * for the server's life. Only for names the server serves, or "" "" for a request answered
   * before any served version was known: a recorder is a set of series that never goes away.
   */
  recorder(model: string, version: string): VersionRecorder {
    let byVersion = this.recorders.get(model);
    if (!byVersion) this.recorders.set(model, (byVersion = new Map()));
    let recorder = byVersion.get(version);
    if (!recorder) byVersion.set(version, (recorder = new VersionSeries(model, version, this.families)));
    return recorder;
  }

  /** One answered request; the same as recorder(model, version).requestDone(...). */
  requestDone(model: string, version: string, protocol: Protocol, role: Role, outcome: string, seconds: number): void {
    this.recorder(model, version).requestDone(protocol, role, outcome, seconds);
  }

  /**
   * Latency percentiles of the last RECENT_WINDOW_SECONDS of successful requests: in one
   * role, or without a role as the version's clients saw them (primary and canary, never
   * shadow copies, which wait behind every real request).
   */
  recent(model: string, version: string, role?: Role): Percentiles {
    return this.recorders.get(model)?.get(version)?.recent(role) ?? { count: 0, p50: 0, p95: 0, p99: 0 };
  }

  /** Cost per 1k inferences for every version that has served (see cost.ts); empty without a price. */
  costs(): CostPer1k[] {
    if (!this.cost || this.cost.pricePerHour <= 0) return [];
    return costPer1k({
      pricePerHour: this.cost.pricePerHour,
      cores: this.cost.cores,
      elapsedSeconds: (performance.now() - this.cost.startedAtMs) / 1000,
      models: this.sources.versions().map((v) => ({ key: `${v.model}/${v.version}`, busyCoreSeconds: v.busyCoreSeconds, inferences: v.inferences })),
    });
  }

  /** One executed batch and the queue waits of its requests; the same as the recorder's batchDone and queueWait. */
  batchDone(model: string, version: string, rows: number, computeSeconds: number, queueSeconds: readonly number[]): void {
    const recorder = this.recorder(model, version);
    recorder.batchDone(rows, computeSeconds);
    for (const seconds of queueSeconds) recorder.queueWait(seconds);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
