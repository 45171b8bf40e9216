/**
 * The worker's share of drift in this process: CPU time of countBatch (drift/binning.ts) on
 * batches shaped like the bundled models', with plans built the way the server builds them
 * (quantile edges of a captured reference of 2,000 rows, 10 bins).
 */
import type { BinningPlan, countBatch } from '../../src/drift/binning.js';
import { profiledTensors } from '../../src/drift/profiled-tensors.js';
import { buildReference, type TensorRows } from '../../src/drift/reference-builder.js';
import { layoutOf } from '../../src/drift/reference-profile.js';

export type CountBatch = typeof countBatch;

export interface BinningShape {
  model: string;
  input: number;
  output: number;
  /** The output is class scores: its argmax is counted too. */
  classScores: boolean;
}

export const HEAVY: BinningShape = { model: 'heavy_mlp', input: 512, output: 1000, classScores: false };
export const TINY: BinningShape = { model: 'tiny_classifier', input: 64, output: 10, classScores: true };

export interface BinningCase {
  shape: BinningShape;
  plan: BinningPlan;
  rows: number;
  find: (source: 'input' | 'output') => Float32Array;
}

export async function binningCase(shape: BinningShape, sampleRatio: number, rows = 128): Promise<BinningCase> {
  const spec = { maxBatchSize: rows, inputs: [{ name: 'input', datatype: 'FP32' as const, shape: [-1, shape.input] }], outputs: [{ name: 'scores', datatype: 'FP32' as const, shape: [-1, shape.output] }] };
  const { tensors } = profiledTensors(spec, shape.classScores ? ['scores'] : []);
  const referenceRows = 2000;
  const random = (n: number): Float64Array => Float64Array.from({ length: n }, () => Math.random() * 2 - 1);
  const rowsOf = new Map<string, TensorRows>([
    ['input:input', { data: random(referenceRows * shape.input), rows: referenceRows }],
    ['output:scores', { data: random(referenceRows * shape.output), rows: referenceRows }],
  ]);
  const reference = await buildReference(tensors, rowsOf, { model: shape.model, version: '1', bins: 10, source: 'captured' });
  const { plan } = layoutOf(reference, tensors, sampleRatio);
  const input = Float32Array.from({ length: rows * shape.input }, () => Math.random() * 2 - 1);
  const scores = Float32Array.from({ length: rows * shape.output }, () => Math.random() * 2 - 1);
  return { shape, plan, rows, find: (source) => (source === 'input' ? input : scores) };
}

/** Batches counted per timing, so that each timing takes a few hundred ms of CPU. */
export const batchesPerTiming = (c: BinningCase): number => Math.max(20, Math.round(3e7 / ((c.shape.input + c.shape.output) * c.rows * c.plan.sampleRatio)));

/**
 * One timing: `batches` batches counted into one array (as a worker sums them between
 * flushes). CPU time, not wall time: on a shared machine the wall clock also counts other
 * processes' turns.
 */
export function timeBatches(count: CountBatch, c: BinningCase, batches: number): { usPerBatch: number; usPerCountedRow: number } {
  const into = new Uint32Array(c.plan.bins + 1);
  const started = process.cpuUsage();
  for (let i = 0; i < batches; i++) count(c.plan, c.rows, c.find, Math.random, into);
  const cpu = process.cpuUsage(started);
  const us = cpu.user + cpu.system;
  return { usPerBatch: us / batches, usPerCountedRow: us / into[c.plan.bins]! };
}

export const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
