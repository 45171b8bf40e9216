import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamicBatcher, type BatchPolicy } from '../../src/scheduling/batcher.js';
import type { QueuedItem } from '../../src/scheduling/request-queue.js';

interface Item extends QueuedItem {
  id: number;
}

let now = 0;
let nextId = 0;
const item = (rows = 1): Item => ({ rows, signature: '', priority: 1, enqueuedAt: now, queued: true, id: nextId++ });

/** A batcher whose batches finish only when the test says so. */
function harness(policy: Partial<BatchPolicy>) {
  const batches: Item[][] = [];
  const finishers: (() => void)[] = [];
  const batcher = new DynamicBatcher<Item>(
    { maxBatchSize: 8, preferredBatchSizes: [], maxQueueDelayMs: 5, maxQueueSize: 100, instances: 1, ...policy },
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
      { maxBatchSize: 8, preferredBatchSizes: [], maxQueueDelayMs: 0, maxQueueSize: 10, instances: 1 },
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
