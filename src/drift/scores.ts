/**
 * How far a feature's current bin counts are from its reference counts. Pure.
 *  - PSI, the population stability index: Σ (c − r)·ln(c / r) over bins, with c and r
 *    the shares of rows in each bin and an empty bin's share floored at 1e-4, as
 *    Evidently does (otherwise one empty bin makes it infinite).
 *  - Jensen–Shannon distance: the square root of the JS divergence, in base 2, so it
 *    runs from 0 (the same distribution) to 1 (no bin in common); no flooring needed.
 */

export const EMPTY_BIN_SHARE = 1e-4;

export type Verdict = 'ok' | 'warn' | 'drift' | 'insufficient_data';

export interface Thresholds {
  /** PSI from which a feature is `warn`. */
  warn: number;
  /** PSI from which a feature is `drift`. */
  drift: number;
}

/** Reference and current counts of one feature: `length` bins from each offset. */
export interface BinSpan {
  reference: ArrayLike<number>;
  referenceOffset: number;
  current: ArrayLike<number>;
  currentOffset: number;
  length: number;
}

function total(counts: ArrayLike<number>, offset: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i++) sum += counts[offset + i]!;
  return sum;
}

export function psi(span: BinSpan): number {
  const { reference, referenceOffset, current, currentOffset, length } = span;
  const refTotal = total(reference, referenceOffset, length);
  const curTotal = total(current, currentOffset, length);
  if (refTotal === 0 || curTotal === 0) return 0;
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const r = reference[referenceOffset + i]! / refTotal || EMPTY_BIN_SHARE;
    const c = current[currentOffset + i]! / curTotal || EMPTY_BIN_SHARE;
    sum += (c - r) * Math.log(c / r);
  }
  return sum;
}

export function jsDistance(span: BinSpan): number {
  const { reference, referenceOffset, current, currentOffset, length } = span;
  const refTotal = total(reference, referenceOffset, length);
  const curTotal = total(current, currentOffset, length);
  if (refTotal === 0 || curTotal === 0) return 0;
  let divergence = 0;
  for (let i = 0; i < length; i++) {
    const p = reference[referenceOffset + i]! / refTotal;
    const q = current[currentOffset + i]! / curTotal;
    const m = (p + q) / 2;
    if (p > 0) divergence += (p / 2) * Math.log2(p / m);
    if (q > 0) divergence += (q / 2) * Math.log2(q / m);
  }
  // Rounding can leave a hair below zero for identical distributions.
  return Math.sqrt(Math.max(0, Math.min(1, divergence)));
}

export function verdictOf(psiValue: number, thresholds: Thresholds): Exclude<Verdict, 'insufficient_data'> {
  if (psiValue >= thresholds.drift) return 'drift';
  if (psiValue >= thresholds.warn) return 'warn';
  return 'ok';
}
