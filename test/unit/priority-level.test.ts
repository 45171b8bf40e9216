/**
 * Issue 12, item 2: `priority` was any integer up to 2^31 - 1, and each distinct
 * value became its own queue group. It is now a level of the model's
 * priority_levels, checked where every protocol's requests are validated.
 */
import { describe, expect, it } from 'vitest';
import { ServingError } from '../../src/errors.js';
import type { InferRequest, ParameterValue } from '../../src/types.js';
import { validateRequest } from '../../src/inference/validate.js';
import { modelConfigFileSchema } from '../../src/models/model-config.js';
import { resolveModelSpec } from '../../src/models/model-spec.js';
import { ShadowRunner } from '../../src/routing/shadow-runner.js';

const spec = resolveModelSpec('m', 1, modelConfigFileSchema.parse({ dynamic_batching: { priority_levels: 4, default_priority_level: 2 } }), {
  inputs: [{ name: 'x', type: 'float32', isTensor: true, shape: [-1, 2] }],
  outputs: [{ name: 'y', type: 'float32', isTensor: true, shape: [-1, 2] }],
  executionProvider: 'cpu',
});

const request = (priority?: ParameterValue): InferRequest => ({
  modelName: 'm',
  parameters: priority === undefined ? {} : { priority },
  inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: new Float32Array(2) }],
  protocol: 'rest',
});

describe('priority level of a request', () => {
  it('is the model default without a priority or with 0, and the level given otherwise', () => {
    expect(validateRequest(request(), spec).priority).toBe(2);
    expect(validateRequest(request(0), spec).priority).toBe(2);
    for (const level of [1, 2, 3, 4]) expect(validateRequest(request(level), spec).priority).toBe(level);
  });

  it('refuses a priority outside 0..priority_levels with INVALID_ARGUMENT naming the range', () => {
    for (const value of [5, 2 ** 31 - 1, -1, 1.5, '1', true]) {
      let error: unknown;
      try {
        validateRequest(request(value), spec);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ServingError);
      expect((error as ServingError).code).toBe('INVALID_ARGUMENT');
      expect((error as ServingError).message).toMatch(/parameter priority must be an integer in \[0, 4\] for model m: .*priority_levels 4.*default level 2/);
    }
  });

  it('echoes a long value only in part', () => {
    expect(() => validateRequest(request('9'.repeat(10_000)), spec)).toThrow(/got "9{39}$/);
  });

  it('puts a shadow copy at the lowest level of the shadow model, whatever the client asked', () => {
    const copy = ShadowRunner.copyRequest(request(1), { model: 'm', version: '1', percent: 100, class_scores: [] });
    expect(validateRequest(copy, spec).priority).toBe(4);
  });
});
