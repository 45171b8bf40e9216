/**
 * A Prometheus histogram whose series are Float64Array bucket counts, a sum and a
 * count, held by the code that observes (see version-recorder.ts): observing is a
 * short scan over the fixed bounds and three additions, with no label object
 * hashed per call as prom-client's `histogram.labels(...).observe()` does.
 *
 * prom-client has no public way to set a histogram's buckets, so the family is
 * itself the metric its Registry renders: the registry (prom-client 15,
 * lib/registry.js) reads a metric's `name`, calls `getForPromString()` (or
 * `get()`) for the text format, `get()` for getMetricsAsJSON(), and `reset()`
 * for resetMetrics(). Both answers are built exactly as prom-client's own
 * Histogram builds them (lib/histogram.js), so the exposition is the same, line
 * for line; test/unit/metric-families.test.ts holds the two side by side.
 */
import type { Metric, Registry } from 'prom-client';
import { labelObject } from './series-labels.js';

/** One series. Values must be finite (prom-client would throw on others; the hot path does not check). */
export class HistogramSeries {
  /** Observations per bucket, not cumulative; the last entry counts those above the highest bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: Float64Array,
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    const highest = bounds.length;
    let i = 0;
    // A value on a bound belongs to that bound's bucket (le: less or equal), as in prom-client.
    while (i < highest && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

/** One line of the exposition, as prom-client's Histogram hands it to the registry. */
interface ExposedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

interface ExposedHistogram {
  name: string;
  help: string;
  type: 'histogram';
  values: ExposedValue[];
  aggregator: 'sum';
}

export interface HistogramFamilyConfig {
  name: string;
  help: string;
  labelNames: readonly string[];
  /** Upper bounds, ascending; +Inf is implied. */
  buckets: readonly number[];
}

// prom-client's (lib/validation.js), which checks the names of its own metrics.
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class HistogramFamily {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly string[];
  /** As given, for the `le` labels: prom-client writes the numbers its config held. */
  private readonly buckets: readonly number[];
  /** The same bounds, for the scan in observe(). */
  private readonly bounds: Float64Array;
  /** In the order they were made: prom-client lists a series from its first observation, and owners make one just before that. */
  private readonly series: HistogramSeries[] = [];

  constructor(registry: Registry, { name, help, labelNames, buckets }: HistogramFamilyConfig) {
    if (!METRIC_NAME.test(name) || !labelNames.every((l) => LABEL_NAME.test(l))) throw new Error(`${name}: invalid metric or label name`);
    if (labelNames.includes('le')) throw new Error(`${name}: le is the bucket label`);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new Error(`${name}: buckets must be finite and ascending, got ${buckets.join(', ')}`);
    }
    this.name = name;
    this.help = help;
    this.labelNames = [...labelNames];
    this.buckets = [...buckets];
    this.bounds = Float64Array.from(buckets);
    // The registry's signature names prom-client's own classes; what it calls is listed above.
    registry.registerMetric(this as unknown as Metric);
  }

  /** A new series with these label values, in labelNames order. The caller keeps it: a second call makes a duplicate. */
  newSeries(values: readonly string[]): HistogramSeries {
    const series = new HistogramSeries(this.bounds, labelObject(this.labelNames, values));
    this.series.push(series);
    return series;
  }

  /**
   * For the text format: bucket lines carry `le` in labels and the series' labels as
   * sharedLabels (one object per series, so the registry renders it once and caches it).
   */
  async getForPromString(): Promise<ExposedHistogram> {
    return this.exposed((le, shared, value, metricName, exemplar) => ({ labels: le, sharedLabels: shared, value, metricName, exemplar }));
  }

  /** For getMetricsAsJSON(): the same values with the labels merged, `le` first, as prom-client's splayLabels leaves them. */
  async get(): Promise<ExposedHistogram> {
    return this.exposed((le, shared, value, metricName, exemplar) => ({ value, metricName, exemplar, labels: { ...le, ...shared } }));
  }

  /** The values belong to their recorders, which go on counting across scrapes: the registry's resetMetrics() does not reach them. */
  reset(): void {}

  private exposed(
    line: (le: Record<string, string | number>, shared: Readonly<Record<string, string>>, value: number, metricName: string, exemplar: null | undefined) => ExposedValue,
  ): ExposedHistogram {
    const bucketName = `${this.name}_bucket`;
    const values: ExposedValue[] = [];
    for (const series of this.series) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push(line({ le: bound }, series.labels, cumulative, bucketName, null));
      });
      values.push(
        line({ le: '+Inf' }, series.labels, series.count, bucketName, null),
        line({}, series.labels, series.sum, `${this.name}_sum`, undefined),
        line({}, series.labels, series.count, `${this.name}_count`, undefined),
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
