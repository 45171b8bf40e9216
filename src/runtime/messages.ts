/**
 * Everything that crosses between the main thread and a model's worker threads.
 * The worker imports only this file's types; the pool imports nothing of the worker.
 */
import type { Datatype, OrtType, TensorData } from '../tensor/datatypes.js';
import type { ExecutionProvider } from '../models/model-config.js';

/** Given to every worker of one model version at start (piscina's workerData). */
export interface WorkerInit {
  modelPath: string;
  executionProviders: ExecutionProvider[];
  /** 0 lets ONNX Runtime choose. */
  intraOpThreads: number;
  /** Whether idle intra-op threads spin (lower latency, but they hold a core). */
  intraOpSpinning: boolean;
  /** Run by each worker after its session loads, before it reports ready. */
  warmup: WarmupPlan[];
  /** The BroadcastChannel on which each worker reports, once, that it is ready or why it failed. */
  channel: string;
  /** Shared by the pool and its workers: see POOL_CONTROL. */
  control: SharedArrayBuffer;
}

/**
 * Slots of WorkerInit.control (an Int32Array). A loading worker cannot hear messages
 * (its module is still being imported), so the pool and its workers share memory: the
 * pool sets CANCEL when it closes, and a warming worker stops at its next run; LOADING
 * counts workers not yet ready, so that the pool waits for them before ending threads
 * (a thread ended inside ONNX Runtime takes the process down).
 */
export const POOL_CONTROL = { CANCEL: 0, LOADING: 1, SLOTS: 2 } as const;

export interface WarmupInputPlan {
  name: string;
  datatype: Datatype;
  /** Without the batch dimension. */
  dims: number[];
  fill: 'zero' | 'random' | 'file';
  /** One row's bytes, for `file`. */
  bytes?: Uint8Array;
}

export interface WarmupPlan {
  name: string;
  batchSize: number;
  count: number;
  inputs: WarmupInputPlan[];
}

/** Said on a pool's channel. */
export type ChannelMessage = { kind: 'ready'; warmupSeconds: number } | { kind: 'failed'; reason: string };

export interface WireTensor {
  name: string;
  type: OrtType;
  shape: number[];
  data: TensorData;
}

export interface WireTensorSpec {
  name: string;
  /** A runtime type name, or the ONNX type's description when it is not a tensor. */
  type: string;
  isTensor: boolean;
  /** -1 for a variable (symbolic or unknown) dimension. */
  shape: number[];
}

export interface DescribeTask {
  kind: 'describe';
}

export interface RunTask {
  kind: 'run';
  inputs: WireTensor[];
  outputNames: string[];
}

/** Sent to every worker of an idle pool before it closes. */
export interface ReleaseTask {
  kind: 'release';
}

export interface ReleaseResult {
  threadId: number;
}

export type WorkerTask = DescribeTask | RunTask | ReleaseTask;

export interface DescribeResult {
  inputs: WireTensorSpec[];
  outputs: WireTensorSpec[];
  executionProvider: ExecutionProvider;
  /** Why a preferred execution provider was passed over, when one was. */
  fallbackReason?: string;
}

export interface RunResult {
  outputs: WireTensor[];
  /** Time inside session.run on the worker, in seconds. */
  computeSeconds: number;
}
