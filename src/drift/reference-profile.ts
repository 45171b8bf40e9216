/**
 * A version's reference profile: per profiled tensor, per feature, the bin edges and
 * the reference's counts in them. It is also the drift_reference.json format, written
 * by `brisk drift capture` and `brisk drift profile` and read at load (reference-file.ts).
 * From it come the plan the workers count with and the reference counts scores are
 * taken against, laid out alike.
 */
import { createHash } from 'node:crypto';
import { tensorBins, type BinningPlan, type BinningTensor } from './binning.js';
import type { ProfiledTensor, TensorKind } from './profiled-tensors.js';

export const REFERENCE_FORMAT = 'brisk-drift-reference/1';
export const REFERENCE_FILE = 'drift_reference.json';

export interface ReferenceFeature {
  /** Strictly increasing; empty for output_class, whose bins are the classes. */
  edges: number[];
  /** edges.length + 1 counts (output_class: one per class), summing to reference_rows. */
  counts: number[];
}

export interface ReferenceTensor {
  name: string;
  kind: TensorKind;
  features: ReferenceFeature[];
}

export interface ReferenceProfile {
  format: typeof REFERENCE_FORMAT;
  model: string;
  version: string;
  /** Where it came from: rows the server served, or a file of rows. */
  source: 'captured' | 'profiled';
  bins: number;
  reference_rows: number;
  tensors: ReferenceTensor[];
}

/** The plan the workers count with, and the reference counts at the same offsets. */
export interface ReferenceLayout {
  plan: BinningPlan;
  referenceCounts: Float64Array;
}

export function layoutOf(profile: ReferenceProfile, profiled: readonly ProfiledTensor[], sampleRatio: number): ReferenceLayout {
  const tensors: BinningTensor[] = [];
  let offset = 0;
  for (const t of profile.tensors) {
    const spec = profiled.find((p) => p.name === t.name && p.kind === t.kind)!;
    const mode = t.kind === 'output_class' ? 'argmax' : 'edges';
    const edgeStart = new Uint32Array(spec.width + 1);
    let edgeCount = 0;
    if (mode === 'edges') {
      for (let f = 0; f < spec.width; f++) {
        edgeStart[f] = edgeCount;
        edgeCount += t.features[f]!.edges.length;
      }
      edgeStart[spec.width] = edgeCount;
    }
    const edges = new Float64Array(edgeCount);
    if (mode === 'edges') t.features.forEach((feature, f) => edges.set(feature.edges, edgeStart[f]!));
    const tensor: BinningTensor = { name: t.name, source: spec.source, mode, width: spec.width, edges, edgeStart, offset };
    tensors.push(tensor);
    offset += tensorBins(tensor);
  }
  const referenceCounts = new Float64Array(offset);
  let at = 0;
  for (const t of profile.tensors) {
    for (const feature of t.features) {
      referenceCounts.set(feature.counts, at);
      at += feature.counts.length;
    }
  }
  return { plan: { sampleRatio, tensors, bins: offset }, referenceCounts };
}

/**
 * What a reference says, as a digest: the same for a drift_reference.json and the reference
 * it was written from, whatever the order of the file's keys or its spacing.
 */
export function referenceDigest(profile: ReferenceProfile): string {
  const { format, model, version, source, bins, reference_rows: rows } = profile;
  const tensors = profile.tensors.map((t) => [t.name, t.kind, t.features.map((f) => [f.edges, f.counts])]);
  return createHash('sha256').update(JSON.stringify([format, model, version, source, bins, rows, tensors])).digest('hex');
}
