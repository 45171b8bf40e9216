/**
 * How far a shadow's answer is from the primary's: max and mean absolute
 * difference over numeric outputs, and for class-score outputs whether each
 * row's argmax agrees. Pure; string outputs are not compared.
 */
import type { OutputTensor } from '../types.js';

export interface Comparison {
  maxAbsDiff: number;
  meanAbsDiff: number;
  argmaxAgreed: number;
  argmaxRows: number;
}

function argmax(data: ArrayLike<number | bigint>, start: number, length: number): number {
  let best = start;
  for (let i = start + 1; i < start + length; i++) if (Number(data[i]) > Number(data[best])) best = i;
  return best - start;
}

/** Throws when the shadow's outputs cannot be compared (missing, other shapes): that is a shadow error. */
export function compareOutputs(primary: readonly OutputTensor[], shadow: readonly OutputTensor[], classScores: readonly string[]): Comparison {
  let maxAbsDiff = 0;
  let sum = 0;
  let count = 0;
  let argmaxAgreed = 0;
  let argmaxRows = 0;
  for (const p of primary) {
    if (Array.isArray(p.data)) continue;
    const s = shadow.find((o) => o.name === p.name);
    if (!s || Array.isArray(s.data)) throw new Error(`the shadow did not return output ${p.name}`);
    if (s.shape.join(',') !== p.shape.join(',')) {
      throw new Error(`shadow output ${p.name} has shape [${s.shape.join(', ')}], the primary's has [${p.shape.join(', ')}]`);
    }
    const a = p.data as ArrayLike<number | bigint>;
    const b = s.data as ArrayLike<number | bigint>;
    for (let i = 0; i < a.length; i++) {
      const diff = Math.abs(Number(a[i]) - Number(b[i]));
      if (diff > maxAbsDiff) maxAbsDiff = diff;
      sum += diff;
    }
    count += a.length;
    if (classScores.includes(p.name) && p.shape.length > 0) {
      const rows = p.shape.length > 1 ? p.shape[0]! : 1;
      const width = a.length / Math.max(rows, 1);
      for (let r = 0; r < rows; r++) {
        argmaxRows += 1;
        if (argmax(a, r * width, width) === argmax(b, r * width, width)) argmaxAgreed += 1;
      }
    }
  }
  return { maxAbsDiff, meanAbsDiff: count ? sum / count : 0, argmaxAgreed, argmaxRows };
}
