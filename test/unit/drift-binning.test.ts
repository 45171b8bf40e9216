import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countBatch, type BinningPlan, type BinningTensor } from '../../src/drift/binning.js';

/** The plain definition: a value's bin is the number of edges ≤ it (binary search); NaN's is the last. */
function referenceBin(edges: readonly number[], v: number): number {
  if (Number.isNaN(v)) return edges.length;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v < edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function referenceCounts(columns: readonly number[][], rows: readonly number[][], bins: number): number[] {
  const counts = new Array<number>(bins + 1).fill(0);
  let at = 0;
  columns.forEach((edges, f) => {
    for (const row of rows) counts[at + referenceBin(edges, row[f]!)]! += 1;
    at += edges.length + 1;
  });
  counts[bins] = rows.length;
  return counts;
}

function planOf(columns: readonly number[][], name = 'x'): { plan: BinningPlan; tensor: BinningTensor } {
  const edgeStart = new Uint32Array(columns.length + 1);
  columns.forEach((edges, f) => (edgeStart[f + 1] = edgeStart[f]! + edges.length));
  const tensor: BinningTensor = { name, source: 'input', mode: 'edges', width: columns.length, edges: Float64Array.from(columns.flat()), edgeStart, offset: 0 };
  return { plan: { sampleRatio: 1, tensors: [tensor], bins: tensor.edges.length + tensor.width }, tensor };
}

/** Sorted edges, duplicates allowed, from a pool of few values so that data hits them exactly. */
const pool = [-1e300, -7, -2.5, -1, -0, 0, 0.5, 1, 3, 1e-300, 2 ** 53, 1e300];
const edgeList = fc.array(fc.oneof(fc.constantFrom(...pool), fc.double({ noNaN: true, noDefaultInfinity: true })), { maxLength: 40, size: 'max' }).map((e) => e.sort((a, b) => a - b));
const value = (edges: readonly number[]) =>
  fc.oneof(fc.constantFrom(...edges, ...pool, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY), fc.double(), fc.integer({ min: -20, max: 20 }));

describe('countBatch against a binary search per value', () => {
  it('puts every value in the same bin: NaN, ±Infinity, values on an edge, duplicate edges, more than 15 edges', () => {
    const input = fc
      .array(edgeList, { minLength: 1, maxLength: 9 })
      .chain((columns) => fc.tuple(fc.constant(columns), fc.array(fc.tuple(...columns.map((edges) => value(edges))), { minLength: 1, maxLength: 6 })));
    fc.assert(
      fc.property(input, ([columns, rows]) => {
        const { plan } = planOf(columns);
        const data = Float64Array.from(rows.flat());
        const counts = countBatch(plan, rows.length, () => data)!;
        expect([...counts]).toEqual(referenceCounts(columns, rows, plan.bins));
      }),
      { numRuns: 500 },
    );
  });

  it('counts Float32, Int32 and BigInt64 data as their values', () => {
    const input = fc
      .array(fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 20, size: 'max' }).map((e) => e.sort((a, b) => a - b)), { minLength: 1, maxLength: 6 })
      .chain((columns) => fc.tuple(fc.constant(columns), fc.array(fc.tuple(...columns.map(() => fc.integer({ min: -60, max: 60 }))), { minLength: 1, maxLength: 5 })));
    fc.assert(
      fc.property(input, ([columns, rows]) => {
        const { plan } = planOf(columns);
        const expected = referenceCounts(columns, rows, plan.bins);
        const flat = rows.flat();
        for (const data of [Float32Array.from(flat), Int32Array.from(flat), BigInt64Array.from(flat, BigInt)]) {
          expect([...countBatch(plan, rows.length, () => data)!]).toEqual(expected);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('counts at each tensor offset, and adds into a given array', () => {
    const a = planOf([[0, 1], [5]], 'a').tensor;
    const b = { ...planOf([[], [2, 2, 3]], 'b').tensor, source: 'output' as const, offset: 5 };
    const plan: BinningPlan = { sampleRatio: 1, tensors: [a, b], bins: 5 + 5 };
    const x = Float32Array.from([0.5, 9, Number.NaN, 4]);
    const y = Float64Array.from([7, 2, -1, Number.NaN]);
    const into = new Uint32Array(plan.bins + 1);
    countBatch(plan, 2, (source) => (source === 'input' ? x : y), Math.random, into);
    countBatch(plan, 2, (source) => (source === 'input' ? x : y), Math.random, into);
    // Counts 0–2 and 3–4 are a's columns (0.5 and NaN; 9 and 4), 5 and 6–9 b's (no edges; 2 on a
    // duplicated edge and NaN), twice; then the rows.
    expect([...into]).toEqual([0, 2, 2, 2, 2, 4, 0, 0, 2, 2, 4]);
  });
});
