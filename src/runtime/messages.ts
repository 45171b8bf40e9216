/**
 * Everything that crosses between the main thread and a model's worker threads.
 * Both sides import this file (types and the flat batch encoding); the pool imports nothing of the worker.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Datatype, OrtType, TensorData } from '../tensor/datatypes.js';
import type { ExecutionProvider } from '../models/model-config.js';
import type { BinningPlan } from '../drift/binning.js';

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

/**
 * Said once by each worker on its parent port (piscina passes such messages on as
 * the pool's 'message' event): ready, with the port of its own channel for batches,
 * or why it failed to load.
 */
export type WorkerReport =
  | { kind: 'ready'; threadId: number; warmupSeconds: number; port: MessagePort }
  | { kind: 'failed'; threadId: number; reason: string };

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

/** Piscina tasks; batches go over each worker's own channel instead (see BatchMessage). */
export interface DescribeTask {
  kind: 'describe';
}

export type WorkerTask = DescribeTask;

export interface DescribeResult {
  inputs: WireTensorSpec[];
  outputs: WireTensorSpec[];
  executionProvider: ExecutionProvider;
  /** Why a preferred execution provider was passed over, when one was. */
  fallbackReason?: string;
  /** What the pool runs: a spec takes these, so that it agrees with the threads whatever defaults the caller applied. */
  instances?: number;
  intraOpThreads?: number;
}

export interface RunResult {
  outputs: WireTensor[];
  /** Time inside session.run on the worker, in seconds. */
  computeSeconds: number;
}

/*
 * A batch and its answer travel as flat arrays rather than trees of objects: the
 * structured clone of each message costs the main thread per object, and a batch is
 * the hottest message there is. A tensor is laid out as name, type, rank, each dim,
 * data; its data buffer is transferred, not copied.
 */

/** To a worker: the number of outputs, their names, then the input tensors. */
export type BatchMessage = (string | number | TensorData)[];

/** From a worker: computeSeconds then the output tensors; or the run's error message. */
export type BatchReply = (string | number | TensorData)[] | string;

/**
 * To a worker: count each batch's rows into drift bins with this plan from now on, or
 * count nothing (no plan: the reference is being captured again). A new plan drops the
 * counts held from the previous one.
 */
export interface DriftPlanMessage {
  kind: 'drift-plan';
  plan: BinningPlan | undefined;
  /** Which of the version's plans this is: counts sent back carry it, and stale ones are dropped. */
  generation: number;
}

/**
 * From a worker with a drift plan: the counts of every batch it ran since its last such
 * message (plan.bins + 1 entries, the last the rows counted). Sent at most once per
 * DRIFT_FLUSH_MS, not per batch: the I/O thread adds each into the window, and heavy_mlp
 * has 15,000 bins.
 */
export interface DriftCountsMessage {
  kind: 'drift-counts';
  counts: Uint32Array;
  /** The generation of the plan they were counted with. */
  generation: number;
}

export const DRIFT_FLUSH_MS = 1000;

/** To a worker: free the session, then answer RELEASED. */
export const RELEASE = 'release';
export const RELEASED = 'released';

function pushTensor(message: (string | number | TensorData)[], tensor: WireTensor): void {
  message.push(tensor.name, tensor.type, tensor.shape.length);
  for (let d = 0; d < tensor.shape.length; d++) message.push(tensor.shape[d]!);
  message.push(tensor.data);
}

/** Reads the tensors from `from` to the end of a flat message. */
function readTensors(message: readonly (string | number | TensorData)[], from: number): WireTensor[] {
  const tensors: WireTensor[] = [];
  let i = from;
  while (i < message.length) {
    const name = message[i] as string;
    const type = message[i + 1] as OrtType;
    const rank = message[i + 2] as number;
    const shape = new Array<number>(rank);
    for (let d = 0; d < rank; d++) shape[d] = message[i + 3 + d] as number;
    tensors.push({ name, type, shape, data: message[i + 3 + rank] as TensorData });
    i += 4 + rank;
  }
  return tensors;
}

export function encodeBatch(inputs: readonly WireTensor[], outputNames: readonly string[]): BatchMessage {
  const message: BatchMessage = [outputNames.length, ...outputNames];
  for (const input of inputs) pushTensor(message, input);
  return message;
}

export function decodeBatch(message: BatchMessage): { inputs: WireTensor[]; outputNames: string[] } {
  const count = message[0] as number;
  return { outputNames: message.slice(1, 1 + count) as string[], inputs: readTensors(message, 1 + count) };
}

export function encodeResult(result: RunResult): BatchReply {
  const reply: (string | number | TensorData)[] = [result.computeSeconds];
  for (const output of result.outputs) pushTensor(reply, output);
  return reply;
}

export function decodeResult(reply: Exclude<BatchReply, string>): RunResult {
  return { computeSeconds: reply[0] as number, outputs: readTensors(reply, 1) };
}
