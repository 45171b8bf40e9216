/**
 * One side's figures (the canary's or the primary's) over the current interval: counts by
 * outcome class and a uniform sample of success latencies. Recording is O(1) and allocates
 * nothing; the sample is a fixed reservoir (Vitter's algorithm R), so memory is bounded
 * whatever the traffic and every success had the same chance to be in it.
 */
import { classifyOutcome } from './outcomes.js';

/** Enough for a p99 within a few percent and for the Mann-Whitney test in ~10 ms. */
export const SAMPLE_CAPACITY = 2048;

export interface SideFigures {
  /** Every request routed to this side. */
  requests: number;
  successes: number;
  /** The version's own errors (see outcomes.ts). */
  errors: number;
  /** Client-caused and neutral outcomes: counted, not judged. */
  notJudged: number;
}

export class SideWindow implements SideFigures {
  requests = 0;
  successes = 0;
  errors = 0;
  notJudged = 0;
  /** Successes seen, of which min(seen, capacity) are in `samples`. */
  private seen = 0;
  private readonly samples: Float64Array;

  constructor(
    capacity = SAMPLE_CAPACITY,
    private readonly random: () => number = Math.random,
  ) {
    this.samples = new Float64Array(capacity);
  }

  /** Returns true when the outcome was the version's fault. */
  record(outcome: string, seconds: number): boolean {
    this.requests += 1;
    const kind = classifyOutcome(outcome);
    if (kind === 'success') {
      this.successes += 1;
      if (this.seen < this.samples.length) this.samples[this.seen] = seconds;
      else {
        const slot = Math.floor(this.random() * (this.seen + 1));
        if (slot < this.samples.length) this.samples[slot] = seconds;
      }
      this.seen += 1;
      return false;
    }
    if (kind === 'fault') {
      this.errors += 1;
      return true;
    }
    this.notJudged += 1;
    return false;
  }

  /** Successes and the version's errors: what a gate's minimum counts. */
  get judged(): number {
    return this.successes + this.errors;
  }

  /** A copy of the latency sample, sorted (at the interval's end only). */
  sortedSamples(): Float64Array {
    return this.samples.slice(0, Math.min(this.seen, this.samples.length)).sort();
  }

  reset(): void {
    this.requests = 0;
    this.successes = 0;
    this.errors = 0;
    this.notJudged = 0;
    this.seen = 0;
  }
}

/** Nearest-rank quantile of sorted values; NaN when there are none. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
