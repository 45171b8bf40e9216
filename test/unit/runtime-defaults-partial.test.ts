import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { modelConfigFileSchema, runtimeDefaults } from '../../src/models/model-config.js';

describe('runtimeDefaults when a config sets one of instances and intra_op_threads', () => {
  it('derives the other from it, so that the threads stay within the cores but one', () => {
    // 16 cores: 15 for ONNX Runtime.
    expect(runtimeDefaults(['cpu'], 16, { instances: 8 })).toEqual({ instances: 8, intraOpThreads: 1 });
    expect(runtimeDefaults(['cpu'], 16, { instances: 2 })).toEqual({ instances: 2, intraOpThreads: 7 });
    expect(runtimeDefaults(['cpu'], 16, { intraOpThreads: 4 })).toEqual({ instances: 3, intraOpThreads: 4 });
    expect(runtimeDefaults(['cpu'], 16, { intraOpThreads: 1 })).toEqual({ instances: 4, intraOpThreads: 1 });
    // More than the cores asked: one of the other, never zero.
    expect(runtimeDefaults(['cpu'], 4, { instances: 6 })).toEqual({ instances: 6, intraOpThreads: 1 });
    expect(runtimeDefaults(['cpu'], 4, { intraOpThreads: 8 })).toEqual({ instances: 1, intraOpThreads: 8 });
    // 0: ONNX Runtime takes every core for each session, so one session.
    expect(runtimeDefaults(['cpu'], 16, { intraOpThreads: 0 })).toEqual({ instances: 1, intraOpThreads: 0 });
    // Both set: kept as they are.
    expect(runtimeDefaults(['cpu'], 16, { instances: 5, intraOpThreads: 5 })).toEqual({ instances: 5, intraOpThreads: 5 });
    expect(runtimeDefaults(['cuda'], 16, { instances: 2 })).toEqual({ instances: 2, intraOpThreads: 1 });
  });
});

describe('a config.json that sets only one of them', () => {
  it("gets the other from this machine's cores and the one it set", () => {
    const runtimeThreads = Math.max(1, availableParallelism() - 1);
    const many = modelConfigFileSchema.parse({ instances: 64 });
    expect([many.instances, many.intra_op_threads]).toEqual([64, 1]);
    const threads = modelConfigFileSchema.parse({ intra_op_threads: 2 });
    expect([threads.instances, threads.intra_op_threads]).toEqual([Math.max(1, Math.min(4, Math.floor(runtimeThreads / 2))), 2]);
  });
});
