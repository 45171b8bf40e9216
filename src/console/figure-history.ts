/**
 * The last 15 minutes of each version's live figures, for the console's charts.
 * A sample every 2 s turns the serving core's cumulative counters into rates;
 * each version keeps a fixed-size ring of columns, so memory is bounded whatever
 * the uptime, and a version no longer served is dropped at the next sample.
 */

/** Cumulative counters and current gauges of one version, as the core reports them. */
export interface VersionReading {
  model: string;
  version: string;
  /** Requests answered, successful and failed, since start. */
  success: number;
  fail: number;
  /** Rows inferred and batches run since start. */
  inferences: number;
  executions: number;
  /** Requests waiting in its queue now. */
  queued: number;
  /** Latency of the last minute's successful requests, in seconds. */
  p50: number;
  p95: number;
  p99: number;
}

export const SAMPLE_INTERVAL_MS = 2000;
export const HISTORY_SECONDS = 15 * 60;
const CAPACITY = (HISTORY_SECONDS * 1000) / SAMPLE_INTERVAL_MS;

/** Columns in chart order; a null is a point with no figure (no request in that sample). */
export const COLUMNS = ['t', 'rps', 'error_rate', 'p50_ms', 'p95_ms', 'p99_ms', 'avg_batch', 'queue'] as const;
export type Column = (typeof COLUMNS)[number];

class Ring {
  private readonly columns = COLUMNS.map(() => new Float64Array(CAPACITY));
  private next = 0;
  private size = 0;
  last: VersionReading;
  lastAtMs: number;

  constructor(reading: VersionReading, atMs: number) {
    this.last = reading;
    this.lastAtMs = atMs;
  }

  push(values: readonly (number | null)[]): void {
    values.forEach((v, i) => (this.columns[i]![this.next] = v ?? Number.NaN));
    this.next = (this.next + 1) % CAPACITY;
    this.size = Math.min(this.size + 1, CAPACITY);
  }

  /** Oldest first, NaN as null (JSON has no NaN). */
  toColumns(): (number | null)[][] {
    const start = (this.next - this.size + CAPACITY) % CAPACITY;
    return this.columns.map((column) => {
      const out: (number | null)[] = new Array(this.size);
      for (let i = 0; i < this.size; i++) {
        const v = column[(start + i) % CAPACITY]!;
        out[i] = Number.isNaN(v) ? null : Math.round(v * 1000) / 1000;
      }
      return out;
    });
  }

  latest(): Record<Column, number | null> | undefined {
    if (this.size === 0) return undefined;
    const at = (this.next - 1 + CAPACITY) % CAPACITY;
    return Object.fromEntries(COLUMNS.map((c, i) => [c, Number.isNaN(this.columns[i]![at]!) ? null : this.columns[i]![at]!])) as Record<Column, number | null>;
  }
}

export class FigureHistory {
  private readonly rings = new Map<string, Ring>();

  /** Takes one sample of every version; the first reading of a version only sets its baseline. */
  sample(readings: readonly VersionReading[], atMs: number): void {
    const seen = new Set<string>();
    for (const r of readings) {
      const key = `${r.model}/${r.version}`;
      seen.add(key);
      const ring = this.rings.get(key);
      if (!ring) {
        this.rings.set(key, new Ring(r, atMs));
        continue;
      }
      const seconds = (atMs - ring.lastAtMs) / 1000;
      if (seconds <= 0) continue;
      const answered = r.success - ring.last.success + (r.fail - ring.last.fail);
      const failed = r.fail - ring.last.fail;
      const rows = r.inferences - ring.last.inferences;
      const batches = r.executions - ring.last.executions;
      const hasLatency = r.p50 > 0 || r.p99 > 0;
      ring.push([
        atMs,
        Math.max(0, answered) / seconds,
        answered > 0 ? failed / answered : null,
        hasLatency ? r.p50 * 1000 : null,
        hasLatency ? r.p95 * 1000 : null,
        hasLatency ? r.p99 * 1000 : null,
        batches > 0 ? rows / batches : null,
        r.queued,
      ]);
      ring.last = r;
      ring.lastAtMs = atMs;
    }
    for (const key of this.rings.keys()) if (!seen.has(key)) this.rings.delete(key);
  }

  latest(key: string): Record<Column, number | null> | undefined {
    return this.rings.get(key)?.latest();
  }

  series(key: string): (number | null)[][] | undefined {
    return this.rings.get(key)?.toColumns();
  }
}
