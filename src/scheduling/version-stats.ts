/**
 * Counters of one model version in the shape of Triton's statistics extension,
 * so existing tools read them. Inferences count rows; executions count batches:
 * their ratio is the batching efficiency.
 */
export interface Duration {
  count: number;
  ns: number;
}

const duration = (): Duration => ({ count: 0, ns: 0 });

export class VersionStats {
  inferenceCount = 0;
  executionCount = 0;
  /** Set once per successful batch (Date.now() per request costs more than the rest of this). */
  lastInferenceMs = 0;
  readonly success = duration();
  readonly fail = duration();
  readonly queue = duration();
  readonly computeInfer = duration();
  /** Batches by size (rows): how many ran and their compute time. */
  readonly batches = new Map<number, Duration>();
  /** Requests that left the queue without running, by reason. */
  readonly dropped = { cancelled: 0, timedOut: 0, rejected: 0 };

  recordBatch(rows: number, computeSeconds: number): void {
    const ns = computeSeconds * 1e9;
    this.executionCount += 1;
    this.computeInfer.count += 1;
    this.computeInfer.ns += ns;
    let entry = this.batches.get(rows);
    if (!entry) {
      entry = duration();
      this.batches.set(rows, entry);
    }
    entry.count += 1;
    entry.ns += ns;
  }

  recordRequest(ok: boolean, rows: number, totalMs: number, queueMs: number): void {
    const target = ok ? this.success : this.fail;
    target.count += 1;
    target.ns += totalMs * 1e6;
    if (ok) {
      this.inferenceCount += rows;
      this.queue.count += 1;
      this.queue.ns += queueMs * 1e6;
    }
  }
}
