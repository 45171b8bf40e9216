/**
 * The drift series, registered on the server's registry (metrics.ts owns the others) and
 * read at scrape from each version's cached drift report: nothing is recorded per
 * request. Labels are bounded by the served versions and their tensors, never one
 * series per feature (heavy_mlp has 1,512 features):
 *   brisk_drift_max_psi{model,version,tensor,kind}            the tensor's largest feature PSI
 *   brisk_drift_features{model,version,tensor,kind,verdict}   features in each verdict
 *   brisk_drift_window_rows{model,version}                    rows counted in the current window
 * `kind` is input, output or output_class (the argmax class of a class_scores output,
 * which has the output's name).
 */
import { Gauge, type Registry } from 'prom-client';

export const DRIFT_VERDICTS = ['ok', 'warn', 'drift', 'insufficient_data'] as const;

export interface DriftFigures {
  model: string;
  version: string;
  windowRows: number;
  tensors: readonly {
    name: string;
    kind: string;
    /** null while the window holds too few rows for a verdict. */
    maxPsi: number | null;
    verdicts: Readonly<Record<(typeof DRIFT_VERDICTS)[number], number>>;
  }[];
}

export function registerDriftMetrics(registry: Registry, figures: () => readonly DriftFigures[]): void {
  const registers = [registry];
  // One read of the reports serves the three gauges of a scrape.
  let scrape: { at: number; figures: readonly DriftFigures[] } | undefined;
  const current = (): readonly DriftFigures[] => {
    const now = Date.now();
    if (!scrape || now - scrape.at > 100) scrape = { at: now, figures: figures() };
    return scrape.figures;
  };
  new Gauge({
    name: 'brisk_drift_max_psi',
    help: 'Largest population stability index over the features of a tensor, current window against the reference; absent while the window is too small.',
    labelNames: ['model', 'version', 'tensor', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const v of current()) {
        for (const t of v.tensors) if (t.maxPsi !== null) this.set({ model: v.model, version: v.version, tensor: t.name, kind: t.kind }, t.maxPsi);
      }
    },
  });
  new Gauge({
    name: 'brisk_drift_features',
    help: 'Features of a tensor in each drift verdict: ok, warn, drift, insufficient_data.',
    labelNames: ['model', 'version', 'tensor', 'kind', 'verdict'],
    registers,
    collect() {
      this.reset();
      for (const v of current()) {
        for (const t of v.tensors) {
          for (const verdict of DRIFT_VERDICTS) this.set({ model: v.model, version: v.version, tensor: t.name, kind: t.kind, verdict }, t.verdicts[verdict]);
        }
      }
    },
  });
  new Gauge({
    name: 'brisk_drift_window_rows',
    help: 'Rows counted into the current drift window (sampled, the reference rows excluded).',
    labelNames: ['model', 'version'],
    registers,
    collect() {
      this.reset();
      for (const v of current()) this.set({ model: v.model, version: v.version }, v.windowRows);
    },
  });
}
