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

  it('serves higher priority (smaller number) first', () => {
    const queue = new RequestQueue(10);
    const low = item(1, '', 2);
    const high = item(1, '', 1);
    queue.tryPush(low);
    queue.tryPush(high);
    expect(queue.nextBatch(8)).toEqual([high]);
    expect(queue.nextBatch(8)).toEqual([low]);
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

  it('reports the oldest waiting request after removals', () => {
    const queue = new RequestQueue(4);
    const first = item(1);
    const second = item(1, 'x');
    queue.tryPush(first);
    queue.tryPush(second);
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
