/**
 * The current window of one version: bin counts over the last window_seconds, as a
 * ring of SUB_WINDOWS sub-windows. A batch's counts are added to the sub-window of
 * now (one add per bin per batch); a sub-window older than the window is cleared when
 * its slot comes round again and left out of sums before then. So the window covers
 * between window_seconds × (1 − 1/SUB_WINDOWS) and window_seconds of traffic.
 * The clock is monotonic by default: a wall clock set back would leave sub-windows from
 * its "future" in every sum until their slots came round again.
 */
import { performance } from 'node:perf_hooks';

export const SUB_WINDOWS = 10;

export class DriftWindow {
  private readonly slots: Float64Array[];
  /** Which sub-window (time / slotMs, floored) each slot holds; -1 for none. */
  private readonly epochs: Float64Array;
  private readonly slotMs: number;
  /** Bumped on every add: a cached report knows whether it is still current. */
  changes = 0;

  constructor(
    /** Counts per sub-window; the last is the rows counted. */
    readonly size: number,
    windowSeconds: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.slotMs = (windowSeconds * 1000) / SUB_WINDOWS;
    this.slots = Array.from({ length: SUB_WINDOWS }, () => new Float64Array(size));
    this.epochs = new Float64Array(SUB_WINDOWS).fill(-1);
  }

  /** Adds counts of `size` entries (a batch's, from its worker). */
  add(counts: ArrayLike<number>): void {
    const epoch = Math.floor(this.now() / this.slotMs);
    const index = epoch % SUB_WINDOWS;
    const slot = this.slots[index]!;
    if (this.epochs[index] !== epoch) {
      slot.fill(0);
      this.epochs[index] = epoch;
    }
    const n = this.size;
    for (let i = 0; i < n; i++) slot[i]! += counts[i]!;
    this.changes += 1;
  }

  /** Whether slot s holds a sub-window inside the window ending at `epoch` (none from after it: a clock set back). */
  private inside(s: number, epoch: number): boolean {
    const e = this.epochs[s]!;
    return e >= 0 && e > epoch - SUB_WINDOWS && e <= epoch;
  }

  /** The counts of the sub-windows still inside the window, summed. */
  sum(): Float64Array {
    const epoch = Math.floor(this.now() / this.slotMs);
    const sum = new Float64Array(this.size);
    for (let s = 0; s < SUB_WINDOWS; s++) {
      if (!this.inside(s, epoch)) continue;
      const slot = this.slots[s]!;
      for (let i = 0; i < this.size; i++) sum[i]! += slot[i]!;
    }
    return sum;
  }

  /** Rows counted in the window. */
  rows(): number {
    const epoch = Math.floor(this.now() / this.slotMs);
    let rows = 0;
    for (let s = 0; s < SUB_WINDOWS; s++) {
      if (!this.inside(s, epoch)) continue;
      rows += this.slots[s]![this.size - 1]!;
    }
    return rows;
  }
}
