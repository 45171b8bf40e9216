import { describe, expect, it } from 'vitest';
import { RequestQueue, type QueuedItem } from '../../src/scheduling/request-queue.js';

let clock = 0;
const item = (rows: number, signature = '', priority = 1): QueuedItem & { id: number } => ({
  rows,
  signature,
  priority,
  enqueuedAt: clock++,
  queued: true,
  id: clock,
});

describe('RequestQueue', () => {
  it('hands out requests in arrival order up to the row budget', () => {
    const queue = new RequestQueue(10);
    const items = [item(2), item(3), item(4)];
    items.forEach((i) => queue.tryPush(i));
    expect(queue.nextBatch(5)).toEqual([items[0], items[1]]);
    expect(queue.size).toBe(1);
    expect(queue.nextBatch(5)).toEqual([items[2]]);
    expect(queue.size).toBe(0);
  });

  it('refuses pushes beyond its size', () => {
    const queue = new RequestQueue(2);
    expect(queue.tryPush(item(1))).toBe(true);
    expect(queue.tryPush(item(1))).toBe(true);
    expect(queue.tryPush(item(1))).toBe(false);
    expect(queue.size).toBe(2);
  });

  it('never mixes signatures in one batch, and serves the oldest group first', () => {
    const queue = new RequestQueue(10);
    const a1 = item(1, 'a');
    const b1 = item(1, 'b');
    const a2 = item(1, 'a');
    [a1, b1, a2].forEach((i) => queue.tryPush(i));
    expect(queue.nextBatch(8)).toEqual([a1, a2]);
    expect(queue.nextBatch(8)).toEqual([b1]);
  });

  it('serves higher priority (smaller number) first when more than a batch waits', () => {
    const queue = new RequestQueue(10, 2);
    const low = item(1, '', 2);
    const high = item(1, '', 1);
    queue.tryPush(low);
    queue.tryPush(high);
    expect(queue.nextBatch(1)).toEqual([high]);
    expect(queue.nextBatch(1)).toEqual([low]);
  });

  // Issue 12, item 2: requests were grouped by priority|signature, so every distinct priority made its own batch.
  it('fills a batch from the highest level first and tops it up from lower levels', () => {
    const queue = new RequestQueue(10, 4);
    const low = [item(1, '', 3), item(1, '', 3), item(1, '', 3)];
    const middle = item(1, '', 2);
    const high = [item(1, '', 1), item(1, '', 1)];
    [...low, middle, ...high].forEach((i) => queue.tryPush(i));
    expect(queue.nextBatchRows()).toBe(6);
    expect(queue.nextBatch(5)).toEqual([...high, middle, low[0], low[1]]);
    expect(queue.nextBatch(5)).toEqual([low[2]]);
  });

  it('makes one full batch of requests with mixed levels', () => {
    const queue = new RequestQueue(100, 4);
    const items = Array.from({ length: 64 }, (_, i) => item(1, '', 1 + ((i * 7) % 4)));
    items.forEach((i) => queue.tryPush(i));
    const batch = queue.nextBatch(64);
    expect(batch.length).toBe(64);
    // Level by level, each in arrival order.
    expect(batch).toEqual([...items].sort((a, b) => a.priority - b.priority || a.enqueuedAt - b.enqueuedAt));
  });

  it('lets no lower level overtake a request that does not fit', () => {
    const queue = new RequestQueue(10, 2);
    const first = item(2, '', 1);
    const large = item(3, '', 1);
    const small = item(1, '', 2);
    [first, large, small].forEach((i) => queue.tryPush(i));
    expect(queue.nextBatch(4)).toEqual([first]);
    expect(queue.nextBatch(4)).toEqual([large, small]);
  });

  it('takes the signature with the highest level waiting, then the oldest request at that level', () => {
    const queue = new RequestQueue(10, 3);
    const olderLow = item(1, 'a', 3);
    const high = item(1, 'b', 1);
    const olderMiddle = item(1, 'c', 2);
    const newerMiddle = item(1, 'a', 2);
    [olderLow, olderMiddle, high, newerMiddle].forEach((i) => queue.tryPush(i));
    expect(queue.nextBatch(8)).toEqual([high]);
    expect(queue.nextBatch(8)).toEqual([olderMiddle]);
    expect(queue.nextBatch(8)).toEqual([newerMiddle, olderLow]);
    expect(queue.oldestEnqueuedAt()).toBeUndefined();
  });

  it('refuses a level outside 1..levels: the caller checks priorities, the queue never invents groups', () => {
    const queue = new RequestQueue(10, 2);
    for (const level of [0, 3, 2 ** 31 - 1, 1.5]) expect(() => queue.tryPush(item(1, '', level))).toThrow(RangeError);
    expect(queue.size).toBe(0);
  });

  it('skips removed requests and frees their place', () => {
    const queue = new RequestQueue(2);
    const first = item(1);
    const second = item(1);
    queue.tryPush(first);
    queue.tryPush(second);
    expect(queue.remove(first)).toBe(true);
    expect(queue.remove(first)).toBe(false);
    expect(queue.size).toBe(1);
    expect(queue.tryPush(item(1))).toBe(true);
    expect(queue.nextBatch(8).map((i) => i.rows)).toEqual([1, 1]);
    expect(queue.nextBatchRows()).toBe(0);
  });

  it('reports the oldest waiting request after removals, at any level', () => {
    const queue = new RequestQueue(4, 2);
    const first = item(1);
    const second = item(1, 'x', 2);
    const third = item(1, 'x', 1);
    [first, second, third].forEach((i) => queue.tryPush(i));
    queue.remove(first);
    expect(queue.oldestEnqueuedAt()).toBe(second.enqueuedAt);
  });

  it('takes the largest preferred size the waiting rows fill', () => {
    const queue = new RequestQueue(20);
    for (let i = 0; i < 7; i++) queue.tryPush(item(1));
    expect(queue.nextBatch(16, [2, 4]).length).toBe(4);
    expect(queue.nextBatch(16, [2, 4]).length).toBe(2);
    expect(queue.nextBatch(16, [2, 4]).length).toBe(1);
  });

  it('takes a full batch when more rows wait than the maximum', () => {
    const queue = new RequestQueue(40);
    for (let i = 0; i < 20; i++) queue.tryPush(item(1));
    expect(queue.nextBatch(16, [4, 8]).length).toBe(16);
  });

  it('stays correct over many pushes and removals (tombstone compaction)', () => {
    const queue = new RequestQueue(100_000);
    const kept: QueuedItem[] = [];
    for (let i = 0; i < 5000; i++) {
      const it = item(1);
      queue.tryPush(it);
      if (i % 3 === 0) kept.push(it);
      else queue.remove(it);
    }
    const out: QueuedItem[] = [];
    for (let batch = queue.nextBatch(64); batch.length; batch = queue.nextBatch(64)) out.push(...batch);
    expect(out).toEqual(kept);
  });
});

describe('RequestQueue under a starved level', () => {
  it('stays correct while requests behind a waiting head are cancelled by the thousand', () => {
    const queue = new RequestQueue(100_000, 2);
    const head = item(1, '', 2);
    queue.tryPush(head);
    const kept: QueuedItem[] = [head];
    for (let i = 0; i < 5000; i++) {
      const it = item(1, '', 2);
      queue.tryPush(it);
      if (i % 100 === 0) kept.push(it);
      else queue.remove(it);
    }
    expect(queue.size).toBe(kept.length);
    expect(queue.oldestEnqueuedAt()).toBe(head.enqueuedAt);
    expect(queue.nextBatch(1000)).toEqual(kept);
  });
});
