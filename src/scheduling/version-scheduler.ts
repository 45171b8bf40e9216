/**
 * Serving one model version: admission to its queue, deadlines and
 * cancellation while queued, batches run on the version's worker pool, and the
 * outputs split back to each request.
 */
import { performance } from 'node:perf_hooks';
import { hidePaths, ServingError } from '../errors.js';
import type { Cancellation, InputTensor, OutputTensor } from '../types.js';
import type { ServerMetrics, VersionRecorder } from '../observability/metrics.js';
import { endSpan, startBatchSpan, startChildSpan, type Span } from '../observability/tracing.js';
import type { Capture, DriftMonitor } from '../drift/drift-monitor.js';
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
  /** The outputs to return, in the order to return them; the spec's own list when the request named none. */
  outputNames: readonly string[];
  cancellation: Cancellation | undefined;
  /** The request's span; its queue wait and batch are traced against it. */
  traceSpan: Span | undefined;
}

/** Called once per submitted request: with its outputs, or with why it has none. */
export type SubmitCallback = (error: ServingError | undefined, outputs: OutputTensor[] | undefined) => void;

/** One waiting request. A class, so every one has the same shape on the hot path. */
class Pending implements QueuedItem {
  queued = true;
  timer: NodeJS.Timeout | undefined = undefined;
  readonly rows: number;
  readonly signature: string;
  readonly priority: number;

  constructor(
    readonly request: ScheduledRequest,
    readonly done: SubmitCallback,
    readonly enqueuedAt: number,
    readonly queueSpan: Span | undefined,
  ) {
    this.rows = request.rows;
    this.signature = request.signature;
    this.priority = request.priority;
  }
}

/**
 * Calls a request's completion. A completion that throws (a bug past the scheduler) must not
 * keep the rest of its batch from their answers: what it threw is returned, to be thrown
 * once every request is answered.
 */
function complete(item: Pending, error: ServingError | undefined, outputs: OutputTensor[] | undefined): { error: unknown } | undefined {
  try {
    item.done(error, outputs);
    return undefined;
  } catch (thrown) {
    return { error: thrown };
  }
}

/** Worker errors can carry file paths; clients get the gist without them. */
const scrub = (message: string): string => hidePaths(message).slice(0, 500);

export class VersionScheduler {
  private readonly batcher: DynamicBatcher<Pending>;
  private readonly inputNames: string[];
  /** Every output in model order: the list a request that names no outputs carries (validate.ts). */
  readonly allOutputs: readonly string[];
  /** `model/version`, as the x-served-by header and spans name it. */
  readonly key: string;
  /** Where this version's requests and batches are counted for Prometheus, without label lookups. */
  readonly recorder: VersionRecorder | undefined;

  constructor(
    private readonly spec: ModelSpec,
    private readonly pool: ModelPool,
    metrics?: ServerMetrics,
    /** Shared with earlier loads of the same version, so its counters go on from where they were. */
    readonly stats = new VersionStats(),
    /** The version's drift, when config.json turns it on: told of batches while it captures its reference, never of requests. */
    readonly drift?: DriftMonitor,
  ) {
    this.inputNames = spec.inputs.map((i) => i.name);
    this.allOutputs = spec.outputs.map((o) => o.name);
    this.key = `${spec.name}/${spec.version}`;
    this.recorder = metrics?.recorder(spec.name, spec.version);
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

  /**
   * Queues a request; `done` is called exactly once, never before submit returns
   * when the request is queued, and synchronously when it is refused at once.
   */
  submit(request: ScheduledRequest, done: SubmitCallback): void {
    const { cancellation } = request;
    if (cancellation?.cancelled) {
      done(new ServingError('CANCELLED', 'request cancelled by the client'), undefined);
      return;
    }
    const queueSpan = request.traceSpan ? startChildSpan(request.traceSpan, 'queue', { 'brisk.model': this.spec.name, 'brisk.version': this.spec.version }) : undefined;
    const item = new Pending(request, done, performance.now(), queueSpan);
    if (!this.batcher.enqueue(item)) {
      const refusal = this.refuse();
      endSpan(queueSpan, { code: refusal.code, message: refusal.message });
      done(refusal, undefined);
      return;
    }
    if (request.timeoutUs > 0) {
      item.timer = setTimeout(() => this.expire(item), Math.max(1, Math.round(request.timeoutUs / 1000)));
    }
    if (cancellation) cancellation.onCancel(() => this.abandon(item));
  }

  private expire(item: Pending): void {
    if (!this.batcher.cancel(item)) return;
    this.release(item);
    this.stats.dropped.timedOut += 1;
    endSpan(item.queueSpan, { code: 'DEADLINE_EXCEEDED', message: 'timed out in the queue' });
    item.done(new ServingError('DEADLINE_EXCEEDED', `request timed out after waiting ${item.request.timeoutUs} µs in the queue`), undefined);
  }

  private abandon(item: Pending): void {
    if (!this.batcher.cancel(item)) return;
    this.release(item);
    this.stats.dropped.cancelled += 1;
    endSpan(item.queueSpan, { code: 'CANCELLED', message: 'cancelled while queued' });
    item.done(new ServingError('CANCELLED', 'request cancelled by the client'), undefined);
  }

  /** Answers every waiting request with `error` (shutdown past its deadline); running batches go on. */
  abandonQueued(error: ServingError): number {
    const waiting = this.batcher.drainQueue();
    for (const item of waiting) {
      this.release(item);
      endSpan(item.queueSpan, { code: error.code, message: error.message });
      // Not rethrown: the callers go on to abandon other versions' queues and shut down.
      complete(item, error, undefined);
    }
    return waiting.length;
  }

  /** Drops the timer and abort listener of a request leaving the queue. */
  private release(item: Pending): void {
    if (item.timer) clearTimeout(item.timer);
    if (item.request.cancellation) item.request.cancellation.onCancel(undefined);
  }

  /** Settles every request of the batch; rejects only with what a completion threw, after answering every one. */
  private async runBatch(batch: Pending[]): Promise<void> {
    const started = performance.now();
    let rows = 0;
    let traced = false;
    for (const item of batch) {
      this.release(item);
      rows += item.rows;
      if (item.queueSpan) {
        endSpan(item.queueSpan);
        traced = true;
      }
      this.recorder?.queueWait((started - item.enqueuedAt) / 1000);
    }
    const span = traced
      ? startBatchSpan(
          `batch ${this.spec.name}/${this.spec.version}`,
          batch.map((item) => item.request.traceSpan),
          { 'brisk.model': this.spec.name, 'brisk.version': this.spec.version, 'brisk.batch_size': rows, 'brisk.requests': batch.length },
        )
      : undefined;
    let perRequest: OutputTensor[][];
    let batchOutputs: readonly string[];
    const drift = this.drift;
    let capture: Capture | undefined;
    try {
      const inputs = new Array<InputTensor[]>(batch.length);
      for (let i = 0; i < batch.length; i++) inputs[i] = batch[i]!.request.inputs;
      const assembled = assembleBatch(inputs, this.inputNames);
      batchOutputs = this.outputsFor(batch);
      // Copied before the buffers move to the worker; only until the reference has its rows. A batch
      // whose requests name every output runs them all too (outputsFor keeps the model's order).
      if (drift !== undefined && drift.capturing && batchOutputs.length === this.allOutputs.length) capture = drift.takeRows(assembled.inputs, rows);
      const result = await this.pool.run(assembled.inputs, batchOutputs as string[], assembled.transfer, this.spec.batchTimeoutMs);
      if (capture !== undefined) {
        drift!.batchDone(capture, result.outputs);
        capture = undefined;
      }
      this.stats.recordBatch(rows, result.computeSeconds);
      this.recorder?.batchDone(rows, result.computeSeconds);
      const outputs = toOutputTensors(result.outputs);
      if (this.spec.maxBatchSize > 0) {
        const rowCounts = new Array<number>(batch.length);
        for (let i = 0; i < batch.length; i++) rowCounts[i] = batch[i]!.rows;
        perRequest = splitOutputs(outputs, rowCounts);
      } else {
        perRequest = [outputs];
      }
      span?.setAttribute('brisk.compute_seconds', result.computeSeconds);
      endSpan(span);
    } catch (error) {
      drift?.batchFailed(capture);
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
      let thrown: { error: unknown } | undefined;
      for (const item of batch) {
        this.stats.recordRequest(false, item.rows, finished - item.enqueuedAt, started - item.enqueuedAt);
        thrown = complete(item, failure, undefined) ?? thrown;
      }
      if (thrown) throw thrown.error;
      return;
    }
    const finished = performance.now();
    this.stats.lastInferenceMs = Date.now();
    let thrown: { error: unknown } | undefined;
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i]!;
      const mine = perRequest[i]!;
      this.stats.recordRequest(true, item.rows, finished - item.enqueuedAt, started - item.enqueuedAt);
      // Most requests want what the batch ran, in the same order: their split outputs as they are.
      const wanted = item.request.outputNames;
      thrown = complete(item, undefined, wanted === batchOutputs ? mine : wanted.map((name) => mine.find((o) => o.name === name)!)) ?? thrown;
    }
    // Every request of the batch is answered first; then the failure is the batch's, as before callbacks.
    if (thrown) throw thrown.error;
  }

  /**
   * The outputs the batch needs: the union of what its requests asked for, in model
   * order. The same array as the requests' own when they all want every output.
   */
  private outputsFor(batch: Pending[]): readonly string[] {
    const all = this.allOutputs;
    let every = true;
    for (const item of batch) {
      if (item.request.outputNames !== all) {
        every = false;
        break;
      }
    }
    if (every) return all;
    const wanted = new Set<string>();
    for (const item of batch) for (const name of item.request.outputNames) wanted.add(name);
    return all.filter((name) => wanted.has(name));
  }
}
