/**
 * The in-process ceiling: what ONNX Runtime itself does on this machine, with
 * no HTTP and no queueing. Worker threads each run session.run on a fixed batch
 * in a loop; the best layout (threads × intra-op threads) is the ceiling.
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

const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(${JSON.stringify(ortPath)});
(async () => {
  const t = workerData;
  const session = await ort.InferenceSession.create(t.modelPath, { intraOpNumThreads: t.intraOpThreads, interOpNumThreads: 1 });
  const data = new Float32Array(t.batchSize * t.rowSize).map((_, i) => Math.sin(i));
  const feeds = { [t.inputName]: new ort.Tensor('float32', data, [t.batchSize, t.rowSize]) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const end = performance.now() + t.seconds * 1000;
  let rows = 0;
  const start = performance.now();
  while (performance.now() < end) { await session.run(feeds); rows += t.batchSize; }
  parentPort.postMessage(rows / ((performance.now() - start) / 1000));
})();
`;

async function measure(task: CeilingTask, threads: number): Promise<number> {
  const rates = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(workerCode, { eval: true, workerData: task });
          worker.once('message', (rate: number) => {
            resolve(rate);
            void worker.terminate();
          });
          worker.once('error', reject);
        }),
    ),
  );
  return rates.reduce((a, b) => a + b, 0);
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
