/**
 * The drift report of one version, as GET /v2/models/{m}/versions/{v}/drift answers
 * it: every profiled feature's PSI, JS distance and verdict, worst first per tensor.
 * Pure: from the reference, the window's summed counts and the thresholds.
 */
import { tensorBins } from './binning.js';
import type { ReferenceLayout, ReferenceProfile } from './reference-profile.js';
import type { TensorKind } from './profiled-tensors.js';
import { jsDistance, psi, verdictOf, type Thresholds, type Verdict } from './scores.js';

/** capturing: the reference is being taken from the first rows served; ready: scored against it. */
export type DriftState = 'capturing' | 'ready';

export interface FeatureScore {
  index: number;
  psi: number | null;
  js: number | null;
  verdict: Verdict;
}

export interface TensorScore {
  name: string;
  kind: TensorKind;
  max_psi: number | null;
  features: FeatureScore[];
}

export interface DriftReport {
  model: string;
  version: string;
  state: DriftState;
  reference_rows: number;
  window_rows: number;
  window_seconds: number;
  tensors: TensorScore[];
}

/** Rounded for the answer: four significant places say all a PSI can. */
const round = (x: number): number => Number(x.toPrecision(4));

export function scoreTensors(
  reference: ReferenceProfile,
  layout: ReferenceLayout,
  current: ArrayLike<number>,
  windowRows: number,
  minWindowRows: number,
  thresholds: Thresholds,
): TensorScore[] {
  const enough = windowRows >= minWindowRows;
  return reference.tensors.map((t, i) => {
    const planned = layout.plan.tensors[i]!;
    const features: FeatureScore[] = [];
    let at = planned.offset;
    let maxPsi: number | null = null;
    for (let f = 0; f < t.features.length; f++) {
      const length = t.features[f]!.counts.length;
      if (!enough) {
        features.push({ index: f, psi: null, js: null, verdict: 'insufficient_data' });
      } else {
        const span = { reference: layout.referenceCounts, referenceOffset: at, current, currentOffset: at, length };
        const p = psi(span);
        features.push({ index: f, psi: round(p), js: round(jsDistance(span)), verdict: verdictOf(p, thresholds) });
        maxPsi = Math.max(maxPsi ?? 0, round(p));
      }
      at += length;
    }
    if (at !== planned.offset + tensorBins(planned)) throw new Error(`drift layout of ${t.name} does not match its reference`);
    return { name: t.name, kind: t.kind, max_psi: maxPsi, features };
  });
}
