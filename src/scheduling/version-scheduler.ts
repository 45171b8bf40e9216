/**
 * Serving one model version: admission to its queue, deadlines and
 * cancellation while queued, batches run on the version's worker pool, and the
 * outputs split back to each request.
 */
import { performance } from 'node:perf_hooks';
import { hidePaths, ServingError, toServingError } from '../errors.js';
import type { Cancellation, InputTensor, OutputTensor } from '../types.js';
import type { ServerMetrics } from '../observability/metrics.js';
import { endSpan, startBatchSpan, startChildSpan, type Span } from '../observability/tracing.js';
import type { ModelPool } from '../runtime/model-pool.js';
import type { ModelSpec } from '../models/model-spec.js';
import { assembleBatch, splitOutputs, toOutputTensors } from './batch-tensors.js';
import { DynamicBatcher } from './batcher.js';
import type { QueuedItem } from './request-queue.js';
import { VersionStats } from './version-stats.js';

/** A request already validated against the model. */
export interface ScheduledRequest {
  /** In the model's input order. */
  inputs: InputTensor[];
  rows: number;
  signature: string;
  /** Priority level, 1 (the highest) to the model's priority_levels. */
  priority: number;
  /** Longest time the request may wait in the queue, in µs; 0 for no limit. */
  timeoutUs: number;
  /** The outputs to return, in the order to return them. */
  outputNames: string[];
  cancellation?: Cancellation;
  /** The request's span; its queue wait and batch are traced against it. */
  traceSpan?: Span;
}

interface Pending extends QueuedItem {
  request: ScheduledRequest;
  resolve(outputs: OutputTensor[]): void;
  reject(error: ServingError): void;
  timer: NodeJS.Timeout | undefined;
  queueSpan: Span | undefined;
}

/** Worker errors can carry file paths; clients get the gist without them. */
const scrub = (message: string): string => hidePaths(message).slice(0, 500);

export class VersionScheduler {
  private readonly batcher: DynamicBatcher<Pending>;
  private readonly inputNames: string[];

  constructor(
    private readonly spec: ModelSpec,
    private readonly pool: ModelPool,
    private readonly metrics?: ServerMetrics,
    /** Shared with earlier loads of the same version, so its counters go on from where they were. */
    readonly stats = new VersionStats(),
  ) {
    this.inputNames = spec.inputs.map((i) => i.name);
    this.batcher = new DynamicBatcher<Pending>(
      {
        maxBatchSize: Math.max(1, spec.maxBatchSize),
        preferredBatchSizes: spec.preferredBatchSizes,
        maxQueueDelayMs: spec.maxQueueDelayUs / 1000,
        maxQueueSize: spec.maxQueueSize,
        instances: spec.instances,
        priorityLevels: spec.priorityLevels,
      },
      (batch) => this.runBatch(batch),
    );
  }

  get queued(): number {
    return this.batcher.queued;
  }

  /** Whether a request submitted now would be refused: checked before a request is decoded. */
  get full(): boolean {
    return this.batcher.full;
  }

  /** Counts a request refused for want of room in the queue, and says why. */
  refuse(): ServingError {
    this.stats.dropped.rejected += 1;
    return new ServingError(
      'OVERLOADED',
      `model ${this.spec.name} version ${this.spec.version} is overloaded: its queue holds max_queue_size ${this.spec.maxQueueSize} requests`,
      1,
    );
  }

  submit(request: ScheduledRequest): Promise<OutputTensor[]> {
    const { cancellation } = request;
    if (cancellation?.cancelled) return Promise.reject(new ServingError('CANCELLED', 'request cancelled by the client'));
    return new Promise<OutputTensor[]>((resolve, reject) => {
      const item: Pending = {
        rows: request.rows,
        signature: request.signature,
        priority: request.priority,
        enqueuedAt: performance.now(),
        queued: true,
        request,
        resolve,
        reject,
        timer: undefined,
        queueSpan: startChildSpan(request.traceSpan, 'queue', { 'brisk.model': this.spec.name, 'brisk.version': this.spec.version }),
      };
      if (!this.batcher.enqueue(item)) {
        const refusal = this.refuse();
        endSpan(item.queueSpan, { code: refusal.code, message: refusal.message });
        reject(refusal);
        return;
      }
      if (request.timeoutUs > 0) {
        item.timer = setTimeout(() => this.expire(item), Math.max(1, Math.round(request.timeoutUs / 1000)));
      }
      cancellation?.onCancel(() => this.abandon(item));
    });
  }

  private expire(item: Pending): void {
    if (!this.batcher.cancel(item)) return;
    this.release(item);
    this.stats.dropped.timedOut += 1;
    endSpan(item.queueSpan, { code: 'DEADLINE_EXCEEDED', message: 'timed out in the queue' });
    item.reject(
      new ServingError('DEADLINE_EXCEEDED', `request timed out after waiting ${item.request.timeoutUs} µs in the queue`),
    );
  }

  private abandon(item: Pending): void {
    if (!this.batcher.cancel(item)) return;
    this.release(item);
    this.stats.dropped.cancelled += 1;
    endSpan(item.queueSpan, { code: 'CANCELLED', message: 'cancelled while queued' });
    item.reject(new ServingError('CANCELLED', 'request cancelled by the client'));
  }

  /** Answers every waiting request with `error` (shutdown past its deadline); running batches go on. */
  abandonQueued(error: ServingError): number {
    const waiting = this.batcher.drainQueue();
    for (const item of waiting) {
      this.release(item);
      endSpan(item.queueSpan, { code: error.code, message: error.message });
      item.reject(error);
    }
    return waiting.length;
  }

  /** Drops the timer and abort listener of a request leaving the queue. */
  private release(item: Pending): void {
    if (item.timer) clearTimeout(item.timer);
    item.request.cancellation?.onCancel(undefined);
  }

  /** Settles every request of the batch; never rejects. */
  private async runBatch(batch: Pending[]): Promise<void> {
    const started = performance.now();
    let rows = 0;
    for (const item of batch) {
      this.release(item);
      endSpan(item.queueSpan);
      rows += item.rows;
    }
    const span = startBatchSpan(
      `batch ${this.spec.name}/${this.spec.version}`,
      batch.map((item) => item.request.traceSpan),
      { 'brisk.model': this.spec.name, 'brisk.version': this.spec.version, 'brisk.batch_size': rows, 'brisk.requests': batch.length },
    );
    try {
      const { inputs, transfer } = assembleBatch(
        batch.map((item) => item.request.inputs),
        this.inputNames,
      );
      const outputNames = this.outputsFor(batch);
      const result = await this.pool.run(inputs, outputNames, transfer, this.spec.batchTimeoutMs);
      this.stats.recordBatch(rows, result.computeSeconds);
      this.metrics?.batchDone(
        this.spec.name,
        this.spec.version,
        rows,
        result.computeSeconds,
        batch.map((item) => (started - item.enqueuedAt) / 1000),
      );
      const outputs = toOutputTensors(result.outputs);
      const perRequest = this.spec.maxBatchSize > 0 ? splitOutputs(outputs, batch.map((i) => i.rows)) : [outputs];
      const finished = performance.now();
      batch.forEach((item, i) => {
        const mine = perRequest[i]!;
        this.stats.recordRequest(true, item.rows, finished - item.enqueuedAt, started - item.enqueuedAt);
        item.resolve(item.request.outputNames.map((name) => mine.find((o) => o.name === name)!));
      });
      span?.setAttribute('brisk.compute_seconds', result.computeSeconds);
      endSpan(span);
    } catch (error) {
      const failure =
        error instanceof ServingError
          ? error
          : new ServingError(
              'INTERNAL',
              `model ${this.spec.name} version ${this.spec.version} failed to run a batch of ${rows}: ${scrub(
                error instanceof Error ? error.message : String(error),
              )}`,
            );
      endSpan(span, { code: failure.code, message: failure.message });
      const finished = performance.now();
      for (const item of batch) {
        this.stats.recordRequest(false, item.rows, finished - item.enqueuedAt, started - item.enqueuedAt);
        item.reject(toServingError(failure));
      }
    }
  }

  /** The outputs the batch needs: the union of what its requests asked for, in model order. */
  private outputsFor(batch: Pending[]): string[] {
    const wanted = new Set<string>();
    for (const item of batch) for (const name of item.request.outputNames) wanted.add(name);
    return this.spec.outputs.map((o) => o.name).filter((name) => wanted.has(name));
  }
}
