import { describe, expect, it } from 'vitest';
import { modelConfigFileSchema } from '../../src/models/model-config.js';
import { DEFAULT_MAX_BATCH_SIZE, resolveModelSpec } from '../../src/models/model-spec.js';
import { applyVersionPolicy } from '../../src/models/repository.js';
import type { DescribeResult } from '../../src/runtime/messages.js';

const described = (inputShape: number[], outputShape: number[]): DescribeResult => ({
  inputs: [{ name: 'x', type: 'float32', isTensor: true, shape: inputShape }],
  outputs: [{ name: 'y', type: 'float32', isTensor: true, shape: outputShape }],
  executionProvider: 'cpu',
});
const config = (value: unknown) => modelConfigFileSchema.parse(value);

describe('resolveModelSpec', () => {
  it('turns batching on without a config when every first dimension is variable', () => {
    const spec = resolveModelSpec('m', 1, undefined, described([-1, 4], [-1, 2]));
    expect(spec.maxBatchSize).toBe(DEFAULT_MAX_BATCH_SIZE);
  });

  it('turns batching off without a config when some first dimension is fixed', () => {
    expect(resolveModelSpec('m', 1, undefined, described([3, 4], [-1, 2])).maxBatchSize).toBe(0);
  });

  it('refuses max_batch_size on a model without a batch dimension', () => {
    expect(() => resolveModelSpec('m', 1, config({ max_batch_size: 4 }), described([3, 4], [3]))).toThrow(
      /max_batch_size 4 needs a variable first dimension .* x has shape \[3, 4\]/,
    );
  });

  it('lets the config narrow a variable dimension, but not contradict a fixed one', () => {
    const narrowed = resolveModelSpec('m', 1, config({ max_batch_size: 4, inputs: [{ name: 'x', dims: [8] }] }), described([-1, -1], [-1, 2]));
    expect(narrowed.inputs[0]!.shape).toEqual([-1, 8]);
    expect(narrowed.variableInnerDims).toBe(false);
    expect(() =>
      resolveModelSpec('m', 1, config({ max_batch_size: 4, inputs: [{ name: 'x', dims: [8] }] }), described([-1, 4], [-1, 2])),
    ).toThrow(/model fixes it at 4/);
    expect(() => resolveModelSpec('m', 1, config({ inputs: [{ name: 'z', dims: [8] }] }), described([-1, 4], [-1, 2]))).toThrow(
      /does not have/,
    );
  });

  it('refuses a model whose inputs the server cannot hold', () => {
    const weird: DescribeResult = { ...described([-1], [-1]), inputs: [{ name: 'seq', type: 'non-tensor', isTensor: false, shape: [] }] };
    expect(() => resolveModelSpec('m', 1, undefined, weird)).toThrow(/input seq has type non-tensor/);
  });
});

describe('model config file', () => {
  it('checks preferred batch sizes against max_batch_size', () => {
    const result = modelConfigFileSchema.safeParse({ max_batch_size: 4, dynamic_batching: { preferred_batch_sizes: [8] } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/8 is larger than max_batch_size 4/);
  });

  it("takes Triton's priority_levels and default_priority_level, two levels and level 1 by default", () => {
    const defaults = resolveModelSpec('m', 1, undefined, described([-1, 4], [-1, 2]));
    expect([defaults.priorityLevels, defaults.defaultPriorityLevel]).toEqual([2, 1]);
    const four = resolveModelSpec('m', 1, config({ dynamic_batching: { priority_levels: 4, default_priority_level: 3 } }), described([-1, 4], [-1, 2]));
    expect([four.priorityLevels, four.defaultPriorityLevel]).toEqual([4, 3]);
  });

  it('refuses a default priority level outside 1..priority_levels, and levels it cannot keep cheap', () => {
    const above = modelConfigFileSchema.safeParse({ dynamic_batching: { priority_levels: 2, default_priority_level: 3 } });
    expect(above.error?.issues[0]?.path).toEqual(['dynamic_batching', 'default_priority_level']);
    expect(above.error?.issues[0]?.message).toMatch(/3 is larger than priority_levels 2/);
    expect(modelConfigFileSchema.safeParse({ dynamic_batching: { priority_levels: 0 } }).success).toBe(false);
    expect(modelConfigFileSchema.safeParse({ dynamic_batching: { default_priority_level: 0 } }).success).toBe(false);
    expect(modelConfigFileSchema.safeParse({ dynamic_batching: { priority_levels: 2 ** 31 - 1 } }).success).toBe(false);
  });

  it('refuses unknown keys', () => {
    expect(modelConfigFileSchema.safeParse({ max_batch_sise: 4 }).success).toBe(false);
  });
});

describe('version policy', () => {
  it('serves the latest N, all, or specific versions', () => {
    expect(applyVersionPolicy({ latest: { num_versions: 2 } }, [1, 3, 2])).toEqual({ serve: [3, 2], missing: [] });
    expect(applyVersionPolicy({ all: {} }, [1, 3])).toEqual({ serve: [3, 1], missing: [] });
    expect(applyVersionPolicy({ specific: { versions: [1, 4] } }, [1, 3])).toEqual({ serve: [1], missing: [4] });
  });
});
