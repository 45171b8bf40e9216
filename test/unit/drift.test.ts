/** The pure parts of drift: bins, scores, the window ring, references (issue 15). */
import { describe, expect, it } from 'vitest';
import { binOf, countBatch, type BinningPlan } from '../../src/drift/binning.js';
import { DriftMonitor } from '../../src/drift/drift-monitor.js';
import { DriftWindow, SUB_WINDOWS } from '../../src/drift/drift-window.js';
import { profiledTensors, type ProfiledTensor } from '../../src/drift/profiled-tensors.js';
import { categoryEdges, MAX_CATEGORIES, nextUp, quantileEdges, sortedFinite } from '../../src/drift/quantile-edges.js';
import { buildReference, type TensorRows } from '../../src/drift/reference-builder.js';
import { parseReference } from '../../src/drift/reference-file.js';
import { layoutOf, REFERENCE_FORMAT } from '../../src/drift/reference-profile.js';
import { jsDistance, psi, verdictOf, type BinSpan } from '../../src/drift/scores.js';
import { formatZodError } from '../../src/config/zod-errors.js';
import { modelConfigFileSchema } from '../../src/models/model-config.js';
import { createLogger } from '../../src/observability/logger.js';

const span = (reference: number[], current: number[]): BinSpan => ({ reference, referenceOffset: 0, current, currentOffset: 0, length: reference.length });

describe('PSI and Jensen–Shannon distance', () => {
  it('match hand-computed values', () => {
    // (0.25 − 0.5)·ln(0.25/0.5) + (0.75 − 0.5)·ln(0.75/0.5)
    expect(psi(span([50, 50], [25, 75]))).toBeCloseTo(0.25 * Math.LN2 + 0.25 * Math.log(1.5), 12);
    expect(psi(span([50, 50], [25, 75]))).toBeCloseTo(0.274653072167, 10);
    expect(jsDistance(span([50, 50], [25, 75]))).toBeCloseTo(0.220895768849, 10);
    expect(psi(span([10, 20, 30, 40], [40, 30, 20, 10]))).toBeCloseTo(0.912869638294, 10);
    expect(jsDistance(span([10, 20, 30, 40], [40, 30, 20, 10]))).toBeCloseTo(0.391868160647, 10);
  });

  it('floor an empty bin at 1e-4 for PSI, as Evidently does; JS needs no floor', () => {
    // r = [1, 1e-4], c = [0.5, 0.5]: (0.5 − 1)·ln 0.5 + (0.5 − 1e-4)·ln(0.5 / 1e-4)
    expect(psi(span([100, 0], [50, 50]))).toBeCloseTo(-0.5 * Math.log(0.5) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4), 12);
    expect(psi(span([100, 0], [50, 50]))).toBeCloseTo(4.604318466669, 10);
    // m = [0.75, 0.25]: √(½·log2(1/0.75) + ½·(½·log2(0.5/0.75) + ½·log2(0.5/0.25)))
    expect(jsDistance(span([100, 0], [50, 50]))).toBeCloseTo(0.557923045284, 10);
  });

  it('are 0 for the same shares and JS is 1 with no bin in common', () => {
    expect(psi(span([10, 20, 30], [20, 40, 60]))).toBe(0);
    expect(jsDistance(span([10, 20, 30], [20, 40, 60]))).toBe(0);
    expect(jsDistance(span([10, 0], [0, 10]))).toBeCloseTo(1, 12);
  });

  it('read a span at its offsets', () => {
    const s: BinSpan = { reference: [9, 50, 50, 9], referenceOffset: 1, current: [7, 7, 25, 75], currentOffset: 2, length: 2 };
    expect(psi(s)).toBeCloseTo(0.274653072167, 10);
  });

  it('give verdicts from the thresholds', () => {
    const t = { warn: 0.1, drift: 0.25 };
    expect([0, 0.0999, 0.1, 0.2499, 0.25, 3].map((p) => verdictOf(p, t))).toEqual(['ok', 'ok', 'warn', 'warn', 'drift', 'drift']);
    expect(verdictOf(0.3, { warn: 0.5, drift: 1 })).toBe('ok');
  });
});

describe('bin edges', () => {
  const sorted = (values: number[]): Float64Array => sortedFinite(values);

  it('are the reference deciles, with open ends', () => {
    const values = Array.from({ length: 100 }, (_, i) => i);
    expect(quantileEdges(sorted(values), 10)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    const edges = Float64Array.from(quantileEdges(sorted(values), 10));
    expect(binOf(edges, 0, edges.length, -1e9)).toBe(0);
    expect(binOf(edges, 0, edges.length, 9.99)).toBe(0);
    expect(binOf(edges, 0, edges.length, 10)).toBe(1);
    expect(binOf(edges, 0, edges.length, 1e9)).toBe(9);
    expect(binOf(edges, 0, edges.length, Number.NaN)).toBe(9);
  });

  it('of a constant feature split below, equal and above', () => {
    const edges = quantileEdges(sorted(Array(50).fill(3.5)), 10);
    expect(edges).toEqual([3.5, nextUp(3.5)]);
    const e = Float64Array.from(edges);
    expect([3.4, 3.5, 3.6].map((v) => binOf(e, 0, e.length, v))).toEqual([0, 1, 2]);
    expect(quantileEdges(sorted(Array(7).fill(0)), 10)).toEqual([0, Number.MIN_VALUE]);
    expect(quantileEdges(sorted(Array(7).fill(-2)), 4)).toEqual([-2, nextUp(-2)]);
    expect(nextUp(-2)).toBeGreaterThan(-2);
  });

  it('give a value that fills a bin its own bin (a feature that is mostly 0)', () => {
    const values = [...Array(90).fill(0), ...Array.from({ length: 10 }, (_, i) => i + 1)];
    // The deciles are 0 but the last, 1: zeros, the few between, and 1 up.
    expect(quantileEdges(sorted(values), 10)).toEqual([0, Number.MIN_VALUE, 1]);
    expect(quantileEdges(sorted([0, 0, 0, 1]), 2)).toEqual([0, Number.MIN_VALUE]);
  });

  it('leave out values that are not finite, and are empty with none', () => {
    expect(quantileEdges(sorted([Number.NaN, Infinity, 1, 2, 3, 4]), 2)).toEqual([3]);
    expect(quantileEdges(sorted([Number.NaN]), 10)).toEqual([]);
  });

  it('of a categorical feature are its values and one past the last, up to MAX_CATEGORIES', () => {
    expect(categoryEdges(sorted([1, 0, 1, 1, 0]))).toEqual([0, 1, 2]);
    expect(categoryEdges(sorted([5, 5, 5]))).toEqual([5, 6]);
    expect(categoryEdges(sorted(Array.from({ length: MAX_CATEGORIES }, (_, i) => i)))).toHaveLength(MAX_CATEGORIES + 1);
    expect(categoryEdges(sorted(Array.from({ length: MAX_CATEGORIES + 1 }, (_, i) => i)))).toBeUndefined();
  });
});

describe('countBatch', () => {
  const plan: BinningPlan = {
    sampleRatio: 1,
    bins: 3 + 3 + 3,
    tensors: [
      // Two columns, edges [0] and [10, 20]: bins 0–1 and 2–4.
      { name: 'x', source: 'input', mode: 'edges', width: 2, edges: Float64Array.from([0, 10, 20]), edgeStart: Uint32Array.from([0, 1, 3]), offset: 0 },
      // Three classes.
      { name: 'y', source: 'output', mode: 'argmax', width: 3, edges: new Float64Array(0), edgeStart: new Uint32Array(4), offset: 5 },
    ],
  };
  plan.bins = 8;

  it('counts each column into its bin, the argmax class, and the rows', () => {
    const x = Float32Array.from([-1, 5, 1, 15, 2, 25]);
    const y = Float32Array.from([0.1, 0.8, 0.1, 0.7, 0.2, 0.1, 0.1, 0.2, 0.7]);
    const counts = countBatch(plan, 3, (source, name) => (source === 'input' && name === 'x' ? x : source === 'output' && name === 'y' ? y : undefined))!;
    expect([...counts]).toEqual([1, 2, 1, 1, 1, 1, 1, 1, 3]);
  });

  it('counts none of a batch missing a tensor or with the wrong size', () => {
    expect(countBatch(plan, 3, (source) => (source === 'input' ? new Float32Array(6) : undefined))).toBeUndefined();
    expect(countBatch(plan, 3, (source) => (source === 'input' ? new Float32Array(6) : new Float32Array(6)))).toBeUndefined();
  });

  it('adds into a given array, rows included: a worker sums its batches between flushes', () => {
    const x = Float32Array.from([-1, 5]);
    const y = Float32Array.from([0.1, 0.8, 0.1]);
    const into = new Uint32Array(plan.bins + 1);
    const find = (source: 'input' | 'output') => (source === 'input' ? x : y);
    expect(countBatch(plan, 1, find, Math.random, into)).toBe(into);
    countBatch(plan, 1, find, Math.random, into);
    expect([...into]).toEqual([2, 0, 2, 0, 0, 0, 2, 0, 2]);
  });

  it('samples rows at the plan ratio', () => {
    let draw = 0;
    const alternate = (): number => (draw++ % 2 === 0 ? 0.05 : 0.95);
    const sampled = { ...plan, sampleRatio: 0.5 };
    const counts = countBatch(sampled, 4, (source) => (source === 'input' ? new Float32Array(8) : new Float32Array(12)), alternate)!;
    expect(counts[sampled.bins]).toBe(2);
    expect(countBatch({ ...plan, sampleRatio: 0.5 }, 4, (source) => (source === 'input' ? new Float32Array(8) : new Float32Array(12)), () => 0.99)).toBeUndefined();
  });

  it('takes 64-bit integers', () => {
    const intPlan: BinningPlan = { sampleRatio: 1, bins: 3, tensors: [{ name: 'i', source: 'input', mode: 'edges', width: 1, edges: Float64Array.from([1, 2]), edgeStart: Uint32Array.from([0, 2]), offset: 0 }] };
    expect([...countBatch(intPlan, 3, () => BigInt64Array.from([0n, 1n, 5n]))!]).toEqual([1, 1, 1, 3]);
  });
});

describe('DriftWindow', () => {
  it('sums the sub-windows inside the window and drops older ones', () => {
    let now = 1_000_000;
    const window = new DriftWindow(3, 100, () => now);
    window.add([1, 2, 1]);
    now += 40_000;
    window.add([3, 0, 3]);
    expect([...window.sum()]).toEqual([4, 2, 4]);
    expect(window.rows()).toBe(4);
    // The first sub-window leaves the window 100 s after it began.
    now += 60_000;
    expect([...window.sum()]).toEqual([3, 0, 3]);
    now += 40_000;
    expect(window.rows()).toBe(0);
    // A slot that comes round again starts empty.
    now += (100_000 / SUB_WINDOWS) * 3;
    window.add([1, 1, 1]);
    expect([...window.sum()]).toEqual([1, 1, 1]);
  });
});

describe('references', () => {
  const model = {
    maxBatchSize: 8,
    inputs: [
      { name: 'x', datatype: 'FP32' as const, shape: [-1, 3] },
      { name: 'flag', datatype: 'BOOL' as const, shape: [-1, 1] },
      { name: 'tag', datatype: 'BYTES' as const, shape: [-1, 1] },
    ],
    outputs: [{ name: 'scores', datatype: 'FP32' as const, shape: [-1, 4] }],
  };
  const profiled = (): ProfiledTensor[] => profiledTensors(model, ['scores']).tensors;

  it('profile numeric and BOOL inputs, outputs and the argmax of class scores, and pass over strings', () => {
    const { tensors, skipped } = profiledTensors(model, ['scores']);
    expect(tensors.map((t) => [t.kind, t.name, t.width, t.categorical])).toEqual([
      ['input', 'x', 3, false],
      ['input', 'flag', 1, true],
      ['output', 'scores', 4, false],
      ['output_class', 'scores', 4, false],
    ]);
    expect(skipped).toEqual(['input tag: BYTES is not profiled']);
    expect(() => profiledTensors(model, ['nope'])).toThrow('drift.class_scores names output nope, which the model does not have');
    expect(() => profiledTensors({ ...model, maxBatchSize: 0 }, [])).toThrow('drift needs a batch dimension');
  });

  async function built() {
    const rows = 40;
    const x = new Float64Array(rows * 3).map((_, i) => (i % 3 === 2 ? 7 : i));
    const flag = new Float64Array(rows).map((_, i) => i % 4 === 0 ? 1 : 0);
    const scores = new Float64Array(rows * 4).map((_, i) => (i % 4 === Math.floor(i / 4) % 2 ? 1 : 0));
    const rowsOf = new Map<string, TensorRows>([
      ['input:x', { data: x, rows }],
      ['input:flag', { data: flag, rows }],
      ['output:scores', { data: scores, rows }],
    ]);
    return buildReference(profiled(), rowsOf, { model: 'm', version: '1', bins: 4, source: 'captured' });
  }

  it('are built with edges per feature, counts summing to the rows, and class counts', async () => {
    const reference = await built();
    expect(reference.reference_rows).toBe(40);
    const [x, flag, , classes] = reference.tensors;
    // Column 2 is constant 7: below / equal / above.
    expect(x!.features[2]).toEqual({ edges: [7, nextUp(7)], counts: [0, 40, 0] });
    expect(flag!.features[0]).toEqual({ edges: [0, 1, 2], counts: [0, 30, 10, 0] });
    expect(classes).toEqual({ name: 'scores', kind: 'output_class', features: [{ edges: [], counts: [20, 20, 0, 0] }] });
    for (const t of reference.tensors) for (const f of t.features) expect(f.counts.reduce((a, b) => a + b, 0)).toBe(40);
    // The same file loads back.
    expect(parseReference(JSON.stringify(reference), profiled())).toEqual(reference);
  });

  it('lay out the plan and reference counts at the same offsets', async () => {
    const reference = await built();
    const { plan, referenceCounts } = layoutOf(reference, profiled(), 0.5);
    expect(plan.sampleRatio).toBe(0.5);
    expect(plan.tensors.map((t) => [t.name, t.mode, t.offset])).toEqual([
      ['x', 'edges', 0],
      ['flag', 'edges', reference.tensors[0]!.features.reduce((n, f) => n + f.counts.length, 0)],
      ['scores', 'edges', plan.tensors[1]!.offset + 4],
      ['scores', 'argmax', plan.tensors[2]!.offset + reference.tensors[2]!.features.reduce((n, f) => n + f.counts.length, 0)],
    ]);
    expect(plan.bins).toBe(referenceCounts.length);
    expect(referenceCounts.reduce((a, b) => a + b, 0)).toBe(40 * (3 + 1 + 4 + 1));
  });

  it('from a hostile or malformed file are refused with the field named', async () => {
    const good = await built();
    const variant = (change: (r: Record<string, any>) => void): string => {
      const copy = JSON.parse(JSON.stringify(good)) as Record<string, any>;
      change(copy);
      return JSON.stringify(copy);
    };
    const refused = (text: string): string => {
      try {
        parseReference(text, profiled());
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused('{"format": ')).toMatch(/^drift_reference.json: not valid JSON/);
    expect(refused('[]')).toMatch(/^drift_reference.json: \(root\)/);
    expect(refused(variant((r) => (r['format'] = 'other')))).toMatch(/format/);
    // Claims of size allocate nothing: a huge reference_rows only fails the sums.
    expect(refused(variant((r) => (r['reference_rows'] = 1e15)))).toMatch(/counts sum to 40, not reference_rows 1000000000000000/);
    expect(refused(variant((r) => (r['tensors'][0].features[0].edges = [3, 2, 1])))).toMatch(/edges must be strictly increasing|counts for 3 edges/);
    expect(refused(variant((r) => (r['tensors'][0].features[0].counts = [-1, 41])))).toMatch(/tensors\.0\.features\.0\.counts\.0/);
    expect(refused(variant((r) => r['tensors'][0].features.pop()))).toMatch(/2 features, the model has 3/);
    expect(refused(variant((r) => (r['tensors'][0].name = 'nope')))).toMatch(/tensors.0 \(input nope\): the model has no such input/);
    expect(refused(variant((r) => r['tensors'].push(r['tensors'][0])))).toMatch(/listed twice/);
    expect(refused(variant((r) => (r['tensors'][3].features[0].counts = [40])))).toMatch(/1 class counts, the output has 4 classes/);
    expect(refused(variant((r) => (r['tensors'][0].features[0].edges = Array(300).fill(1))))).toMatch(/edges: Too big/);
    expect(refused(variant((r) => (r['extra'] = 1)))).toMatch(/extra/);
  });

  it('capture from the first rows served, then build once, send the plan, and count the rest in the window', async () => {
    let sent: BinningPlan | undefined;
    const tensors = profiled().filter((t) => t.name !== 'flag');
    const settings = { sampleRatio: 1, referenceRows: 10, bins: 4, windowSeconds: 60, minWindowRows: 2, thresholds: { warn: 0.1, drift: 0.25 } };
    let now = 0;
    const monitor = new DriftMonitor('m', '1', tensors, settings, undefined, (plan) => (sent = plan), createLogger('silent'), () => now);
    const batch = (rows: number, base: number) => ({
      inputs: [{ name: 'x', data: Float32Array.from({ length: rows * 3 }, (_, i) => base + i) }],
      outputs: [{ name: 'scores', data: Float32Array.from({ length: rows * 4 }, (_, i) => (i % 4 === 1 ? 1 : 0)) }],
    });
    expect(monitor.report()).toMatchObject({ state: 'capturing', reference_rows: 0, tensors: [] });
    const first = batch(6, 0);
    const one = monitor.takeRows(first.inputs, 6)!;
    // Two batches in flight never take more than reference_rows between them.
    const second = batch(6, 100);
    const two = monitor.takeRows(second.inputs, 6)!;
    expect(two.rows).toBe(4);
    expect(monitor.capturing).toBe(false);
    monitor.batchFailed(two);
    expect(monitor.capturing).toBe(true);
    monitor.batchDone(one, first.outputs);
    const three = monitor.takeRows(second.inputs, 6)!;
    monitor.batchDone(three, second.outputs);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toBeDefined();
    expect(monitor.referenceProfile()!.reference_rows).toBe(10);
    const counts = new Uint32Array(sent!.bins + 1);
    counts[sent!.bins] = 1;
    monitor.addCounts(counts);
    // Reports are cached for a moment: the one taken while capturing is still given.
    expect(monitor.report().state).toBe('capturing');
    now += 1000;
    expect(monitor.report()).toMatchObject({ state: 'ready', reference_rows: 10, window_rows: 1 });
    expect(monitor.report().tensors.flatMap((t) => t.features.map((f) => f.verdict))).toEqual(Array(3 + 4 + 1).fill('insufficient_data'));
    monitor.addCounts(counts);
    now += 1000;
    expect(monitor.report()).toMatchObject({ window_rows: 2 });
    expect(monitor.report().tensors.map((t) => [t.name, t.kind, t.features.length])).toEqual([
      ['x', 'input', 3],
      ['scores', 'output', 4],
      ['scores', 'output_class', 1],
    ]);
  });
});

describe('config.json drift', () => {
  const parse = (drift: unknown) => modelConfigFileSchema.safeParse({ drift });

  it('is off by default, with the documented defaults', () => {
    expect(modelConfigFileSchema.parse({}).drift).toEqual({
      enabled: false,
      sample_ratio: 1,
      reference_rows: 2000,
      bins: 10,
      window_seconds: 600,
      min_window_rows: 500,
      thresholds: { warn: 0.1, drift: 0.25 },
      class_scores: [],
    });
  });

  it.each([
    [{ sample_ratio: 0 }, 'drift.sample_ratio'],
    [{ sample_ratio: 1.5 }, 'drift.sample_ratio'],
    [{ bins: 1 }, 'drift.bins'],
    [{ reference_rows: 2.5 }, 'drift.reference_rows'],
    [{ window_seconds: 1 }, 'drift.window_seconds'],
    [{ thresholds: { warn: 0.3, drift: 0.2 } }, 'drift.thresholds.warn: warn 0.3 must be below drift 0.2'],
    [{ enabled: 'yes' }, 'drift.enabled'],
    [{ unknown: 1 }, 'drift'],
  ])('refuses %j naming the field', (drift, message) => {
    const result = parse(drift);
    expect(result.success).toBe(false);
    expect(formatZodError(result.error!)).toContain(message);
  });
});

describe('REFERENCE_FORMAT', () => {
  it('names its version', () => expect(REFERENCE_FORMAT).toBe('brisk-drift-reference/1'));
});
