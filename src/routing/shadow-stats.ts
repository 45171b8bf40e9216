/**
 * Shadow figures per route and shadow target, kept in one place that the admin
 * API and the metrics read. Keys come from configured routes only.
 */
import type { Comparison } from './shadow-compare.js';

export class ShadowStats {
  /** Requests mirrored and compared. */
  compared = 0;
  /** Shadow runs that failed, timed out or could not be compared. */
  errors = 0;
  /** Copies not run because the shadow queue was full: shadow work is shed first. */
  dropped = 0;
  maxAbsDiff = 0;
  sumMeanAbsDiff = 0;
  argmaxAgreed = 0;
  argmaxRows = 0;

  record(c: Comparison): void {
    this.compared += 1;
    if (c.maxAbsDiff > this.maxAbsDiff) this.maxAbsDiff = c.maxAbsDiff;
    this.sumMeanAbsDiff += c.meanAbsDiff;
    this.argmaxAgreed += c.argmaxAgreed;
    this.argmaxRows += c.argmaxRows;
  }

  /** Mean over compared requests of each request's mean absolute difference. */
  get meanAbsDiff(): number {
    return this.compared ? this.sumMeanAbsDiff / this.compared : 0;
  }

  /** Share of class-score rows whose argmax agreed; null when no class scores were compared. */
  get argmaxAgreement(): number | null {
    return this.argmaxRows ? this.argmaxAgreed / this.argmaxRows : null;
  }

  toJSON(): Record<string, number | null> {
    return {
      compared: this.compared,
      errors: this.errors,
      dropped: this.dropped,
      max_abs_diff: this.maxAbsDiff,
      mean_abs_diff: this.meanAbsDiff,
      argmax_agreement: this.argmaxAgreement,
    };
  }
}

export class ShadowStatsTable {
  private readonly byKey = new Map<string, { route: string; shadow: string; stats: ShadowStats }>();

  for(route: string, shadow: string): ShadowStats {
    const key = `${route}\u0000${shadow}`;
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = { route, shadow, stats: new ShadowStats() };
      this.byKey.set(key, entry);
    }
    return entry.stats;
  }

  all(): readonly { route: string; shadow: string; stats: ShadowStats }[] {
    return [...this.byKey.values()];
  }
}
