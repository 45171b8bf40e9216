/**
 * The waiting room of one model version: holds queued requests and hands out the
 * next batch under a row budget. Pure and synchronous; the batcher around it
 * decides when to ask. Requests are grouped by priority level and by the shape
 * of their non-batch dimensions, because only requests of one shape can be
 * concatenated along the batch dimension.
 */

export interface QueuedItem {
  /** Rows this request adds to a batch: its batch dimension. */
  readonly rows: number;
  /** Requests batch together only when their signatures are equal. */
  readonly signature: string;
  /** 1 is the highest; larger numbers wait behind smaller ones. */
  readonly priority: number;
  /** When it entered the queue, in milliseconds (performance.now()). */
  readonly enqueuedAt: number;
  /** True while waiting; false once taken into a batch or removed. */
  queued: boolean;
}

/** FIFO of one group; removed items stay in place as tombstones until they reach the head. */
class Group<T extends QueuedItem> {
  private items: T[] = [];
  private head = 0;
  liveCount = 0;
  liveRows = 0;

  constructor(readonly priority: number) {}

  push(item: T): void {
    this.items.push(item);
    this.liveCount += 1;
    this.liveRows += item.rows;
  }

  forget(item: T): void {
    this.liveCount -= 1;
    this.liveRows -= item.rows;
  }

  /** The oldest live item, dropping tombstones in front of it. */
  peek(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head]!;
      if (item.queued) return item;
      this.head += 1;
    }
    this.compact();
    return undefined;
  }

  /** Takes live items in order while they fit in `budget` rows. */
  take(budget: number): T[] {
    const batch: T[] = [];
    let rows = 0;
    for (let item = this.peek(); item && rows + item.rows <= budget; item = this.peek()) {
      item.queued = false;
      this.head += 1;
      this.forget(item);
      batch.push(item);
      rows += item.rows;
    }
    this.compact();
    return batch;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export class RequestQueue<T extends QueuedItem> {
  private readonly groups = new Map<string, Group<T>>();
  private readonly groupOf = new WeakMap<T, Group<T>>();
  private count = 0;

  constructor(private readonly maxSize: number) {}

  /** Requests waiting. */
  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.maxSize;
  }

  /** False when the queue is full: the caller refuses the request. */
  tryPush(item: T): boolean {
    if (this.full) return false;
    const key = `${item.priority}|${item.signature}`;
    let group = this.groups.get(key);
    if (!group) {
      group = new Group<T>(item.priority);
      this.groups.set(key, group);
    }
    group.push(item);
    this.groupOf.set(item, group);
    this.count += 1;
    return true;
  }

  /** Takes a waiting request out (cancelled, timed out). False if it was not waiting. */
  remove(item: T): boolean {
    if (!item.queued) return false;
    item.queued = false;
    this.groupOf.get(item)?.forget(item);
    this.count -= 1;
    return true;
  }

  /** The group the next batch comes from: highest priority first, then the oldest head. */
  private nextGroup(): Group<T> | undefined {
    let best: Group<T> | undefined;
    let bestHead: T | undefined;
    for (const [key, group] of this.groups) {
      const head = group.peek();
      if (!head) {
        this.groups.delete(key);
        continue;
      }
      if (
        !best ||
        group.priority < best.priority ||
        (group.priority === best.priority && head.enqueuedAt < bestHead!.enqueuedAt)
      ) {
        best = group;
        bestHead = head;
      }
    }
    return best;
  }

  /** Arrival time of the request that has waited longest, if any waits. */
  oldestEnqueuedAt(): number | undefined {
    let oldest: number | undefined;
    for (const group of this.groups.values()) {
      const head = group.peek();
      if (head && (oldest === undefined || head.enqueuedAt < oldest)) oldest = head.enqueuedAt;
    }
    return oldest;
  }

  /** Rows the next batch could hold if taken now. */
  nextBatchRows(): number {
    return this.nextGroup()?.liveRows ?? 0;
  }

  /**
   * The next batch: requests of one group in arrival order, up to `maxRows` rows.
   * When fewer rows wait than `maxRows`, the largest preferred size they fill is
   * the budget (the rest wait for the next batch).
   */
  nextBatch(maxRows: number, preferredSizes: readonly number[] = []): T[] {
    const group = this.nextGroup();
    if (!group) return [];
    let budget = maxRows;
    if (group.liveRows < maxRows) {
      let preferred = 0;
      for (const size of preferredSizes) if (size <= group.liveRows && size > preferred) preferred = size;
      if (preferred > 0) budget = preferred;
    }
    const batch = group.take(budget);
    this.count -= batch.length;
    return batch;
  }
}
