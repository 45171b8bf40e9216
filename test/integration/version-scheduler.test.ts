/**
 * VersionScheduler on its own over a real pool: its completion contract, each request
 * answered exactly once, holds whatever a completion callback does.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateRequest } from '../../src/inference/validate.js';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { modelConfigFileSchema } from '../../src/models/model-config.js';
import { resolveModelSpec, type ModelSpec } from '../../src/models/model-spec.js';
import { projectFile } from '../../src/project-files.js';
import type { ModelPool as SourcePool } from '../../src/runtime/model-pool.js';
import { VersionScheduler, type SubmitCallback } from '../../src/scheduling/version-scheduler.js';
import type { InferRequest } from '../../src/types.js';
import { waitFor } from '../helpers/conditions.js';
import { writeRepository } from '../helpers/repository.js';

type PoolModule = typeof import('../../src/runtime/model-pool.js');
// The pool's worker file is in dist/, so the pool is loaded from there.
const { ModelPool } = (await import(pathToFileURL(projectFile('dist', 'src', 'runtime', 'model-pool.js')).href)) as PoolModule;

const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;
const repository = writeRepository([{ entry: tiny }]);

describe('VersionScheduler', { timeout: 60_000 }, () => {
  let pool: SourcePool;
  let spec: ModelSpec;
  let scheduler: VersionScheduler;
  beforeAll(async () => {
    pool = new ModelPool({ modelPath: path.join(repository, 'tiny_classifier', '1', 'model.onnx'), executionProviders: ['cpu'], intraOpThreads: 1, intraOpSpinning: false, warmup: [] }, 1);
    const described = await pool.describe();
    await pool.ready();
    spec = resolveModelSpec('tiny_classifier', 1, modelConfigFileSchema.parse({ max_batch_size: 8 }), described);
    scheduler = new VersionScheduler(spec, pool);
  });
  afterAll(async () => {
    await pool?.close();
  });


  it('answers every request of a batch even when one completion throws', async () => {
    const input = (seed: number): InferRequest => {
      const x = spec.inputs[0]!;
      const width = x.shape[1]!;
      return {
        modelName: 'tiny_classifier',
        modelVersion: undefined,
        id: undefined,
        parameters: {},
        inputs: [{ name: x.name, datatype: 'FP32', shape: [1, width], data: Float32Array.from({ length: width }, (_, i) => seed + i), parameters: {} }],
        outputs: undefined,
        protocol: 'rest',
        cancellation: undefined,
        deadlineUs: undefined,
        routingKey: undefined,
        traceparent: undefined,
        traceSpan: undefined,
        lowestPriority: undefined,
      };
    };
    const answered: number[] = [];
    const completion = (index: number): SubmitCallback => (error, outputs) => {
      expect(error).toBeUndefined();
      expect(outputs!.length).toBeGreaterThan(0);
      answered.push(index);
      // A completion with a bug in it (the first of the batch).
      if (index === 0) throw new Error('a completion that throws');
    };
    // Submitted in one turn of the event loop: an idle model runs them as one batch.
    for (let i = 0; i < 3; i++) scheduler.submit(validateRequest(input(i), spec, scheduler.allOutputs), completion(i));
    await waitFor('all three requests answered', () => answered.length === 3, 10_000);
    expect(answered).toEqual([0, 1, 2]);
    expect(scheduler.stats.executionCount).toBe(1);
  });
});
