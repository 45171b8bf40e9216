/**
 * The in-process ceiling: what ONNX Runtime itself does on this machine, with
 * no HTTP and no queueing. Worker threads each run session.run on a fixed batch
 * in a loop; the best layout (threads × intra-op threads) is the ceiling.
 *
 * All threads are measured over one window: each loads its session and warms up,
 * then all start together and stop together, and the rows they finished in the
 * window are summed. (Rates measured over each thread's own window and added up
 * overstate it: while one thread is still loading, the other has the cores to itself.)
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');

export interface CeilingResult {
  rowsPerSecond: number;
  batchSize: number;
  threads: number;
  intraOpThreads: number;
}

interface CeilingTask {
  modelPath: string;
  inputName: string;
  rowSize: number;
  batchSize: number;
  intraOpThreads: number;
  seconds: number;
}

/** Index in the shared flags: 0 until the window opens, 1 while open, 2 once closed. */
const WINDOW = 0;

// Runs finished after the window closed are not counted: they ran partly outside it.
const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(${JSON.stringify(ortPath)});
(async () => {
  const { task: t, flags } = workerData;
  const session = await ort.InferenceSession.create(t.modelPath, { intraOpNumThreads: t.intraOpThreads, interOpNumThreads: 1 });
  const data = new Float32Array(t.batchSize * t.rowSize).map((_, i) => Math.sin(i));
  const feeds = { [t.inputName]: new ort.Tensor('float32', data, [t.batchSize, t.rowSize]) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  parentPort.postMessage('ready');
  Atomics.wait(flags, ${WINDOW}, 0);
  let rows = 0;
  for (;;) {
    await session.run(feeds);
    if (Atomics.load(flags, ${WINDOW}) !== 1) break;
    rows += t.batchSize;
  }
  parentPort.postMessage(rows);
})();
`;

/** Rows a second of `threads` threads running at once over one window of task.seconds. */
async function measure(task: CeilingTask, threads: number): Promise<number> {
  const flags = new Int32Array(new SharedArrayBuffer(4));
  const workers = Array.from({ length: threads }, () => new Worker(workerCode, { eval: true, workerData: { task, flags } }));
  const message = (worker: Worker) =>
    new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  try {
    await Promise.all(workers.map(message));
    const rowsCounted = workers.map(message);
    const opened = performance.now();
    Atomics.store(flags, WINDOW, 1);
    Atomics.notify(flags, WINDOW);
    await new Promise((r) => setTimeout(r, task.seconds * 1000));
    Atomics.store(flags, WINDOW, 2);
    const windowSeconds = (performance.now() - opened) / 1000;
    const rows = (await Promise.all(rowsCounted)) as number[];
    return rows.reduce((a, b) => a + b, 0) / windowSeconds;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Tries one thread using every core, and one thread per core; returns the faster. */
export async function measureCeiling(task: Omit<CeilingTask, 'intraOpThreads'>, cores: number): Promise<CeilingResult> {
  const layouts = [
    { threads: 1, intraOpThreads: cores },
    { threads: cores, intraOpThreads: 1 },
  ];
  let best: CeilingResult | undefined;
  for (const layout of layouts) {
    const rowsPerSecond = await measure({ ...task, intraOpThreads: layout.intraOpThreads }, layout.threads);
    if (!best || rowsPerSecond > best.rowsPerSecond) best = { rowsPerSecond, batchSize: task.batchSize, ...layout };
  }
  return best!;
}
