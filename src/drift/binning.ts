/**
 * Counting a batch's rows into drift bins: the one piece of drift that runs per row,
 * on the worker thread after session.run (runtime/worker.ts), and in the CLI and the
 * reference builder for the reference's own counts. A leaf: it imports nothing, so the
 * worker can import it without pulling in the core.
 *
 * Bins are left-closed: with edges e1 < e2 < … < ek, a value v lands in bin
 * #{ei ≤ v} (0 to k), so the ends are open. NaN compares false and lands in the last bin.
 */

/** One profiled tensor as the worker sees it: where its values are, and where its counts go. */
export interface BinningTensor {
  name: string;
  source: 'input' | 'output';
  /** `edges`: each column of a row in its bin; `argmax`: the row's argmax class, one count per row. */
  mode: 'edges' | 'argmax';
  /** Elements per row. */
  width: number;
  /** Every column's edges, one after another (edges mode). */
  edges: Float64Array;
  /** Column f's edges are edges[edgeStart[f]] up to edges[edgeStart[f + 1]]; width + 1 entries (edges mode). */
  edgeStart: Uint32Array;
  /** Index of this tensor's first count. Column f's bins start at offset + edgeStart[f] + f. */
  offset: number;
}

/** What each worker of a version needs to count its batches; sent once, when the reference exists. */
export interface BinningPlan {
  /** Share of rows counted, drawn per row. */
  sampleRatio: number;
  tensors: BinningTensor[];
  /** Counts over every tensor; the counts array holds one more, the rows counted. */
  bins: number;
}

/** Counts a tensor spans: each edges column has one bin more than it has edges. */
export const tensorBins = (t: Pick<BinningTensor, 'mode' | 'width' | 'edges'>): number => (t.mode === 'argmax' ? t.width : t.edges.length + t.width);

type Values = ArrayLike<number> | ArrayLike<bigint>;

/** Up to this many edges a feature's bin is found by a scan from the bottom; past it, by binary search. */
const LINEAR_EDGES = 16;

/** The index of the first edge above v in edges[lo, hi), relative to lo: the bin of v. */
export function binOf(edges: Float64Array, lo: number, hi: number, v: number): number {
  const start = lo;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v < edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo - start;
}

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

/** 64-bit integers compared as doubles: exact up to 2^53, which is all a bin edge needs. */
const asNumbers = (data: Values): ArrayLike<number> =>
  data instanceof BigInt64Array || data instanceof BigUint64Array ? Float64Array.from(data, Number) : (data as ArrayLike<number>);

/** Counts the chosen rows of one tensor into `counts`. */
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
      if (hi - lo > LINEAR_EDGES) {
        counts[offset + lo + f + binOf(edges, lo, hi, v)]! += 1;
        continue;
      }
      // A short scan beats a binary search's unpredictable branches (measured: about 30% less
      // CPU on heavy_mlp's 1,512 features of 9–11 edges). Same bins: NaN passes every edge.
      let k = lo;
      while (k < hi && !(v < edges[k]!)) k++;
      counts[offset + k + f]! += 1;
    }
  }
}

/**
 * Counts a batch of `rows` rows into `into` (plan.bins + 1 entries, the last the rows
 * counted; a new array when not given): each row is counted with probability
 * plan.sampleRatio. `find` gives a tensor's data by source and name; a tensor missing, or
 * whose size is not rows × width (a request that named only some outputs), makes the
 * whole batch uncounted, so that every tensor's counts cover the same rows. Undefined
 * when no row was counted.
 */
export function countBatch(
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
