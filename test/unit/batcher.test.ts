import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamicBatcher, type BatchPolicy } from '../../src/scheduling/batcher.js';
import type { QueuedItem } from '../../src/scheduling/request-queue.js';

interface Item extends QueuedItem {
  id: number;
}

let now = 0;
let nextId = 0;
const item = (rows = 1, priority = 1): Item => ({ rows, signature: '', priority, enqueuedAt: now, queued: true, id: nextId++ });

/** A batcher whose batches finish only when the test says so. */
function harness(policy: Partial<BatchPolicy>) {
  const batches: Item[][] = [];
  const finishers: (() => void)[] = [];
  const batcher = new DynamicBatcher<Item>(
    { maxBatchSize: 8, preferredBatchSizes: [], maxQueueDelayMs: 5, maxQueueSize: 100, instances: 1, priorityLevels: 4, ...policy },
    (batch) => {
      batches.push(batch);
      return new Promise<void>((resolve) => finishers.push(resolve));
    },
    () => now,
  );
  const finishNext = async (): Promise<void> => {
    finishers.shift()!();
    await vi.runOnlyPendingTimersAsync();
  };
  return { batcher, batches, finishNext };
}

describe('DynamicBatcher', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate'] });
    now = 0;
  });
  afterEach(() => vi.useRealTimers());

  it('runs a lone request at once when the model is idle, without waiting out the delay', async () => {
    const { batcher, batches } = harness({ maxQueueDelayMs: 1000 });
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.map((b) => b.length)).toEqual([1]);
  });

  it('gathers requests that arrive in the same turn into one batch', async () => {
    const { batcher, batches } = harness({});
    for (let i = 0; i < 5; i++) batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.map((b) => b.length)).toEqual([5]);
  });

  it('queues while every instance is busy and runs what waited when one frees up', async () => {
    const { batcher, batches, finishNext } = harness({});
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 3; i++) batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(100);
    expect(batches.length).toBe(1);
    expect(batcher.queued).toBe(3);
    await finishNext();
    expect(batches.map((b) => b.length)).toEqual([1, 3]);
  });

  it('splits a backlog larger than max_batch_size into full batches', async () => {
    const { batcher, batches, finishNext } = harness({ maxBatchSize: 4 });
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 10; i++) batcher.enqueue(item());
    await finishNext();
    await finishNext();
    await finishNext();
    expect(batches.map((b) => b.length)).toEqual([1, 4, 4, 2]);
  });

  it('starts a second instance only for a full batch or after max_queue_delay', async () => {
    const { batcher, batches } = harness({ instances: 2, maxBatchSize: 4, maxQueueDelayMs: 5 });
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.length).toBe(1);
    // Waits for the delay with a partial batch ...
    now = 4;
    await vi.advanceTimersByTimeAsync(4);
    expect(batches.length).toBe(1);
    now = 5;
    await vi.advanceTimersByTimeAsync(1);
    expect(batches.map((b) => b.length)).toEqual([1, 1]);
  });

  it('starts a second instance at once when the waiting rows fill a batch', async () => {
    const { batcher, batches } = harness({ instances: 2, maxBatchSize: 4, maxQueueDelayMs: 1000 });
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 4; i++) batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.map((b) => b.length)).toEqual([1, 4]);
  });

  // Issue 12, item 2: requests of distinct priorities never shared a batch.
  it('runs the highest level first and fills each batch from lower levels', async () => {
    const { batcher, batches, finishNext } = harness({ maxBatchSize: 4 });
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    const low = [4, 3, 4, 2, 3].map((level) => item(1, level));
    const high = [item(1, 1), item(1, 1), item(1, 1)];
    [...low, ...high].forEach((i) => batcher.enqueue(i));
    await finishNext();
    await finishNext();
    expect(batches.slice(1)).toEqual([
      [...high, low[3]],
      [low[1], low[4], low[0], low[2]],
    ]);
  });

  it('counts rows of every level toward a full batch', async () => {
    const { batcher, batches } = harness({ instances: 2, maxBatchSize: 4, maxQueueDelayMs: 1000 });
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    for (const level of [1, 2, 3, 4]) batcher.enqueue(item(1, level));
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.map((b) => b.map((i) => i.priority))).toEqual([[1], [1, 2, 3, 4]]);
  });

  it('refuses requests past max_queue_size', async () => {
    const { batcher } = harness({ maxQueueSize: 2 });
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    expect(batcher.enqueue(item())).toBe(true);
    expect(batcher.enqueue(item())).toBe(true);
    expect(batcher.enqueue(item())).toBe(false);
  });

  it('never runs a request cancelled while it waited', async () => {
    const { batcher, batches, finishNext } = harness({});
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    const cancelled = item();
    const kept = item();
    batcher.enqueue(cancelled);
    batcher.enqueue(kept);
    expect(batcher.cancel(cancelled)).toBe(true);
    await finishNext();
    expect(batches[1]).toEqual([kept]);
    expect(batcher.cancel(kept)).toBe(false);
  });

  it('keeps going after a batch fails', async () => {
    const batches: number[] = [];
    const batcher = new DynamicBatcher<Item>(
      { maxBatchSize: 8, preferredBatchSizes: [], maxQueueDelayMs: 0, maxQueueSize: 10, instances: 1, priorityLevels: 1 },
      async (batch) => {
        batches.push(batch.length);
        throw new Error('boom');
      },
      () => now,
    );
    batcher.enqueue(item());
    await vi.advanceTimersByTimeAsync(0);
    batcher.enqueue(item());
    await vi.runOnlyPendingTimersAsync();
    expect(batches).toEqual([1, 1]);
  });
});
