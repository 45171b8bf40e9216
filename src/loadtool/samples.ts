/** Latency samples kept raw, and percentiles taken from them (no histogram buckets, so no rounding). */

/** Samples appended one at a time, in a buffer that doubles when full. */
export class SampleBuffer {
  private samples = new Float64Array(1 << 12);
  private count = 0;

  push(value: number): void {
    if (this.count === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.count++] = value;
  }

  get length(): number {
    return this.count;
  }

  /** A copy of the samples so far. */
  values(): Float64Array {
    return this.samples.slice(0, this.count);
  }
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** The nearest-rank percentile of ascending samples; NaN when there are none. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

/** The percentiles a report shows; the samples need not be sorted and are not changed. */
export function latencySummary(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  return {
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}
