/**
 * The worker threads of one model version: `instances` threads, each with its
 * own ONNX Runtime session, so that many batches of the model can run at once.
 * A worker that throws fails only the batch it held; one that dies is replaced by
 * piscina and reloads its session. A pool whose threads die while starting is
 * lost for good (piscina stops replacing them), and says so.
 *
 * Piscina starts, replaces and ends the threads; batches go over each worker's
 * own MessageChannel (see worker.ts), one batch per worker at a time, as flat
 * messages. Batch time limits are kept by one watchdog timer per pool.
 */
import { performance } from 'node:perf_hooks';
import type { MessagePort, Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { BinningPlan } from '../drift/binning.js';
import type { Logger } from '../observability/logger.js';
import {
  decodeResult,
  encodeBatch,
  POOL_CONTROL,
  RELEASE,
  RELEASED,
  type BatchMessage,
  type BatchReply,
  type DescribeResult,
  type DriftCountsMessage,
  type DriftPlanMessage,
  type RunResult,
  type WireTensor,
  type WorkerInit,
  type WorkerReport,
  type WorkerTask,
} from './messages.js';

const workerFile = new URL('./worker.js', import.meta.url).href;

export class BatchTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the batch ran past batch_timeout_ms ${timeoutMs}; its requests are answered now and the worker finishes the run before taking another batch`);
  }
}

export class PoolLostError extends Error {
  constructor() {
    super('its worker threads died while starting and are not replaced any more; restart the server once the cause is fixed');
  }
}

/** How long close() waits for the workers to release their sessions before ending them anyway. */
export const RELEASE_WAIT_MS = 5000;
/** How long close() waits for loading workers to stop (a session being created, one warmup run). */
const LOADING_WAIT_MS = 60_000;

/**
 * Figures that outlive one pool: a version reloaded in a new pool goes on counting
 * where the old one stopped, so counters derived from them never go down.
 */
export class PoolCounters {
  /** Seconds spent inside session.run, summed over workers: the model's share of compute. */
  busySeconds = 0;
  /** Worker threads that died (exited or threw outside a task). */
  workerExits = 0;
}

/** One batch from run() until its worker answers; answered earlier on a timeout or a loss. */
class Batch {
  /** Set once the caller has its answer; the worker's own answer may still be due. */
  settled = false;
  resolve!: (result: RunResult) => void;
  reject!: (error: Error) => void;
  readonly promise: Promise<RunResult>;

  constructor(
    /** Dropped once posted: the worker owns its buffers then. */
    public message: BatchMessage | undefined,
    public transfer: ArrayBuffer[] | undefined,
    /** performance.now() past which the batch fails; Infinity for no limit. */
    readonly deadline: number,
    readonly timeoutMs: number,
  ) {
    this.promise = new Promise<RunResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(error);
  }
}

/** A ready worker's end of its channel, and the batch it is running. */
class Connection {
  batch: Batch | undefined = undefined;
  /** Whether the port holds the process open: only while its worker has a batch. */
  held = false;
  onReleased: (() => void) | undefined = undefined;

  constructor(
    readonly threadId: number,
    readonly port: MessagePort,
  ) {}
}

export class ModelPool {
  private readonly pool: Piscina<WorkerTask, unknown>;
  /** Batches a worker is running or about to run, including batches already answered on a timeout. */
  activeTasks = 0;
  private readonly intraOpThreads: number;
  private readonly listeners = new Set<(report: WorkerReport) => void>();
  private readonly readiness: Promise<{ warmupSeconds: number }>;
  private readonly control = new Int32Array(new SharedArrayBuffer(POOL_CONTROL.SLOTS * Int32Array.BYTES_PER_ELEMENT));
  private readonly connections: Connection[] = [];
  /** Ready workers without a batch; the last one freed is used first, its caches still warm. */
  private readonly idleConnections: Connection[] = [];
  /** Batches waiting for a worker, in order. The scheduler runs at most `instances` at once, so this is mostly empty. */
  private readonly queue: Batch[] = [];
  /** The one timer keeping batch time limits, armed for the earliest deadline while batches wait or run. */
  private watchdog: NodeJS.Timeout | undefined;
  private watchdogDue = Number.POSITIVE_INFINITY;
  /** Set once no worker thread is left to run tasks. */
  private lost: PoolLostError | undefined;
  private closing = false;
  /** Describe tasks waiting in piscina, failed at once if the pool is lost (they would wait forever). */
  private readonly waiting = new Set<(error: Error) => void>();
  /** Why the last thread went: a load still waiting hears it. */
  private lastExit: string | undefined;
  /** Threads whose exit is watched: those there at the start, and each replacement. */
  private readonly watched = new Set<number>();
  /** The version's drift plan once it has a reference: every worker gets it, those that start later too. */
  private driftPlan: DriftPlanMessage | undefined;
  /** Hears the drift counts each worker sends about once a second. */
  private onDriftCounts: ((counts: Uint32Array) => void) | undefined;
  /** Bumped by each setDriftPlan: counts still on their way from an earlier plan are dropped. */
  private driftGeneration = 0;

  constructor(
    init: Omit<WorkerInit, 'control'>,
    readonly instances: number,
    log?: Logger,
    onLost?: (error: PoolLostError) => void,
    readonly counters = new PoolCounters(),
  ) {
    this.intraOpThreads = init.intraOpThreads;
    this.readiness = this.awaitReadiness();
    this.pool = new Piscina({
      filename: workerFile,
      minThreads: instances,
      maxThreads: instances,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      // An idle worker must wait in its event loop, where its own channel is heard, not in Atomics.wait.
      atomics: 'disabled',
      recordTiming: false,
      workerData: { ...init, control: this.control.buffer as SharedArrayBuffer } satisfies WorkerInit,
    });
    // Piscina re-emits worker crashes here; a batch in flight is failed by its thread's exit.
    this.pool.on('error', () => undefined);
    this.pool.on('message', (report: WorkerReport) => this.onReport(report));
    this.pool.on('workerDestroy', () => this.onWorkerGone(log, onLost));
    for (const thread of this.pool.threads) this.watchExit(thread);
  }

  private watchExit(thread: Worker): void {
    const threadId = thread.threadId;
    if (this.watched.has(threadId)) return;
    this.watched.add(threadId);
    thread.once('exit', (code: number) => this.onExit(threadId, code));
  }

  private onReport(report: WorkerReport): void {
    if (report.kind === 'ready') {
      const thread = this.pool.threads.find((t) => t.threadId === report.threadId);
      if (this.closing || !thread) {
        report.port.close();
      } else {
        this.watchExit(thread);
        this.connect(new Connection(report.threadId, report.port));
      }
    }
    for (const listener of this.listeners) listener(report);
  }

  private connect(connection: Connection): void {
    const port = connection.port;
    port.on('message', (reply: BatchReply | DriftCountsMessage | typeof RELEASED) => {
      if (!Array.isArray(reply) && typeof reply === 'object') {
        if (reply.generation === this.driftGeneration) this.onDriftCounts?.(reply.counts);
      }
      else this.onReply(connection, reply);
    });
    // Held only while the worker runs a batch: an idle pool keeps no process alive.
    port.unref();
    // Before any batch: messages on a port arrive in order.
    if (this.driftPlan?.plan) port.postMessage(this.driftPlan);
    this.connections.push(connection);
    this.onIdle(connection);
  }

  /** A worker is free: it takes the next batch waiting, or waits itself. */
  private onIdle(connection: Connection): void {
    const next = this.queue.shift();
    if (next) {
      this.post(connection, next);
    } else {
      if (connection.held) connection.port.unref();
      connection.held = false;
      this.idleConnections.push(connection);
    }
  }

  private post(connection: Connection, batch: Batch): void {
    try {
      connection.port.postMessage(batch.message, batch.transfer);
    } catch (error) {
      // Nothing was sent (a transfer list naming a buffer twice, or one already detached): the
      // batch fails on its own and the worker, still free, takes the next one. Thrown from here,
      // it would leave the worker marked busy for good, and crash the process from onReply.
      this.activeTasks -= 1;
      batch.message = undefined;
      batch.transfer = undefined;
      batch.fail(new Error(`the batch could not be sent to its worker: ${error instanceof Error ? error.message : String(error)}`));
      this.onIdle(connection);
      return;
    }
    if (!connection.held) connection.port.ref();
    connection.held = true;
    connection.batch = batch;
    batch.message = undefined;
    batch.transfer = undefined;
  }

  private onReply(connection: Connection, reply: BatchReply | typeof RELEASED): void {
    if (reply === RELEASED) {
      connection.onReleased?.();
      return;
    }
    const batch = connection.batch!;
    connection.batch = undefined;
    this.activeTasks -= 1;
    if (typeof reply === 'string') {
      batch.fail(new Error(reply));
    } else {
      const result = decodeResult(reply);
      // Counted when the run ends, even if its batch was answered earlier on a timeout.
      this.counters.busySeconds += result.computeSeconds;
      if (!batch.settled) {
        batch.settled = true;
        batch.resolve(result);
      }
    }
    this.onIdle(connection);
  }

  private onExit(threadId: number, code: number): void {
    const reason = `worker exited with code: ${code}`;
    this.watched.delete(threadId);
    this.lastExit = reason;
    const index = this.connections.findIndex((c) => c.threadId === threadId);
    if (index < 0) return;
    const connection = this.connections[index]!;
    this.connections.splice(index, 1);
    const idle = this.idleConnections.indexOf(connection);
    if (idle >= 0) this.idleConnections.splice(idle, 1);
    connection.port.close();
    connection.onReleased?.();
    const batch = connection.batch;
    if (batch) {
      connection.batch = undefined;
      this.activeTasks -= 1;
      batch.fail(new Error(reason));
    }
  }

  private onWorkerGone(log: Logger | undefined, onLost: ((error: PoolLostError) => void) | undefined): void {
    if (this.closing) return;
    this.counters.workerExits += 1;
    // Checked once piscina has finished removing the thread and, unless threads already
    // died while starting, has added its replacement; by then the thread's exit code is known.
    queueMicrotask(() => {
      if (this.closing) return;
      // A thread that dies before it reported ready fails a load still waiting for it.
      const reason = this.lastExit ?? 'a worker thread exited while loading the model';
      this.lastExit = undefined;
      for (const listener of this.listeners) listener({ kind: 'failed', threadId: -1, reason });
      // The replacement piscina has just started: its exit code is heard even if it dies loading.
      for (const thread of this.pool.threads) this.watchExit(thread);
      if (this.pool.threads.length > 0) {
        log?.error({ workerExits: this.counters.workerExits }, 'worker thread exited; its batch failed and a replacement is loading the model');
        return;
      }
      this.lost = new PoolLostError();
      log?.error({ workerExits: this.counters.workerExits, reason: this.lost.message }, 'worker pool lost');
      this.failAll(this.lost);
      onLost?.(this.lost);
      this.close().catch(() => undefined);
    });
  }

  /** Answers every batch waiting or running, and every describe task, with `error`. */
  private failAll(error: Error): void {
    for (const fail of this.waiting) fail(error);
    this.waiting.clear();
    for (const batch of this.queue.splice(0)) {
      this.activeTasks -= 1;
      batch.fail(error);
    }
    for (const connection of this.connections) connection.batch?.fail(error);
  }

  /**
   * Resolves once every instance has loaded its session and run its warmup, with the
   * longest warmup; rejects with the first instance's failure.
   */
  ready(): Promise<{ warmupSeconds: number }> {
    return this.readiness;
  }

  private awaitReadiness(): Promise<{ warmupSeconds: number }> {
    const readiness = new Promise<{ warmupSeconds: number }>((resolve, reject) => {
      let readyCount = 0;
      let warmupSeconds = 0;
      const listener = (report: WorkerReport): void => {
        if (report.kind === 'failed') {
          this.listeners.delete(listener);
          reject(new Error(report.reason));
        } else if (report.kind === 'ready') {
          warmupSeconds = Math.max(warmupSeconds, report.warmupSeconds);
          if (++readyCount < this.instances) return;
          this.listeners.delete(listener);
          resolve({ warmupSeconds });
        }
      };
      this.listeners.add(listener);
    });
    // Whoever asks gets the failure; until then it is not an unhandled rejection.
    readiness.catch(() => undefined);
    return readiness;
  }

  describe(): Promise<DescribeResult> {
    if (this.lost) return Promise.reject(this.lost);
    const task = this.pool.run({ kind: 'describe' }) as Promise<DescribeResult>;
    return new Promise<DescribeResult>((resolve, reject) => {
      this.waiting.add(reject);
      task
        .then((described) => resolve({ ...described, instances: this.instances, intraOpThreads: this.intraOpThreads }), reject)
        .finally(() => this.waiting.delete(reject));
    });
  }

  /**
   * Runs one batch. Input buffers listed in `transfer` move to the worker and are
   * unusable here afterwards; the caller gives up ownership of them. Past
   * `timeoutMs` the batch fails at once, but its worker is not stopped: a worker
   * torn down inside ONNX Runtime's native run takes the whole process with it
   * (the binding throws during thread teardown), so it finishes the run first.
   */
  run(inputs: WireTensor[], outputNames: string[], transfer: ArrayBuffer[], timeoutMs: number): Promise<RunResult> {
    if (this.lost) return Promise.reject(this.lost);
    if (this.closing) return Promise.reject(new Error('the model pool is closed'));
    const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Number.POSITIVE_INFINITY;
    const batch = new Batch(encodeBatch(inputs, outputNames), transfer, deadline, timeoutMs);
    this.activeTasks += 1;
    const idle = this.idleConnections.pop();
    if (idle) this.post(idle, batch);
    else this.queue.push(batch);
    if (deadline < this.watchdogDue) this.armWatchdog(deadline);
    return batch.promise;
  }

  /**
   * From now on every worker counts its batches' sampled rows into drift bins (see
   * drift/binning.ts) and sends what it counted to `onCounts` about once a second
   * (DRIFT_FLUSH_MS), never per batch. A later call replaces the plan (undefined: nothing is
   * counted); counts made with an earlier one never reach the new `onCounts`.
   */
  setDriftPlan(plan: BinningPlan | undefined, onCounts: (counts: Uint32Array) => void): void {
    this.onDriftCounts = onCounts;
    this.driftGeneration += 1;
    this.driftPlan = { kind: 'drift-plan', plan, generation: this.driftGeneration };
    for (const connection of this.connections) connection.port.postMessage(this.driftPlan);
  }

  /** Under steady load deadlines only grow, so the timer armed for the first batch serves them all. */
  private armWatchdog(due: number): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdogDue = due;
    this.watchdog = setTimeout(() => this.checkDeadlines(), Math.max(1, Math.ceil(due - performance.now())));
    this.watchdog.unref();
  }

  /** Fails every batch past its deadline, and re-arms for the earliest one left. */
  private checkDeadlines(): void {
    this.watchdog = undefined;
    this.watchdogDue = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const connection of this.connections) {
      const batch = connection.batch;
      if (!batch || batch.settled) continue;
      if (batch.deadline <= now) batch.fail(new BatchTimeoutError(batch.timeoutMs));
      else next = Math.min(next, batch.deadline);
    }
    for (let i = 0; i < this.queue.length; ) {
      const batch = this.queue[i]!;
      if (batch.deadline <= now) {
        // Never posted: the worker is spared a run whose answer nobody waits for.
        this.queue.splice(i, 1);
        this.activeTasks -= 1;
        batch.fail(new BatchTimeoutError(batch.timeoutMs));
      } else {
        next = Math.min(next, batch.deadline);
        i++;
      }
    }
    if (next < Number.POSITIVE_INFINITY) this.armWatchdog(next);
  }

  /** Idle, with nothing running: the pool can close without stopping a native run. */
  get idle(): boolean {
    return this.activeTasks === 0;
  }

  /** Has every worker release its session, then ends the threads. Call only when idle. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // Warming workers stop at their next run; a load still waiting on them fails now.
    Atomics.store(this.control, POOL_CONTROL.CANCEL, 1);
    for (const listener of [...this.listeners]) listener({ kind: 'failed', threadId: -1, reason: 'the load was cancelled: its pool is closing' });
    this.listeners.clear();
    const stopAt = performance.now() + LOADING_WAIT_MS;
    while (Atomics.load(this.control, POOL_CONTROL.LOADING) > 0 && performance.now() < stopAt) await new Promise((r) => setTimeout(r, 10));
    if (!this.lost && this.activeTasks === 0) await this.releaseSessions();
    if (this.watchdog) clearTimeout(this.watchdog);
    await this.pool.destroy();
    for (const connection of this.connections) connection.port.close();
  }

  /** Frees each session before its thread ends (a thread ended inside ONNX Runtime takes the process down). */
  private async releaseSessions(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const released = this.connections.map(
      (connection) =>
        new Promise<void>((resolve) => {
          connection.onReleased = resolve;
          connection.port.ref();
          connection.port.postMessage(RELEASE);
        }),
    );
    await Promise.race([Promise.all(released), new Promise((resolve) => (timer = setTimeout(resolve, RELEASE_WAIT_MS)))]);
    clearTimeout(timer);
  }
}
