/**
 * countBatch as it was before the slot search (revision 04293df): a scan from the bottom
 * per value. Kept only as the baseline of bench/drift-binning-bench.ts, so that the old and
 * the new way are timed in the same process, in turn.
 */
import type { BinningPlan, BinningTensor } from '../../src/drift/binning.js';

type Values = ArrayLike<number> | ArrayLike<bigint>;

function argmax(data: ArrayLike<number>, start: number, width: number): number {
  let best = 0;
  let bestValue = data[start]!;
  for (let c = 1; c < width; c++) {
    const v = data[start + c]!;
    if (v > bestValue) {
      bestValue = v;
      best = c;
    }
  }
  return best;
}

function binOf(edges: Float64Array, lo: number, hi: number, v: number): number {
  const start = lo;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v < edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo - start;
}

const asNumbers = (data: Values): ArrayLike<number> =>
  data instanceof BigInt64Array || data instanceof BigUint64Array ? Float64Array.from(data, Number) : (data as ArrayLike<number>);

function countTensor(tensor: BinningTensor, data: ArrayLike<number>, picked: Uint32Array, pickedCount: number, counts: Uint32Array): void {
  const { width, edges, edgeStart, offset } = tensor;
  if (tensor.mode === 'argmax') {
    for (let p = 0; p < pickedCount; p++) counts[offset + argmax(data, picked[p]! * width, width)]! += 1;
    return;
  }
  for (let p = 0; p < pickedCount; p++) {
    const base = picked[p]! * width;
    for (let f = 0; f < width; f++) {
      const lo = edgeStart[f]!;
      const hi = edgeStart[f + 1]!;
      const v = data[base + f]!;
      if (hi - lo > 16) {
        counts[offset + lo + f + binOf(edges, lo, hi, v)]! += 1;
        continue;
      }
      let k = lo;
      while (k < hi && !(v < edges[k]!)) k++;
      counts[offset + k + f]! += 1;
    }
  }
}

export function countBatchScan(
  plan: BinningPlan,
  rows: number,
  find: (source: 'input' | 'output', name: string) => Values | undefined,
  random: () => number = Math.random,
  into?: Uint32Array,
): Uint32Array | undefined {
  const found: ArrayLike<number>[] = [];
  for (const tensor of plan.tensors) {
    const data = find(tensor.source, tensor.name);
    if (data === undefined || data.length !== rows * tensor.width) return undefined;
    found.push(asNumbers(data));
  }
  const picked = new Uint32Array(rows);
  let pickedCount = 0;
  const ratio = plan.sampleRatio;
  for (let r = 0; r < rows; r++) if (ratio >= 1 || random() < ratio) picked[pickedCount++] = r;
  if (pickedCount === 0) return undefined;
  const counts = into ?? new Uint32Array(plan.bins + 1);
  for (let t = 0; t < plan.tensors.length; t++) countTensor(plan.tensors[t]!, found[t]!, picked, pickedCount, counts);
  counts[plan.bins]! += pickedCount;
  return counts;
}
