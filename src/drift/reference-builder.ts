/**
 * Building a reference profile from rows: those a version served first (captured on the
 * main thread, a bounded number, see RowCapture), or a file's (`brisk drift profile`).
 * Sorting every feature's column is the one heavy step (heavy_mlp: 1,512 columns of
 * reference_rows values); it yields to the event loop between columns, so requests
 * are served meanwhile.
 */
import { binOf } from './binning.js';
import type { ProfiledTensor } from './profiled-tensors.js';
import { categoryEdges, quantileEdges, sortedFinite } from './quantile-edges.js';
import { REFERENCE_FORMAT, type ReferenceFeature, type ReferenceProfile, type ReferenceTensor } from './reference-profile.js';

/** Rows of one tensor, row after row: rows × width values. */
export interface TensorRows {
  data: Float64Array;
  rows: number;
}

/** Where a tensor's rows are kept: an output and its argmax class share them. */
export const rowsKey = (t: Pick<ProfiledTensor, 'source' | 'name'>): string => `${t.source}:${t.name}`;

/** Work between yields to the event loop, in values visited. */
const SLICE_VALUES = 200_000;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function numericFeature(column: Float64Array, bins: number, categorical: boolean): ReferenceFeature {
  const sorted = sortedFinite(column);
  const edges = (categorical ? categoryEdges(sorted) : undefined) ?? quantileEdges(sorted, bins);
  const edgeArray = Float64Array.from(edges);
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < column.length; i++) counts[binOf(edgeArray, 0, edgeArray.length, column[i]!)]! += 1;
  return { edges, counts };
}

function classFeature(rows: TensorRows, width: number): ReferenceFeature {
  const counts = new Array<number>(width).fill(0);
  for (let r = 0; r < rows.rows; r++) {
    const base = r * width;
    let best = 0;
    for (let c = 1; c < width; c++) if (rows.data[base + c]! > rows.data[base + best]!) best = c;
    counts[best]! += 1;
  }
  return { edges: [], counts };
}

export async function buildReference(
  profiled: readonly ProfiledTensor[],
  rowsOf: ReadonlyMap<string, TensorRows>,
  meta: { model: string; version: string; bins: number; source: ReferenceProfile['source'] },
): Promise<ReferenceProfile> {
  const tensors: ReferenceTensor[] = [];
  let referenceRows = 0;
  let visited = 0;
  for (const t of profiled) {
    const rows = rowsOf.get(rowsKey(t))!;
    referenceRows = rows.rows;
    if (t.kind === 'output_class') {
      tensors.push({ name: t.name, kind: t.kind, features: [classFeature(rows, t.width)] });
      continue;
    }
    const features: ReferenceFeature[] = [];
    const column = new Float64Array(rows.rows);
    for (let f = 0; f < t.width; f++) {
      for (let r = 0; r < rows.rows; r++) column[r] = rows.data[r * t.width + f]!;
      features.push(numericFeature(column, meta.bins, t.categorical));
      visited += rows.rows;
      if (visited >= SLICE_VALUES) {
        visited = 0;
        await yieldToLoop();
      }
    }
    tensors.push({ name: t.name, kind: t.kind, features });
  }
  return { format: REFERENCE_FORMAT, model: meta.model, version: meta.version, source: meta.source, bins: meta.bins, reference_rows: referenceRows, tensors };
}
