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

/**
 * Each column's first 15 edges in a slot of 16 doubles, the rest NaN (no value is ≥ NaN), and
 * in the 16th the index of the column's first count. A value's bin is then 4 comparisons added
 * up, not branched on, in 128 contiguous bytes: a scan of the edges mispredicts its exit once
 * per value and reads three arrays (bench/drift-binning-bench.ts: about 0.4× the scan's CPU
 * on heavy_mlp's 1,512 columns).
 */
const SLOT = 16;
const SLOT_EDGES = SLOT - 1;

/** Built once per tensor of a plan: a worker keeps its plan until the next one replaces it. */
const slotsOf = new WeakMap<BinningTensor, Float64Array>();

function slots(tensor: BinningTensor): Float64Array {
  let table = slotsOf.get(tensor);
  if (table) return table;
  const { width, edges, edgeStart, offset } = tensor;
  table = new Float64Array(width * SLOT).fill(Number.NaN);
  for (let f = 0; f < width; f++) {
    const lo = edgeStart[f]!;
    table.set(edges.subarray(lo, Math.min(edgeStart[f + 1]!, lo + SLOT_EDGES)), f * SLOT);
    table[f * SLOT + SLOT_EDGES] = offset + lo + f;
  }
  slotsOf.set(tensor, table);
  return table;
}

/**
 * Counts column f's value x: #{edges ≤ x} by a binary search of the column's slot whose
 * comparisons are added as 0 or 1 (V8 emits setcc for `bool | 0`). Small and without a
 * branch taken on common data, so that V8 inlines all of countRow's calls into one loop;
 * a value past a 15th edge goes to countLong.
 */
function countValue(tensor: BinningTensor, table: Float64Array, x: number, f: number, counts: Uint32Array): void {
  // NaN searched as +Infinity: past every edge, so in the last bin as before (NaN is below no
  // edge); the slot's NaN padding stops it there. (A branch to a NaN path instead, once taken,
  // gets inlined four times: about 20% more CPU.)
  const v = x === x ? x : Number.POSITIVE_INFINITY;
  // Literals, not SLOT and SLOT_EDGES: V8 reads a module's constants from its context, with a
  // check, at each use in optimised code.
  const s = f << 4;
  let p = s;
  p += (((v >= table[p + 7]!) as unknown as number) | 0) << 3;
  p += (((v >= table[p + 3]!) as unknown as number) | 0) << 2;
  p += (((v >= table[p + 1]!) as unknown as number) | 0) << 1;
  p += ((v >= table[p]!) as unknown as number) | 0;
  if (p - s === 15) countLong(tensor, v, f, counts);
  else counts[table[s + 15]! + p - s]! += 1;
}

/** A value past the 15th edge of a column that has more: binOf on the rest. */
function countLong(tensor: BinningTensor, v: number, f: number, counts: Uint32Array): void {
  const lo = tensor.edgeStart[f]!;
  const bin = SLOT_EDGES + binOf(tensor.edges, lo + SLOT_EDGES, tensor.edgeStart[f + 1]!, v);
  counts[tensor.offset + lo + f + bin]! += 1;
}

/** One row's columns, four a turn: the loop's own checks (array maps, bounds, interrupts) are paid once for four. */
function countRow(tensor: BinningTensor, table: Float64Array, data: ArrayLike<number>, base: number, width: number, counts: Uint32Array): void {
  let f = 0;
  for (; f + 3 < width; f += 4) {
    countValue(tensor, table, data[base + f]!, f, counts);
    countValue(tensor, table, data[base + f + 1]!, f + 1, counts);
    countValue(tensor, table, data[base + f + 2]!, f + 2, counts);
    countValue(tensor, table, data[base + f + 3]!, f + 3, counts);
  }
  for (; f < width; f++) countValue(tensor, table, data[base + f]!, f, counts);
}

/** Counts the chosen rows of one tensor into `counts`. */
function countTensor(tensor: BinningTensor, data: ArrayLike<number>, picked: Uint32Array, pickedCount: number, counts: Uint32Array): void {
  const { width, offset } = tensor;
  if (tensor.mode === 'argmax') {
    for (let p = 0; p < pickedCount; p++) counts[offset + argmax(data, picked[p]! * width, width)]! += 1;
    return;
  }
  const table = slots(tensor);
  for (let p = 0; p < pickedCount; p++) countRow(tensor, table, data, picked[p]! * width, width, counts);
}

/** Rows chosen for counting, reused from batch to batch (a worker counts one batch at a time). */
let picked = new Uint32Array(256);

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
  if (picked.length < rows) picked = new Uint32Array(rows);
  let pickedCount = 0;
  const ratio = plan.sampleRatio;
  for (let r = 0; r < rows; r++) if (ratio >= 1 || random() < ratio) picked[pickedCount++] = r;
  if (pickedCount === 0) return undefined;
  const counts = into ?? new Uint32Array(plan.bins + 1);
  for (let t = 0; t < plan.tensors.length; t++) countTensor(plan.tensors[t]!, found[t]!, picked, pickedCount, counts);
  counts[plan.bins]! += pickedCount;
  return counts;
}
