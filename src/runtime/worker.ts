/**
 * A worker thread holding one ONNX Runtime session of one model version.
 * session.run is synchronous on the calling thread in onnxruntime-node, which is
 * why it runs here and never on the main thread.
 */
import { performance } from 'node:perf_hooks';
import { MessageChannel, parentPort, threadId, workerData, type MessagePort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { countBatch, type BinningPlan } from '../drift/binning.js';
import type { ExecutionProvider } from '../models/model-config.js';
import {
  decodeBatch,
  DRIFT_FLUSH_MS,
  encodeResult,
  POOL_CONTROL,
  RELEASE,
  RELEASED,
  type BatchMessage,
  type BatchReply,
  type DescribeResult,
  type DriftCountsMessage,
  type DriftPlanMessage,
  type WireTensor,
  type WireTensorSpec,
  type WorkerInit,
  type WorkerReport,
  type WorkerTask,
} from './messages.js';
import { sessionOptions } from './session-options.js';
import { warmupTensors } from './warmup-tensors.js';

const init = workerData as WorkerInit;
const control = new Int32Array(init.control);
Atomics.add(control, POOL_CONTROL.LOADING, 1);
let loading = true;
const doneLoading = (): void => {
  if (loading) Atomics.sub(control, POOL_CONTROL.LOADING, 1);
  loading = false;
};
// A thread that exits while loading is not loading any more either.
process.once('exit', doneLoading);

interface LoadedSession {
  session: ort.InferenceSession;
  executionProvider: ExecutionProvider;
  fallbackReason?: string;
}

async function createSession(providers: ExecutionProvider[]): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(init.modelPath, sessionOptions(init, providers));
}

/** Tries each execution provider in order of preference, so a CUDA model still serves on a CPU host. */
async function loadSession(): Promise<LoadedSession> {
  const reasons: string[] = [];
  const providers = init.executionProviders;
  for (let i = 0; i < providers.length; i++) {
    const remaining = providers.slice(i);
    try {
      const session = await createSession(remaining);
      const fallbackReason = reasons.length ? reasons.join('; ') : undefined;
      return { session, executionProvider: remaining[0]!, ...(fallbackReason ? { fallbackReason } : {}) };
    } catch (error) {
      reasons.push(`${remaining[0]} unavailable: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`no execution provider could load the model (${reasons.join('; ')})`);
}

/** Runs every warmup sample `count` times; its first failure fails the load. */
async function warmUp(session: ort.InferenceSession): Promise<void> {
  const ranks = new Map(session.inputMetadata.map((m) => [m.name, m.isTensor ? m.shape.length : 0]));
  for (const plan of init.warmup) {
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of warmupTensors(plan, (name) => ranks.get(name))) {
        feeds[input.name] = new ort.Tensor(input.type, input.data as ort.Tensor.DataType, input.shape);
      }
      for (let i = 0; i < plan.count; i++) {
        if (Atomics.load(control, POOL_CONTROL.CANCEL)) throw new Error('the load was cancelled');
        await session.run(feeds);
      }
    } catch (error) {
      throw new Error(`warmup sample ${JSON.stringify(plan.name)} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

let warmupSeconds = 0;

async function loadAndWarmUp(): Promise<LoadedSession> {
  const loaded = await loadSession();
  const started = performance.now();
  await warmUp(loaded.session);
  warmupSeconds = (performance.now() - started) / 1000;
  return loaded;
}

// Loaded and warmed up during import: piscina sends a worker no task until its module has
// loaded, so a replacement worker takes work only once its session is ready. A failure is
// kept for the tasks to report; throwing here would only make piscina restart the thread forever.
const loaded: LoadedSession | Error = await loadAndWarmUp().catch((error: unknown) =>
  error instanceof Error ? error : new Error(String(error)),
);

function describeValue(meta: ort.InferenceSession.ValueMetadata): WireTensorSpec {
  if (!meta.isTensor) return { name: meta.name, type: 'non-tensor', isTensor: false, shape: [] };
  return {
    name: meta.name,
    type: meta.type,
    isTensor: true,
    shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  };
}

function describe(loaded: LoadedSession): DescribeResult {
  const { session, executionProvider, fallbackReason } = loaded;
  return {
    inputs: session.inputMetadata.map(describeValue),
    outputs: session.outputMetadata.map(describeValue),
    executionProvider,
    ...(fallbackReason ? { fallbackReason } : {}),
  };
}

/** Set once the version has a drift reference: each batch's sampled rows are then counted here, off the I/O thread. */
let driftPlan: BinningPlan | undefined;
/** Counts since the last flush to the main thread; undefined when none are held. */
let driftCounts: Uint32Array | undefined;
let driftGeneration = 0;
let driftPort: MessagePort | undefined;

/**
 * Sends what was counted since the last flush; armed by the first count after one, so an idle
 * worker holds no timer. Counts held when the worker exits or its version unloads (at most
 * DRIFT_FLUSH_MS of batches) are lost: the window is a sample of traffic, and an unloaded
 * version's window goes with it.
 */
function flushDrift(): void {
  const counts = driftCounts;
  driftCounts = undefined;
  if (counts) driftPort?.postMessage({ kind: 'drift-counts', counts, generation: driftGeneration } satisfies DriftCountsMessage, [counts.buffer as ArrayBuffer]);
}

async function run(session: ort.InferenceSession, message: BatchMessage): Promise<{ reply: BatchReply; transfer: ArrayBuffer[] }> {
  const { inputs, outputNames } = decodeBatch(message);
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of inputs) {
    feeds[input.name] = new ort.Tensor(input.type, input.data as ort.Tensor.DataType, input.shape);
  }
  const started = performance.now();
  // Outputs are left to ONNX Runtime: given preallocated tensors (fetches), onnxruntime-node
  // 1.30 writes into them and still copies each into a new buffer for its answer, so they
  // only add an allocation.
  const results = await session.run(feeds, outputNames);
  const computeSeconds = (performance.now() - started) / 1000;
  const outputs: WireTensor[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const name of outputNames) {
    const tensor = results[name]!;
    const data = tensor.data as WireTensor['data'];
    outputs.push({ name, type: tensor.type as WireTensor['type'], shape: tensor.dims as number[], data });
    if (!Array.isArray(data)) transfer.push(data.buffer as ArrayBuffer);
  }
  if (driftPlan) countDrift(driftPlan, inputs, outputs);
  return { reply: encodeResult({ outputs, computeSeconds }), transfer };
}

function countDrift(plan: BinningPlan, inputs: readonly WireTensor[], outputs: readonly WireTensor[]): void {
  const rows = inputs[0]?.shape[0] ?? 0;
  const held = driftCounts !== undefined;
  const counts = countBatch(
    plan,
    rows,
    (source, name) => {
      const found = (source === 'input' ? inputs : outputs).find((t) => t.name === name);
      return found && !Array.isArray(found.data) ? (found.data as ArrayLike<number>) : undefined;
    },
    Math.random,
    driftCounts,
  );
  if (counts && !held) {
    driftCounts = counts;
    setTimeout(flushDrift, DRIFT_FLUSH_MS).unref();
  }
}

/**
 * Batches come over this worker's own channel, not as piscina tasks: piscina's task
 * layer (a task object, an async resource and a histogram per task) costs the main
 * thread more than the batch's own message. Piscina still starts, replaces and ends
 * the thread, and carries the rare describe task.
 */
function serve(session: ort.InferenceSession, port: MessagePort): void {
  port.on('message', (message: BatchMessage | DriftPlanMessage | typeof RELEASE) => {
    if (!Array.isArray(message) && typeof message === 'object') {
      driftPlan = message.plan;
      driftGeneration = message.generation;
      // Counted with the previous plan: their bins mean nothing against the new one.
      driftCounts = undefined;
      driftPort = port;
      return;
    }
    if (message === RELEASE) {
      // Frees ONNX Runtime's memory now, rather than whenever the thread's teardown gets to it.
      void session.release().finally(() => port.postMessage(RELEASED));
      return;
    }
    run(session, message).then(
      ({ reply, transfer }) => port.postMessage(reply, transfer),
      (error: unknown) => port.postMessage(error instanceof Error ? error.message : String(error)),
    );
  });
}

// Said once, on the parent port; piscina hands it to the pool as a 'message' event.
if (loaded instanceof Error) {
  parentPort!.postMessage({ kind: 'failed', threadId, reason: loaded.message } satisfies WorkerReport);
} else {
  const { port1, port2 } = new MessageChannel();
  serve(loaded.session, port1);
  parentPort!.postMessage({ kind: 'ready', threadId, warmupSeconds, port: port2 } satisfies WorkerReport, [port2]);
}
doneLoading();

export default function handle(task: WorkerTask): DescribeResult {
  if (loaded instanceof Error) throw loaded;
  return describe(loaded);
}
