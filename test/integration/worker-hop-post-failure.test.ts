/**
 * A batch its worker cannot be sent (postMessage throws: a transfer list naming a
 * buffer twice, or one already detached) fails on its own, as a rejected promise:
 * the pool counts it done and its worker stays free for the next batch, whether the
 * batch was posted at once or waited in the queue for a worker.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import type { WireTensor } from '../../src/runtime/messages.js';
import { writeRepository } from '../helpers/repository.js';

type PoolModule = typeof import('../../src/runtime/model-pool.js');
const { ModelPool } = (await import(pathToFileURL(projectFile('dist', 'src', 'runtime', 'model-pool.js')).href)) as PoolModule;
type Pool = InstanceType<PoolModule['ModelPool']>;

const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;
const repository = writeRepository([{ entry: tiny }]);

const input = (): WireTensor => ({ name: 'input', type: 'float32', shape: [1, 64], data: new Float32Array(64).fill(0.5) });
const buffer = (t: WireTensor): ArrayBuffer => (t.data as Float32Array).buffer as ArrayBuffer;

describe('a batch that cannot be posted to its worker', { timeout: 120_000 }, () => {
  let pool: Pool;
  beforeAll(async () => {
    pool = new ModelPool(
      { modelPath: path.join(repository, 'tiny_classifier', '1', 'model.onnx'), executionProviders: ['cpu'], intraOpThreads: 1, intraOpSpinning: false, warmup: [] },
      1,
    );
    await pool.ready();
  });
  afterAll(async () => {
    await pool.close();
  });

  it('is a rejected promise, not a throw, and leaves the pool idle with its worker free', async () => {
    const bad = input();
    let outcome: Promise<unknown> | undefined;
    expect(() => (outcome = pool.run([bad], ['probabilities'], [buffer(bad), buffer(bad)], 10_000))).not.toThrow();
    await expect(outcome).rejects.toThrow(/could not be sent to its worker/);
    expect(pool.idle).toBe(true);
    const good = input();
    const answer = await pool.run([good], ['probabilities'], [buffer(good)], 10_000);
    expect(answer.outputs[0]!.shape).toEqual([1, 10]);
    expect(pool.idle).toBe(true);
  });

  it('fails alone when it waited in the queue, and the batches behind it still run', async () => {
    const first = input();
    const bad = input();
    const last = input();
    const running = pool.run([first], ['probabilities'], [buffer(first)], 10_000);
    // One instance, busy: these two wait, and are posted as the worker frees up.
    const failing = pool.run([bad], ['probabilities'], [buffer(bad), buffer(bad)], 10_000);
    const behind = pool.run([last], ['probabilities'], [buffer(last)], 10_000);
    await expect(failing).rejects.toThrow(/could not be sent to its worker/);
    expect((await running).outputs[0]!.shape).toEqual([1, 10]);
    expect((await behind).outputs[0]!.shape).toEqual([1, 10]);
    expect(pool.idle).toBe(true);
  });
});
