/**
 * The worker threads of one model version: `instances` threads, each with its
 * own ONNX Runtime session, so that many batches of the model can run at once.
 * A worker that throws fails only the task it held; one that dies is replaced by
 * piscina and reloads its session. A pool whose threads die while starting is
 * lost for good (piscina stops replacing them), and says so.
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from '../observability/logger.js';
import { POOL_CONTROL, type ChannelMessage, type DescribeResult, type ReleaseResult, type ReleaseTask, type RunResult, type RunTask, type WireTensor, type WorkerInit, type WorkerTask } from './messages.js';

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
const RELEASE_WAIT_MS = 5000;
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

export class ModelPool {
  private readonly pool: Piscina<WorkerTask, unknown>;
  /** Tasks a worker is running or about to run, including batches already answered on a timeout. */
  activeTasks = 0;
  private readonly channel: BroadcastChannel;
  private readonly listeners = new Set<(message: ChannelMessage) => void>();
  private readonly readiness: Promise<{ warmupSeconds: number }>;
  private readonly control = new Int32Array(new SharedArrayBuffer(POOL_CONTROL.SLOTS * Int32Array.BYTES_PER_ELEMENT));
  /** Set once no worker thread is left to run tasks. */
  private lost: PoolLostError | undefined;
  private closing = false;
  /**
   * Callers waiting on a task, failed at once if the pool is lost (a task waiting in piscina
   * for a thread would wait forever). A set, not a promise raced per task: a long-lived
   * promise keeps every race's result alive through the reactions it accumulates.
   */
  private readonly waiting = new Set<(error: Error) => void>();

  constructor(
    init: Omit<WorkerInit, 'channel' | 'control'>,
    readonly instances: number,
    log?: Logger,
    onLost?: (error: PoolLostError) => void,
    readonly counters = new PoolCounters(),
  ) {
    // Listening before the threads start, so that no worker's report is missed.
    const channelName = `brisk-pool-${randomUUID()}`;
    this.channel = new BroadcastChannel(channelName);
    this.channel.unref();
    this.channel.onmessage = (event: unknown) => {
      const message = (event as { data: ChannelMessage }).data;
      for (const listener of this.listeners) listener(message);
    };
    this.readiness = this.awaitReadiness();
    this.pool = new Piscina({
      filename: workerFile,
      minThreads: instances,
      maxThreads: instances,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      workerData: { ...init, channel: channelName, control: this.control.buffer as SharedArrayBuffer } satisfies WorkerInit,
    });
    // Piscina re-emits worker crashes here; the task that crashed is rejected on its own.
    this.pool.on('error', () => undefined);
    this.pool.on('workerDestroy', () => this.onWorkerGone(log, onLost));
  }

  private onWorkerGone(log: Logger | undefined, onLost: ((error: PoolLostError) => void) | undefined): void {
    if (this.closing) return;
    this.counters.workerExits += 1;
    // A thread that dies before it reported ready fails a load still waiting for it.
    for (const listener of this.listeners) listener({ kind: 'failed', reason: 'a worker thread exited while loading the model' });
    // Checked once piscina has finished removing the thread and, unless threads already
    // died while starting, has added its replacement.
    queueMicrotask(() => {
      if (this.closing) return;
      if (this.pool.threads.length > 0) {
        log?.error({ workerExits: this.counters.workerExits }, 'worker thread exited; its batch failed and a replacement is loading the model');
        return;
      }
      this.lost = new PoolLostError();
      log?.error({ workerExits: this.counters.workerExits, reason: this.lost.message }, 'worker pool lost');
      for (const fail of this.waiting) fail(this.lost);
      this.waiting.clear();
      onLost?.(this.lost);
      this.close().catch(() => undefined);
    });
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
      const listener = (message: ChannelMessage): void => {
        if (message.kind === 'failed') {
          this.listeners.delete(listener);
          reject(new Error(message.reason));
        } else if (message.kind === 'ready') {
          warmupSeconds = Math.max(warmupSeconds, message.warmupSeconds);
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
    return this.settled(this.pool.run({ kind: 'describe' }) as Promise<DescribeResult>, 0);
  }

  /**
   * Runs one batch. Input buffers listed in `transfer` move to the worker and are
   * unusable here afterwards; the caller gives up ownership of them. Past
   * `timeoutMs` the batch fails at once, but its worker is not stopped: a worker
   * torn down inside ONNX Runtime's native run takes the whole process with it
   * (the binding throws during thread teardown), so it finishes the run first.
   */
  async run(inputs: WireTensor[], outputNames: string[], transfer: ArrayBuffer[], timeoutMs: number): Promise<RunResult> {
    if (this.lost) throw this.lost;
    const task: RunTask = { kind: 'run', inputs, outputNames };
    const running = this.pool.run(task, { transferList: transfer }) as Promise<RunResult>;
    this.activeTasks += 1;
    // Counted when the run ends, even if its batch was answered earlier on a timeout.
    running.then(
      (result) => {
        this.activeTasks -= 1;
        this.counters.busySeconds += result.computeSeconds;
      },
      () => {
        this.activeTasks -= 1;
      },
    );
    return this.settled(running, timeoutMs);
  }

  /** The task's outcome, or an error first if it passes `timeoutMs` (0: no limit) or the pool is lost. */
  private async settled<T>(task: Promise<T>, timeoutMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let fail: ((error: Error) => void) | undefined;
    try {
      return await new Promise<T>((resolve, reject) => {
        fail = reject;
        this.waiting.add(reject);
        task.then(resolve, reject);
        if (timeoutMs > 0) timer = setTimeout(() => reject(new BatchTimeoutError(timeoutMs)), timeoutMs);
      });
    } finally {
      clearTimeout(timer);
      if (fail) this.waiting.delete(fail);
    }
  }

  /** Idle, with nothing running: the pool can close without stopping a native run. */
  get idle(): boolean {
    return this.activeTasks === 0;
  }

  /**
   * Has every worker release its session, then ends the threads. Call only when idle:
   * then piscina hands tasks submitted together to distinct idle workers, one each.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // Warming workers stop at their next run; a load still waiting on them fails now.
    Atomics.store(this.control, POOL_CONTROL.CANCEL, 1);
    for (const listener of [...this.listeners]) listener({ kind: 'failed', reason: 'the load was cancelled: its pool is closing' });
    this.listeners.clear();
    const stopAt = performance.now() + LOADING_WAIT_MS;
    while (Atomics.load(this.control, POOL_CONTROL.LOADING) > 0 && performance.now() < stopAt) await new Promise((r) => setTimeout(r, 10));
    const threads = this.pool.threads.length;
    if (threads > 0 && !this.lost && this.activeTasks === 0) {
      const releases = Array.from({ length: threads }, () => this.pool.run({ kind: 'release' } satisfies ReleaseTask) as Promise<ReleaseResult>);
      await this.settled(Promise.all(releases), RELEASE_WAIT_MS).catch(() => undefined);
    }
    await this.pool.destroy();
    this.channel.close();
  }
}
