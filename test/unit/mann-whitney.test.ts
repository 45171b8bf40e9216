import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareLatencies, normalQuantile, shiftInterval } from '../../src/rollout/mann-whitney.js';
import { seededRandom } from '../../src/modelgen/weights.js';

/** Lehmann's interval from the sorted pairwise differences: an independent, O(n·m) way to the same figures. */
function byPairwiseDifferences(x: number[], y: number[], z: number): { lower: number; upper: number; median: number } {
  const d = x.flatMap((a) => y.map((b) => a - b)).sort((a, b) => a - b);
  const n = x.length;
  const m = y.length;
  const k = Math.round((n * m) / 2 - z * Math.sqrt((n * m * (n + m + 1)) / 12));
  const mid = d.length / 2;
  return { lower: d[k - 1]!, upper: d[d.length - k]!, median: d.length % 2 ? d[Math.floor(mid)]! : (d[mid - 1]! + d[mid]!) / 2 };
}

const sample = (n: number, seed: number, scale: number, offset: number): number[] => {
  const random = seededRandom(seed);
  // Exponential-ish, like latencies: a long right tail.
  return Array.from({ length: n }, () => offset - scale * Math.log(1 - random()));
};

describe('normal quantile (AS 241)', () => {
  it('matches tabulated values', () => {
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326347874040841, 12);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 12);
    expect(normalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 9);
    expect(() => normalQuantile(0)).toThrow(RangeError);
  });
});

describe('Mann-Whitney shift interval', () => {
  it("gives R's wilcox.test figures on a small case: interval [6, 39], estimate 22.5 at 95%", () => {
    const result = shiftInterval([10, 20, 30, 40], [1, 2, 3, 4], 0.95)!;
    expect(result.lower).toBeCloseTo(6, 6);
    expect(result.upper).toBeCloseTo(39, 6);
    expect(result.estimate).toBeCloseTo(22.5, 6);
  });

  it('agrees with the pairwise-difference construction on samples with a known shift', () => {
    const primary = sample(300, 1, 0.002, 0.001);
    const canary = sample(250, 2, 0.002, 0.001).map((v) => v + 0.0005);
    const result = shiftInterval(canary, primary, 0.98)!;
    const reference = byPairwiseDifferences(canary, primary, 2.3263478740408408);
    // The rank function jumps at pairwise differences: the bounds land on or next to them.
    const step = 0.0001;
    expect(Math.abs(result.lower - reference.lower)).toBeLessThan(step);
    expect(Math.abs(result.upper - reference.upper)).toBeLessThan(step);
    expect(Math.abs(result.estimate - reference.median)).toBeLessThan(step / 10);
    expect(result.lower).toBeLessThan(0.0005);
    expect(result.upper).toBeGreaterThan(0.0005);
  });

  it('brackets its estimate, and moves exactly with a shift of the canary (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 2, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 2, maxLength: 40 }),
        fc.integer({ min: -500, max: 500 }),
        (xs, ys, shift) => {
          const a = shiftInterval(xs, ys);
          const b = shiftInterval(xs.map((v) => v + shift), ys);
          if (!a || !b) return;
          expect(a.lower).toBeLessThanOrEqual(a.estimate + 1e-6);
          expect(a.estimate).toBeLessThanOrEqual(a.upper + 1e-6);
          const tolerance = 1e-6 * (1 + Math.abs(shift));
          expect(Math.abs(b.estimate - a.estimate - shift)).toBeLessThan(tolerance + 1e-9 * 2000);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('has nothing to say about empty or identical samples', () => {
    expect(shiftInterval([], [1, 2])).toBeUndefined();
    expect(shiftInterval([3, 3, 3], [3, 3])).toBeUndefined();
    expect(shiftInterval([Number.NaN], [1])).toBeUndefined();
  });
});

describe("Kayenta's latency classification", () => {
  it('calls a canary 10% slower on every request slower, and an identical one not', () => {
    const primary = sample(1000, 3, 0.001, 0.002);
    const slower = compareLatencies(primary.map((v) => v * 1.1), primary)!;
    expect(slower.slower).toBe(true);
    expect(slower.meanRatio).toBeCloseTo(1.1, 6);
    expect(slower.lower).toBeGreaterThan(0.25 * slower.estimate);
    const same = compareLatencies(sample(1000, 4, 0.001, 0.002), primary)!;
    expect(same.slower).toBe(false);
    expect(compareLatencies(primary, primary)!.slower).toBe(false);
  });

  it('does not call a faster canary slower, nor one with too few samples to tell', () => {
    const primary = sample(500, 5, 0.001, 0.002);
    expect(compareLatencies(primary.map((v) => v * 0.5), primary)!.slower).toBe(false);
    // Three samples a little slower: the 98% interval reaches well below zero.
    expect(compareLatencies([0.0031, 0.0029, 0.0035], primary)!.slower).toBe(false);
    expect(compareLatencies([], primary)).toBeUndefined();
  });
});
