/**
 * The waiting room of one model version: holds queued requests and hands out the
 * next batch under a row budget. Pure and synchronous; the batcher around it
 * decides when to ask.
 *
 * Requests are grouped by signature, the shape of their non-batch dimensions,
 * because only requests of one shape can be concatenated along the batch
 * dimension; within a signature, by priority level (Triton's model: levels 1 to
 * `levels`, 1 the highest). A batch is filled from its signature's highest level
 * first and topped up from the lower ones, so priority orders the queue and never
 * shrinks a batch. A decision looks at each level of each signature once: its
 * cost is bounded by levels × signatures, never by the requests waiting.
 */

export interface QueuedItem {
  /** Rows this request adds to a batch: its batch dimension. */
  readonly rows: number;
  /** Requests batch together only when their signatures are equal. */
  readonly signature: string;
  /** Its level, 1 (the highest) to the queue's levels; larger numbers wait behind smaller ones. */
  readonly priority: number;
  /** When it entered the queue, in milliseconds (performance.now()). */
  readonly enqueuedAt: number;
  /** True while waiting; false once taken into a batch or removed. */
  queued: boolean;
}

/**
 * Arrival order of one level of one signature. Removed items stay in place as
 * tombstones until they reach the head, or until they outnumber the live ones:
 * a head that waits long (a starved low level) must not pin every request
 * cancelled behind it.
 */
class Fifo<T extends QueuedItem> {
  private items: T[] = [];
  private head = 0;
  liveCount = 0;

  push(item: T): void {
    this.items.push(item);
    this.liveCount += 1;
  }

  forget(): void {
    this.liveCount -= 1;
    const tombstones = this.items.length - this.head - this.liveCount;
    if (this.liveCount === 0) this.reset();
    else if (tombstones > 1024 && tombstones > this.liveCount) {
      this.items = this.items.slice(this.head).filter((item) => item.queued);
      this.head = 0;
    }
  }

  /** The oldest live item, dropping tombstones in front of it. */
  peek(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head]!;
      if (item.queued) return item;
      this.head += 1;
    }
    this.reset();
    return undefined;
  }

  /** Moves live items, in order, into `batch` while they fit in `room` rows; returns the rows taken. */
  takeInto(batch: T[], room: number): number {
    let rows = 0;
    for (let item = this.peek(); item && rows + item.rows <= room; item = this.peek()) {
      item.queued = false;
      this.head += 1;
      this.liveCount -= 1;
      batch.push(item);
      rows += item.rows;
    }
    if (this.head === this.items.length) this.reset();
    else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return rows;
  }

  private reset(): void {
    this.items = [];
    this.head = 0;
  }
}

/** The requests of one signature: a FIFO per level, created when a level is first used. */
class SignatureQueue<T extends QueuedItem> {
  /** Index 0 holds level 1. */
  private readonly levels: (Fifo<T> | undefined)[];
  liveCount = 0;
  liveRows = 0;

  constructor(levelCount: number) {
    this.levels = new Array<Fifo<T> | undefined>(levelCount).fill(undefined);
  }

  push(item: T): void {
    (this.levels[item.priority - 1] ??= new Fifo<T>()).push(item);
    this.liveCount += 1;
    this.liveRows += item.rows;
  }

  forget(item: T): void {
    this.levels[item.priority - 1]!.forget();
    this.liveCount -= 1;
    this.liveRows -= item.rows;
  }

  /** The highest level holding a live request, as an index; -1 when none does. */
  topLevel(): number {
    for (let i = 0; i < this.levels.length; i++) if ((this.levels[i]?.liveCount ?? 0) > 0) return i;
    return -1;
  }

  /** The oldest live request at level index `level`. */
  headAt(level: number): T | undefined {
    return this.levels[level]?.peek();
  }

  /** Arrival time of the request of this signature that has waited longest, at any level. */
  oldestEnqueuedAt(): number | undefined {
    let oldest: number | undefined;
    for (const fifo of this.levels) {
      const head = fifo?.peek();
      if (head && (oldest === undefined || head.enqueuedAt < oldest)) oldest = head.enqueuedAt;
    }
    return oldest;
  }

  /** Highest level first, each in arrival order, while requests fit in `budget` rows. */
  take(budget: number): T[] {
    const batch: T[] = [];
    let room = budget;
    for (const fifo of this.levels) {
      if (!fifo) continue;
      room -= fifo.takeInto(batch, room);
      // A request that does not fit keeps its place: no lower level overtakes it.
      if (fifo.liveCount > 0) break;
    }
    this.liveCount -= batch.length;
    this.liveRows -= budget - room;
    return batch;
  }
}

export class RequestQueue<T extends QueuedItem> {
  private readonly signatures = new Map<string, SignatureQueue<T>>();
  private readonly queueOf = new WeakMap<T, SignatureQueue<T>>();
  private count = 0;

  /** `levels`: priority levels 1..levels; the caller has checked every request's level against it. */
  constructor(
    private readonly maxSize: number,
    private readonly levels = 1,
  ) {}

  /** Requests waiting. */
  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.maxSize;
  }

  /** False when the queue is full: the caller refuses the request. */
  tryPush(item: T): boolean {
    if (!(item.priority >= 1 && item.priority <= this.levels && Number.isInteger(item.priority))) {
      throw new RangeError(`priority level ${item.priority} is outside 1..${this.levels}`);
    }
    if (this.full) return false;
    let queue = this.signatures.get(item.signature);
    if (!queue) {
      queue = new SignatureQueue<T>(this.levels);
      this.signatures.set(item.signature, queue);
    }
    queue.push(item);
    this.queueOf.set(item, queue);
    this.count += 1;
    return true;
  }

  /** Takes a waiting request out (cancelled, timed out). False if it was not waiting. */
  remove(item: T): boolean {
    if (!item.queued) return false;
    item.queued = false;
    this.queueOf.get(item)?.forget(item);
    this.count -= 1;
    return true;
  }

  /** The signature the next batch comes from: the highest level waiting, then the oldest request at that level. */
  private nextSignature(): SignatureQueue<T> | undefined {
    let best: SignatureQueue<T> | undefined;
    let bestLevel = Number.POSITIVE_INFINITY;
    let bestAt = Number.POSITIVE_INFINITY;
    for (const [signature, queue] of this.signatures) {
      if (queue.liveCount === 0) {
        this.signatures.delete(signature);
        continue;
      }
      const level = queue.topLevel();
      if (level > bestLevel) continue;
      const at = queue.headAt(level)!.enqueuedAt;
      if (level < bestLevel || at < bestAt) {
        best = queue;
        bestLevel = level;
        bestAt = at;
      }
    }
    return best;
  }

  /** Arrival time of the request that has waited longest, if any waits. */
  oldestEnqueuedAt(): number | undefined {
    let oldest: number | undefined;
    for (const queue of this.signatures.values()) {
      const at = queue.oldestEnqueuedAt();
      if (at !== undefined && (oldest === undefined || at < oldest)) oldest = at;
    }
    return oldest;
  }

  /** Rows the next batch could hold if taken now. */
  nextBatchRows(): number {
    return this.nextSignature()?.liveRows ?? 0;
  }

  /**
   * The next batch: requests of one signature, highest level first and in
   * arrival order within a level, up to `maxRows` rows. When fewer rows wait than
   * `maxRows`, the largest preferred size they fill is the budget (the rest wait
   * for the next batch).
   */
  nextBatch(maxRows: number, preferredSizes: readonly number[] = []): T[] {
    const queue = this.nextSignature();
    if (!queue) return [];
    let budget = maxRows;
    if (queue.liveRows < maxRows) {
      let preferred = 0;
      for (const size of preferredSizes) if (size <= queue.liveRows && size > preferred) preferred = size;
      if (preferred > 0) budget = preferred;
    }
    const batch = queue.take(budget);
    this.count -= batch.length;
    return batch;
  }
}
