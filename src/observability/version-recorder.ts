/**
 * What one model version records on the hot path, held by that version: its
 * request counters, latency histograms and recent-percentile windows, found by
 * array index from (protocol, role), never by hashing labels. The series are
 * made on first use, so a scrape lists exactly the series prom-client would
 * (one appears with its first count), in the same order.
 */
import { performance } from 'node:perf_hooks';
import type { Protocol } from '../types.js';
import type { CounterCell, CounterFamily } from './counter-family.js';
import type { HistogramFamily, HistogramSeries } from './histogram-family.js';
import { WindowedHistogram, type Percentiles } from './windowed-histogram.js';

export type Role = 'primary' | 'canary' | 'shadow';

export interface VersionRecorder {
  /** One answered request of this version: outcome is 'success' or the lower-case error code; seconds counts only for 'success'. */
  requestDone(protocol: Protocol, role: Role, outcome: string, seconds: number): void;
  /** One executed batch: its rows and its time inside ONNX Runtime. */
  batchDone(rows: number, computeSeconds: number): void;
  /** One request's wait in the queue before its batch started. */
  queueWait(seconds: number): void;
}

/** The families every version records into: one set per server, made by ServerMetrics. */
export interface VersionFamilies {
  /** Labels model, version, protocol, role, outcome. */
  requests: CounterFamily;
  /** Labels model, version, protocol, role. */
  requestDuration: HistogramFamily;
  /** The rest: labels model, version. */
  queueDuration: HistogramFamily;
  computeDuration: HistogramFamily;
  batchSize: HistogramFamily;
  inferences: CounterFamily;
  executions: CounterFamily;
  recentWindowSeconds: number;
}

const PROTOCOLS = 2;
const ROLES = 3;
/** Index of the served window (primary and canary together) after the three role windows. */
const SERVED = ROLES;

const roleIndex = (role: Role): number => (role === 'primary' ? 0 : role === 'canary' ? 1 : 2);

/** The series of one (protocol, role) of a version. */
class RequestSeries {
  success: CounterCell | undefined = undefined;
  /** Error code → its count; made on the first error, which is off the hot path. */
  failures: Map<string, CounterCell> | undefined = undefined;
  duration: HistogramSeries | undefined = undefined;

  constructor(
    readonly labels: readonly [model: string, version: string, protocol: Protocol, role: Role],
    readonly recent: WindowedHistogram,
    readonly served: WindowedHistogram | undefined,
  ) {}
}

class BatchSeries {
  constructor(
    readonly batchSize: HistogramSeries,
    readonly compute: HistogramSeries,
    readonly inferences: CounterCell,
    readonly executions: CounterCell,
  ) {}
}

export class VersionSeries implements VersionRecorder {
  /** By protocol (rest, grpc) × role (primary, canary, shadow). */
  private readonly requests: (RequestSeries | undefined)[] = new Array<RequestSeries | undefined>(PROTOCOLS * ROLES).fill(undefined);
  /** The last recentWindowSeconds of successes: by role, then served (what clients saw: primary and canary, never shadow copies). */
  private readonly windows: (WindowedHistogram | undefined)[] = new Array<WindowedHistogram | undefined>(ROLES + 1).fill(undefined);
  private batches: BatchSeries | undefined = undefined;
  private queue: HistogramSeries | undefined = undefined;

  constructor(
    private readonly model: string,
    private readonly version: string,
    private readonly families: VersionFamilies,
  ) {}

  requestDone(protocol: Protocol, role: Role, outcome: string, seconds: number): void {
    const index = (protocol === 'rest' ? 0 : ROLES) + roleIndex(role);
    const series = this.requests[index] ?? this.newRequestSeries(index, protocol, role);
    if (outcome !== 'success') {
      (series.failures?.get(outcome) ?? this.newFailure(series, outcome)).value += 1;
      return;
    }
    (series.success ??= this.families.requests.newCell([...series.labels, 'success'])).value += 1;
    (series.duration ??= this.families.requestDuration.newSeries(series.labels)).observe(seconds);
    // One clock read for both windows, which window() makes on that same clock.
    const nowMs = performance.now();
    series.recent.record(seconds, nowMs);
    series.served?.record(seconds, nowMs);
  }

  batchDone(rows: number, computeSeconds: number): void {
    const batches = this.batches ?? this.newBatchSeries();
    batches.batchSize.observe(rows);
    batches.compute.observe(computeSeconds);
    batches.inferences.value += rows;
    batches.executions.value += 1;
  }

  queueWait(seconds: number): void {
    (this.queue ??= this.families.queueDuration.newSeries([this.model, this.version])).observe(seconds);
  }

  /** Percentiles of the recent successes in one role, or without a role as the version's clients saw them. */
  recent(role?: Role): Percentiles {
    return this.windows[role === undefined ? SERVED : roleIndex(role)]?.percentiles() ?? { count: 0, p50: 0, p95: 0, p99: 0 };
  }

  private newRequestSeries(index: number, protocol: Protocol, role: Role): RequestSeries {
    const series = new RequestSeries(
      [this.model, this.version, protocol, role],
      this.window(roleIndex(role)),
      role === 'shadow' ? undefined : this.window(SERVED),
    );
    this.requests[index] = series;
    return series;
  }

  private newFailure(series: RequestSeries, outcome: string): CounterCell {
    const cell = this.families.requests.newCell([...series.labels, outcome]);
    (series.failures ??= new Map()).set(outcome, cell);
    return cell;
  }

  private newBatchSeries(): BatchSeries {
    const labels = [this.model, this.version];
    const { batchSize, computeDuration, inferences, executions } = this.families;
    this.batches = new BatchSeries(batchSize.newSeries(labels), computeDuration.newSeries(labels), inferences.newCell(labels), executions.newCell(labels));
    return this.batches;
  }

  private window(index: number): WindowedHistogram {
    return (this.windows[index] ??= new WindowedHistogram(this.families.recentWindowSeconds));
  }
}
