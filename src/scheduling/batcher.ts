/**
 * When to form a batch. One per model version; it owns the request queue and
 * calls `execute` with each batch, at most `instances` batches at a time.
 *
 * Policy (documented in the README):
 * - An idle model never makes a request wait: when no batch of the model is
 *   running, whatever is queued runs at once. Requests that arrive in the same
 *   turn of the event loop are gathered first (the decision is taken in a
 *   setImmediate), so a burst still makes one batch.
 * - While batches run, waiting requests form the next batch: one is started on a
 *   free instance once the waiting rows fill a batch (max_batch_size, or the
 *   largest preferred size) or the oldest request has waited max_queue_delay_us.
 * - When every instance is busy, requests wait; a finishing batch triggers the
 *   next decision. Under load batches therefore grow by themselves.
 */
import { performance } from 'node:perf_hooks';
import { RequestQueue, type QueuedItem } from './request-queue.js';

export interface BatchPolicy {
  maxBatchSize: number;
  preferredBatchSizes: readonly number[];
  maxQueueDelayMs: number;
  maxQueueSize: number;
  instances: number;
  /** Priority levels 1..priorityLevels (1 the highest) that requests may carry. */
  priorityLevels: number;
}

export class DynamicBatcher<T extends QueuedItem> {
  private readonly queue: RequestQueue<T>;
  private readonly fullRows: number;
  private running = 0;
  private decisionPending = false;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;

  constructor(
    private readonly policy: BatchPolicy,
    private readonly execute: (batch: T[]) => Promise<void>,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.queue = new RequestQueue<T>(policy.maxQueueSize, policy.priorityLevels);
    this.fullRows = policy.preferredBatchSizes.length
      ? Math.max(...policy.preferredBatchSizes)
      : policy.maxBatchSize;
  }

  get queued(): number {
    return this.queue.size;
  }

  /** Whether enqueue would refuse a request now. */
  get full(): boolean {
    return this.queue.full;
  }

  /** False when the queue is full; the caller must refuse the request. */
  enqueue(item: T): boolean {
    if (!this.queue.tryPush(item)) return false;
    this.scheduleDecision();
    return true;
  }

  /** Takes a request out of the queue; false if it had already left it. */
  cancel(item: T): boolean {
    return this.queue.remove(item);
  }

  /** Empties the queue (shutdown); returns what was waiting. */
  drainQueue(): T[] {
    const all: T[] = [];
    for (let batch = this.queue.nextBatch(Number.MAX_SAFE_INTEGER); batch.length; batch = this.queue.nextBatch(Number.MAX_SAFE_INTEGER)) {
      all.push(...batch);
    }
    return all;
  }

  private scheduleDecision(): void {
    if (this.decisionPending) return;
    this.decisionPending = true;
    setImmediate(this.decide);
  }

  private readonly decide = (): void => {
    this.decisionPending = false;
    const { instances, maxBatchSize, maxQueueDelayMs, preferredBatchSizes } = this.policy;
    while (this.running < instances && this.queue.size > 0) {
      const waitedMs = this.now() - (this.queue.oldestEnqueuedAt() ?? this.now());
      const ready = this.running === 0 || waitedMs >= maxQueueDelayMs || this.queue.nextBatchRows() >= this.fullRows;
      if (!ready) {
        this.armTimer(maxQueueDelayMs - waitedMs);
        return;
      }
      const batch = this.queue.nextBatch(maxBatchSize, preferredBatchSizes);
      if (batch.length === 0) return;
      this.running += 1;
      // execute settles every request itself; either way the instance is free again.
      this.execute(batch).then(this.batchDone, this.batchDone);
    }
  };

  private readonly batchDone = (): void => {
    this.running -= 1;
    this.scheduleDecision();
  };

  private armTimer(delayMs: number): void {
    const due = this.now() + delayMs;
    if (this.timer && due >= this.timerDue) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Number.POSITIVE_INFINITY;
      this.decide();
    }, Math.max(0, Math.ceil(delayMs)));
    this.timer.unref();
  }
}
