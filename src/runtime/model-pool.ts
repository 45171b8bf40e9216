/**
 * The worker threads of one model version: `instances` threads, each with its
 * own ONNX Runtime session, so that many batches of the model can run at once.
 * A worker that throws fails only the task it held; one that dies is replaced by
 * piscina and reloads its session. A pool whose threads die while starting is
 * lost for good (piscina stops replacing them), and says so.
 */
import { Piscina } from 'piscina';
import type { Logger } from '../observability/logger.js';
import type { DescribeResult, RunResult, RunTask, WireTensor, WorkerInit, WorkerTask } from './messages.js';

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

export class ModelPool {
  private readonly pool: Piscina<WorkerTask, unknown>;
  /** Seconds spent inside session.run, summed over workers: the model's share of compute. */
  busySeconds = 0;
  /** Tasks a worker is running or about to run, including batches already answered on a timeout. */
  activeTasks = 0;
  /** Worker threads that died (exited or threw outside a task). */
  workerExits = 0;
  /** Set once no worker thread is left to run tasks. */
  lost: PoolLostError | undefined;
  private closing = false;
  /** Rejects when the pool is lost, so that tasks waiting in piscina for a thread are answered. */
  private readonly whenLost: Promise<never>;
  private markLost: (error: PoolLostError) => void = () => undefined;

  constructor(init: WorkerInit, readonly instances: number, log?: Logger, onLost?: (error: PoolLostError) => void) {
    this.pool = new Piscina({
      filename: workerFile,
      minThreads: instances,
      maxThreads: instances,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      workerData: init,
    });
    this.whenLost = new Promise<never>((_, reject) => {
      this.markLost = reject;
    });
    this.whenLost.catch(() => undefined);
    // Piscina re-emits worker crashes here; the task that crashed is rejected on its own.
    this.pool.on('error', () => undefined);
    this.pool.on('workerDestroy', () => {
      if (this.closing) return;
      this.workerExits += 1;
      // Checked once piscina has finished removing the thread and, unless threads already
      // died while starting, has added its replacement.
      queueMicrotask(() => {
        if (this.closing) return;
        if (this.pool.threads.length > 0) {
          log?.error({ workerExits: this.workerExits }, 'worker thread exited; its batch failed and a replacement is loading the model');
          return;
        }
        this.lost = new PoolLostError();
        log?.error({ workerExits: this.workerExits, reason: this.lost.message }, 'worker pool lost');
        this.markLost(this.lost);
        onLost?.(this.lost);
        this.close().catch(() => undefined);
      });
    });
  }

  async describe(): Promise<DescribeResult> {
    return (await Promise.race([this.pool.run({ kind: 'describe' }), this.whenLost])) as DescribeResult;
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
        this.busySeconds += result.computeSeconds;
      },
      () => {
        this.activeTasks -= 1;
      },
    );
    const limits: Promise<RunResult>[] = [running, this.whenLost];
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs > 0) {
      limits.push(
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new BatchTimeoutError(timeoutMs)), timeoutMs);
        }),
      );
    }
    try {
      return await Promise.race(limits);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    if (this.closing) return Promise.resolve();
    this.closing = true;
    return this.pool.destroy();
  }
}
