/**
 * The worker threads of one model version: `instances` threads, each with its
 * own ONNX Runtime session, so that many batches of the model can run at once.
 * A worker that throws fails only the task it held; one that dies is replaced by
 * piscina and reloads its session.
 */
import { Piscina } from 'piscina';
import type { DescribeResult, RunResult, RunTask, WireTensor, WorkerInit, WorkerTask } from './messages.js';

const workerFile = new URL('./worker.js', import.meta.url).href;

export class BatchTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the batch ran past batch_timeout_ms ${timeoutMs}; its worker was stopped and is being replaced`);
  }
}

export class ModelPool {
  private readonly pool: Piscina<WorkerTask, unknown>;
  /** Seconds spent inside session.run, summed over workers: the model's share of compute. */
  busySeconds = 0;
  completedBatches = 0;
  /** Set while a worker stopped for a batch timeout is being replaced. */
  private recovery: Promise<unknown> | undefined;

  constructor(init: WorkerInit, readonly instances: number) {
    this.pool = new Piscina({
      filename: workerFile,
      minThreads: instances,
      maxThreads: instances,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      workerData: init,
    });
    // Piscina re-emits worker crashes here; the task that crashed is rejected on its own.
    this.pool.on('error', () => undefined);
  }

  async describe(): Promise<DescribeResult> {
    return (await this.pool.run({ kind: 'describe' })) as DescribeResult;
  }

  /**
   * Runs one batch. Input buffers listed in `transfer` move to the worker and are
   * unusable here afterwards; the caller gives up ownership of them.
   */
  async run(inputs: WireTensor[], outputNames: string[], transfer: ArrayBuffer[], timeoutMs: number): Promise<RunResult> {
    // A batch's time limit covers its run, not a replacement worker's model load.
    if (this.recovery) await this.recovery;
    const task: RunTask = { kind: 'run', inputs, outputNames };
    // Aborting a running task makes piscina terminate its worker and start a new one, which
    // reloads the model; the thread itself ends once ONNX Runtime returns from the native call.
    const signal = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    let result: RunResult;
    try {
      result = (await this.pool.run(task, { transferList: transfer, ...(signal ? { signal } : {}) })) as RunResult;
    } catch (error) {
      if (signal?.aborted) {
        // The next ready worker answers this once the replacement has loaded the model.
        this.recovery ??= this.pool
          .run({ kind: 'describe' })
          .catch(() => undefined)
          .finally(() => (this.recovery = undefined));
        throw new BatchTimeoutError(timeoutMs);
      }
      throw error;
    }
    this.busySeconds += result.computeSeconds;
    this.completedBatches += 1;
    return result;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
