/**
 * A feature's bin edges, fixed from its reference values. Pure.
 *
 * Numeric features: the reference's quantiles at 1/bins … (bins−1)/bins, taken as
 * values the reference holds, duplicates dropped. A value that fills a bin's worth of
 * the reference or more (a constant feature, a feature that is mostly 0) also gets an
 * edge just above it, so that it has a bin of its own and values either side of it are
 * told apart: a constant c gives edges [c, c⁺], bins below / equal / above.
 * Categorical features (BOOL, and integers with few distinct values): one bin per value
 * seen, one below them all and one above.
 */

/** Integer inputs with at most this many distinct reference values are profiled by value. */
export const MAX_CATEGORIES = 32;

const scratch = new DataView(new ArrayBuffer(8));

/** The smallest double above x (x finite). */
export function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  scratch.setFloat64(0, x);
  const bits = scratch.getBigUint64(0);
  scratch.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return scratch.getFloat64(0);
}

/** Index of the first value of sorted that is > v. */
function upperBound(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v < sorted[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function lowerBound(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The finite values, sorted ascending (a new array). */
export function sortedFinite(values: ArrayLike<number>): Float64Array {
  const finite = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) finite[n++] = v;
  }
  return finite.subarray(0, n).sort();
}

/** Quantile edges of a numeric feature, from its finite reference values sorted ascending. */
export function quantileEdges(sorted: Float64Array, bins: number): number[] {
  const n = sorted.length;
  if (n === 0) return [];
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const q = sorted[Math.floor((i * n) / bins)]!;
    if (edges.length === 0 || q > edges[edges.length - 1]!) edges.push(q);
  }
  // A value holding a bin's worth of rows gets a bin of its own.
  const full = n / bins;
  const withMasses: number[] = [];
  for (let i = 0; i < edges.length; i++) {
    const e = edges[i]!;
    withMasses.push(e);
    if (upperBound(sorted, e) - lowerBound(sorted, e) < full) continue;
    const above = nextUp(e);
    if (i + 1 === edges.length || edges[i + 1]! > above) withMasses.push(above);
  }
  // The minimum is no quantile edge but may be such a value too (mostly zeros, a few above).
  const min = sorted[0]!;
  if (withMasses[0]! > min && upperBound(sorted, min) >= full) {
    const above = nextUp(min);
    withMasses.unshift(min, ...(withMasses[0]! > above ? [above] : []));
  }
  return withMasses;
}

/**
 * Edges for a feature profiled by value: each distinct value, then one past the largest
 * (integers: nothing lies between), or undefined when there are more than MAX_CATEGORIES.
 */
export function categoryEdges(sorted: Float64Array): number[] | undefined {
  const values: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i]!;
    if (values.length > 0 && v === values[values.length - 1]) continue;
    if (values.length === MAX_CATEGORIES) return undefined;
    values.push(v);
  }
  if (values.length === 0) return [];
  values.push(values[values.length - 1]! + 1);
  return values;
}
