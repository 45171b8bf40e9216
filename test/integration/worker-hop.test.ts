/**
 * ModelPool on its own, in this process: batches over each worker's own channel,
 * as flat messages with transferred buffers, and the time limit kept by one
 * watchdog per pool. Loaded from dist/, where its worker file is.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { datatypeEcho } from '../../src/modelgen/graphs.js';
import { projectFile } from '../../src/project-files.js';
import type { RunResult, WireTensor } from '../../src/runtime/messages.js';
import { rejection, waitFor } from '../helpers/conditions.js';
import { writeRepository } from '../helpers/repository.js';

type PoolModule = typeof import('../../src/runtime/model-pool.js');
const { ModelPool, BatchTimeoutError } = (await import(pathToFileURL(projectFile('dist', 'src', 'runtime', 'model-pool.js')).href)) as PoolModule;
type Pool = InstanceType<PoolModule['ModelPool']>;

const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;
const echo = { model: 'echo', version: 1, graph: () => datatypeEcho(['BYTES', 'INT64', 'BOOL', 'FP32']) };
const repository = writeRepository([{ entry: tiny }, { entry: TEST_MODELS.slow }, { entry: TEST_MODELS.gather }, { entry: echo }]);
const modelFile = (model: string) => path.join(repository, model, '1', 'model.onnx');

async function openPool(model: string, instances: number): Promise<Pool> {
  const pool = new ModelPool({ modelPath: modelFile(model), executionProviders: ['cpu'], intraOpThreads: 1, intraOpSpinning: false, warmup: [] }, instances);
  await pool.describe();
  await pool.ready();
  return pool;
}

const float = (name: string, rows: number, width: number, seed: number): WireTensor => ({
  name,
  type: 'float32',
  shape: [rows, width],
  data: Float32Array.from({ length: rows * width }, (_, i) => Math.sin(seed * 31 + i)),
});

/** Runs `input` through the pool, handing its buffer over as the scheduler does. */
const runOn = (pool: Pool, inputs: WireTensor[], outputs: string[], timeoutMs = 30_000): Promise<RunResult> =>
  pool.run(
    inputs,
    outputs,
    inputs.flatMap((t) => (Array.isArray(t.data) ? [] : [t.data.buffer as ArrayBuffer])),
    timeoutMs,
  );

describe('the worker hop', { timeout: 120_000 }, () => {
  let tinyPool: Pool;
  let direct: ort.InferenceSession;
  beforeAll(async () => {
    tinyPool = await openPool('tiny_classifier', 2);
    direct = await ort.InferenceSession.create(modelFile('tiny_classifier'), { intraOpNumThreads: 1 });
  });
  afterAll(async () => {
    await tinyPool.close();
    await direct.release();
  });

  it('answers more batches than instances, each equal to a direct ONNX Runtime run, and hands the input buffers over', async () => {
    const batches = Array.from({ length: 12 }, (_, i) => float('input', 1 + (i % 5), 64, i));
    const expected = await Promise.all(
      batches.map(async (b) => (await direct.run({ input: new ort.Tensor('float32', (b.data as Float32Array).slice(), b.shape) })).probabilities!),
    );
    const answers = await Promise.all(batches.map((b) => runOn(tinyPool, [b], ['probabilities'])));
    answers.forEach((answer, i) => {
      expect(answer.outputs.map((o) => [o.name, o.type, o.shape])).toEqual([['probabilities', 'float32', [batches[i]!.shape[0], 10]]]);
      expect(Array.from(answer.outputs[0]!.data as Float32Array)).toEqual(Array.from(expected[i]!.data as Float32Array));
      expect(answer.computeSeconds).toBeGreaterThan(0);
      // Transferred, not copied: the caller's buffer is detached.
      expect((batches[i]!.data as Float32Array).byteLength).toBe(0);
    });
    expect(tinyPool.idle).toBe(true);
    expect(tinyPool.counters.busySeconds).toBeGreaterThan(0);
  });

  it('carries several tensors, BYTES strings and 64-bit integers through the flat messages, outputs in the order asked', async () => {
    const pool = await openPool('echo', 1);
    try {
      const inputs: WireTensor[] = [
        { name: 'bytes_in', type: 'string', shape: [2, 2], data: ['a', '', 'ünï', 'x'.repeat(1000)] },
        { name: 'int64_in', type: 'int64', shape: [2, 2], data: BigInt64Array.from([-(2n ** 62n), 2n ** 62n, 0n, -1n]) },
        { name: 'bool_in', type: 'bool', shape: [2, 2], data: Uint8Array.from([1, 0, 0, 1]) },
        { name: 'fp32_in', type: 'float32', shape: [2, 2], data: Float32Array.from([0.5, -0, Infinity, 3]) },
      ];
      const answer = await runOn(pool, inputs, ['fp32_out', 'bytes_out', 'int64_out']);
      expect(answer.outputs.map((o) => [o.name, o.type, o.shape, Array.from(o.data as ArrayLike<unknown>)])).toEqual([
        ['fp32_out', 'float32', [2, 2], [0.5, -0, Infinity, 3]],
        ['bytes_out', 'string', [2, 2], ['a', '', 'ünï', 'x'.repeat(1000)]],
        ['int64_out', 'int64', [2, 2], [-(2n ** 62n), 2n ** 62n, 0n, -1n]],
      ]);
    } finally {
      await pool.close();
    }
  });

  it('fails a batch that fails inside ONNX Runtime with its reason, and the worker takes the next', async () => {
    const gather = await openPool('gather', 1);
    try {
      const index = (i: bigint): WireTensor => ({ name: 'index', type: 'int64', shape: [1, 1], data: BigInt64Array.from([i]) });
      const failure = await rejection(runOn(gather, [index(10n)], ['value']));
      expect(failure.message).toMatch(/indices/i);
      const ok = await runOn(gather, [index(2n)], ['value']);
      expect(Array.from(ok.outputs[0]!.data as Float32Array)).toEqual([30]);
      expect(gather.idle).toBe(true);
    } finally {
      await gather.close();
    }
  });

  it('fails a batch at batch_timeout_ms while its worker finishes the run, fails one waiting past its own, then serves again', async () => {
    const slow = await openPool('slow', 1);
    try {
      const running = runOn(slow, [float('x', 1, 4, 1)], ['y'], 50);
      const waiting = runOn(slow, [float('x', 1, 4, 2)], ['y'], 100);
      const first = await rejection(running);
      expect(first).toBeInstanceOf(BatchTimeoutError);
      expect(first.message).toMatch(/ran past batch_timeout_ms 50/);
      // Answered at the limit, while the native run goes on; the batch waiting behind it
      // fails at its own limit, before that run ends.
      expect(slow.idle).toBe(false);
      const second = await rejection(waiting);
      expect(second).toBeInstanceOf(BatchTimeoutError);
      expect(second.message).toMatch(/batch_timeout_ms 100/);
      expect(slow.idle).toBe(false);
      await waitFor('the worker to finish its run', () => slow.idle, 60_000);
      expect(slow.counters.busySeconds).toBeGreaterThan(0);
      const next = await runOn(slow, [float('x', 1, 4, 3)], ['y'], 0);
      expect(next.outputs[0]!.shape).toEqual([1, 4]);
    } finally {
      await slow.close();
    }
  });

  it('refuses batches once closed', async () => {
    const pool = await openPool('tiny_classifier', 1);
    await runOn(pool, [float('input', 1, 64, 7)], ['probabilities']);
    await pool.close();
    expect((await rejection(runOn(pool, [float('input', 1, 64, 8)], ['probabilities']))).message).toMatch(/closed/);
  });
});
