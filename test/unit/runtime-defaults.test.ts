import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { modelConfigFileSchema, runtimeDefaults } from '../../src/models/model-config.js';
import { resolveModelSpec } from '../../src/models/model-spec.js';
import type { DescribeResult } from '../../src/runtime/messages.js';

describe('runtimeDefaults', () => {
  it('gives ONNX Runtime every core but the one of the I/O thread: up to 4 instances of one thread, then more threads per instance', () => {
    const on = (cores: number) => runtimeDefaults(['cpu'], cores);
    expect(on(1)).toEqual({ instances: 1, intraOpThreads: 1 });
    expect(on(2)).toEqual({ instances: 1, intraOpThreads: 1 });
    expect(on(3)).toEqual({ instances: 2, intraOpThreads: 1 });
    expect(on(4)).toEqual({ instances: 3, intraOpThreads: 1 });
    expect(on(8)).toEqual({ instances: 4, intraOpThreads: 1 });
    expect(on(9)).toEqual({ instances: 4, intraOpThreads: 2 });
    expect(on(64)).toEqual({ instances: 4, intraOpThreads: 15 });
  });

  it('keeps one instance of one thread on CUDA, whatever the cores', () => {
    expect(runtimeDefaults(['cuda', 'cpu'], 16)).toEqual({ instances: 1, intraOpThreads: 1 });
  });
});

describe('a config that leaves instances and intra_op_threads out', () => {
  it('gets them from the cores of this machine, and keeps what it sets, 0 included', () => {
    const here = runtimeDefaults(['cpu'], availableParallelism());
    const parsed = modelConfigFileSchema.parse({});
    expect({ instances: parsed.instances, intraOpThreads: parsed.intra_op_threads }).toEqual(here);
    const set = modelConfigFileSchema.parse({ instances: 3, intra_op_threads: 0 });
    expect([set.instances, set.intra_op_threads]).toEqual([3, 0]);
    const cuda = modelConfigFileSchema.parse({ execution_providers: ['cuda', 'cpu'] });
    expect([cuda.instances, cuda.intra_op_threads]).toEqual([1, 1]);
  });

  it('still refuses values out of range', () => {
    expect(modelConfigFileSchema.safeParse({ instances: 0 }).success).toBe(false);
    expect(modelConfigFileSchema.safeParse({ intra_op_threads: -1 }).success).toBe(false);
  });
});

describe('the spec of a loaded version', () => {
  const described = (extra: Partial<DescribeResult>): DescribeResult => ({
    inputs: [{ name: 'x', type: 'float32', isTensor: true, shape: [-1, 4] }],
    outputs: [{ name: 'y', type: 'float32', isTensor: true, shape: [-1, 2] }],
    executionProvider: 'cpu',
    ...extra,
  });

  it('takes instances and intra-op threads from the pool that runs it, so the batcher runs as many batches as there are workers', () => {
    const config = modelConfigFileSchema.parse({ instances: 3, intra_op_threads: 2 });
    expect(resolveModelSpec('m', 1, config, described({ instances: 1, intraOpThreads: 1 }))).toMatchObject({ instances: 1, intraOpThreads: 1 });
    expect(resolveModelSpec('m', 1, config, described({}))).toMatchObject({ instances: 3, intraOpThreads: 2 });
  });
});
