/**
 * Drift for a version being loaded, from its config.json `drift` block and its folder:
 * which tensors are profiled, the reference file if there is one (it wins over capture),
 * and the monitor. Throws a load error when the config or the file cannot be used.
 */
import type { Logger } from '../observability/logger.js';
import type { DriftConfig } from '../models/model-config.js';
import type { TensorMetadata } from '../types.js';
import type { BinningPlan } from './binning.js';
import { DriftMonitor } from './drift-monitor.js';
import { profiledTensors } from './profiled-tensors.js';
import type { ProfiledTensor } from './profiled-tensors.js';
import { readReferenceFile, referenceMismatch } from './reference-file.js';
import type { ReferenceProfile } from './reference-profile.js';

export function startDrift(
  model: { name: string; version: string; maxBatchSize: number; inputs: readonly TensorMetadata[]; outputs: readonly TensorMetadata[] },
  config: DriftConfig,
  versionDir: string,
  sendPlan: (plan: BinningPlan | undefined, onCounts: (counts: Uint32Array) => void) => void,
  log: Logger,
): DriftMonitor {
  const { tensors, skipped } = profiledTensors(model, [...new Set(config.class_scores)]);
  if (skipped.length) log.warn({ model: model.name, version: model.version, skipped }, 'drift passes over some tensors');
  if (tensors.length === 0) throw new Error('drift is enabled but no input or output can be profiled');
  const reference = readReferenceFile(versionDir, tensors);
  if (reference) warnOnMismatch(reference, tensors, model.name, model.version, log);
  const monitor = new DriftMonitor(
    model.name,
    model.version,
    tensors,
    {
      sampleRatio: config.sample_ratio,
      referenceRows: config.reference_rows,
      bins: config.bins,
      windowSeconds: config.window_seconds,
      minWindowRows: config.min_window_rows,
      thresholds: config.thresholds,
    },
    reference,
    sendPlan,
    log,
  );
  log.info(
    { model: model.name, version: model.version, reference: reference ? 'drift_reference.json' : `captured from the first ${config.reference_rows} rows`, sampleRatio: config.sample_ratio },
    'drift on',
  );
  return monitor;
}

/** A warning naming what a drift_reference.json leaves out or names differently; nothing when it matches. */
export function warnOnMismatch(reference: ReferenceProfile, tensors: readonly ProfiledTensor[], model: string, version: string, log: Logger): void {
  const mismatch = referenceMismatch(reference, tensors, model, version);
  if (!mismatch) return;
  const said = [
    ...(mismatch.missing.length ? [`has no counts for ${mismatch.missing.join(', ')} (their drift is not scored)`] : []),
    ...(mismatch.mismatched.length ? [`names ${mismatch.mismatched.join(' and ')}`] : []),
  ];
  log.warn({ model, version, ...mismatch }, `drift_reference.json ${said.join(', and ')}`);
}

/**
 * A serving version's drift_reference.json changed (and nothing else did): what the file says,
 * checked against the version's model as at load. `same` when it is the reference the version
 * already uses (`brisk drift capture` saved it), else the new reference to swap in. Throws as a
 * load would for a file that cannot be used, and for one that is gone (the version captures
 * again only on a reload).
 */
export function referenceFileChange(monitor: DriftMonitor, versionDir: string): { same: true } | { same: false; reference: ReferenceProfile } {
  const reference = readReferenceFile(versionDir, monitor.tensors);
  if (!reference) throw new Error('drift_reference.json is gone');
  return monitor.uses(reference) ? { same: true } : { same: false, reference };
}
