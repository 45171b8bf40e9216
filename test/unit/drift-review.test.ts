/**
 * Review of drift (issue 15): the window ring and the report cache under a clock that is set
 * back; a capture whose version unloads before its reference is built; a reference file that
 * leaves tensors out or names another version.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BinningPlan } from '../../src/drift/binning.js';
import { DriftMonitor } from '../../src/drift/drift-monitor.js';
import { startDrift } from '../../src/drift/drift-setup.js';
import { DriftWindow } from '../../src/drift/drift-window.js';
import type { ProfiledTensor } from '../../src/drift/profiled-tensors.js';
import { REFERENCE_FILE, REFERENCE_FORMAT, type ReferenceProfile } from '../../src/drift/reference-profile.js';
import { modelConfigFileSchema } from '../../src/models/model-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { capturedLog } from '../helpers/logs.js';
import { tempDir } from '../helpers/repository.js';

describe('DriftWindow under a clock set back', () => {
  it('leaves sub-windows from after now out of its sums', () => {
    let now = 2_000_000;
    const window = new DriftWindow(2, 600, () => now);
    window.add([7, 100]);
    // Set back by more than a window: the 100 rows are from no time inside [now − 600 s, now].
    now -= 1_000_000;
    window.add([1, 5]);
    expect(window.rows()).toBe(5);
    expect([...window.sum()]).toEqual([1, 5]);
  });
});

describe('DriftMonitor report cache', () => {
  it('is not kept past a clock set back', () => {
    const tensors: ProfiledTensor[] = [{ name: 'x', kind: 'input', source: 'input', datatype: 'FP32', width: 1, categorical: false }];
    const reference: ReferenceProfile = {
      format: REFERENCE_FORMAT, model: 'm', version: '1', source: 'profiled', bins: 2, reference_rows: 4,
      tensors: [{ name: 'x', kind: 'input', features: [{ edges: [0], counts: [2, 2] }] }],
    };
    let now = 5_000_000;
    let onCounts: ((counts: Uint32Array) => void) | undefined;
    const settings = { sampleRatio: 1, referenceRows: 10, bins: 2, windowSeconds: 60, minWindowRows: 1, thresholds: { warn: 0.1, drift: 0.25 } };
    const monitor = new DriftMonitor('m', '1', tensors, settings, reference, (_plan, listener) => (onCounts = listener), createLogger('silent'), () => now);
    expect(monitor.report().window_rows).toBe(0);
    now -= 3_600_000;
    onCounts!(Uint32Array.from([1, 2, 3]));
    expect(monitor.report().window_rows).toBe(3);
  });
});

describe('DriftMonitor stopped on unload', () => {
  const tensors: ProfiledTensor[] = [{ name: 'x', kind: 'input', source: 'input', datatype: 'FP32', width: 2, categorical: false }];
  const settings = { sampleRatio: 1, referenceRows: 4, bins: 2, windowSeconds: 60, minWindowRows: 1, thresholds: { warn: 0.1, drift: 0.25 } };
  const inputs = [{ name: 'x', data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }];

  it('drops a build that finishes after the stop: no plan to the closed pool, no "captured" line', async () => {
    const { log, lines } = capturedLog();
    const plans: BinningPlan[] = [];
    const monitor = new DriftMonitor('m', '1', tensors, settings, undefined, (plan) => plan && plans.push(plan), log);
    monitor.batchDone(monitor.takeRows(inputs, 4)!, []);
    const building = monitor.building;
    expect(building).toBeDefined();
    monitor.stop();
    await building;
    expect(plans).toEqual([]);
    expect(lines.map((l) => l['msg'])).not.toContain('drift reference captured');
    expect(monitor.referenceProfile()).toBeUndefined();
  });

  it('takes no rows once stopped, and a batch taken before the stop adds none', () => {
    const monitor = new DriftMonitor('m', '1', tensors, settings, undefined, () => undefined, createLogger('silent'));
    const before = monitor.takeRows(inputs, 2)!;
    monitor.stop();
    expect(monitor.capturing).toBe(false);
    expect(monitor.takeRows(inputs, 2)).toBeUndefined();
    // Would write into the dropped capture buffers, and build, if it still counted.
    monitor.batchDone(before, []);
    expect(monitor.building).toBeUndefined();
  });

  it('without a stop, the same build sends its plan and logs it (the control)', async () => {
    const { log, lines } = capturedLog();
    const plans: BinningPlan[] = [];
    const monitor = new DriftMonitor('m', '1', tensors, settings, undefined, (plan) => plan && plans.push(plan), log);
    monitor.batchDone(monitor.takeRows(inputs, 4)!, []);
    await monitor.building;
    expect(plans).toHaveLength(1);
    expect(lines.map((l) => l['msg'])).toContain('drift reference captured');
  });
});

describe('a drift_reference.json that does not match its version', () => {
  const model = {
    name: 'm',
    version: '1',
    maxBatchSize: 8,
    inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 2] }],
    outputs: [{ name: 'scores', datatype: 'FP32' as const, shape: [-1, 3] }],
  };
  const config = modelConfigFileSchema.parse({ drift: { enabled: true, class_scores: ['scores'] } }).drift;
  const x = { name: 'x', kind: 'input' as const, features: [{ edges: [0], counts: [2, 2] }, { edges: [0], counts: [1, 3] }] };
  const profile = (fields: Partial<ReferenceProfile>): ReferenceProfile => ({
    format: REFERENCE_FORMAT, model: 'm', version: '1', source: 'profiled', bins: 2, reference_rows: 4, tensors: [x], ...fields,
  });
  const load = (reference: ReferenceProfile): Record<string, unknown>[] => {
    const dir = tempDir('drift-reference');
    writeFileSync(path.join(dir, REFERENCE_FILE), JSON.stringify(reference));
    const { log, lines } = capturedLog();
    const monitor = startDrift(model, config, dir, () => undefined, log);
    // Loaded, not refused: it scores what it has.
    expect(monitor.report().state).toBe('ready');
    return lines.filter((l) => l['level'] === 40);
  };

  it('loads with a warning that names the tensors it leaves out and the model and version it names', () => {
    const [warning, ...more] = load(profile({ model: 'other', version: '7' }));
    expect(more).toEqual([]);
    expect(warning).toMatchObject({
      model: 'm',
      version: '1',
      missing: ['output scores', 'output_class scores'],
      mismatched: ['model "other", not "m"', 'version "7", not "1"'],
      msg: 'drift_reference.json has no counts for output scores, output_class scores (their drift is not scored), and names model "other", not "m" and version "7", not "1"',
    });
  });

  it('says nothing of a file that matches', () => {
    const scores = { name: 'scores', kind: 'output' as const, features: Array.from({ length: 3 }, () => ({ edges: [0.5], counts: [2, 2] })) };
    const classes = { name: 'scores', kind: 'output_class' as const, features: [{ edges: [], counts: [1, 1, 2] }] };
    expect(load(profile({ tensors: [x, scores, classes] }))).toEqual([]);
  });
});

describe('DriftMonitor recapture', () => {
  const tensors: ProfiledTensor[] = [{ name: 'x', kind: 'input', source: 'input', datatype: 'FP32', width: 2, categorical: false }];
  const settings = { sampleRatio: 1, referenceRows: 4, bins: 2, windowSeconds: 60, minWindowRows: 1, thresholds: { warn: 0.1, drift: 0.25 } };
  const inputs = [{ name: 'x', data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }];

  it('stops the workers counting, drops rows taken before it, and builds from the rows after it', async () => {
    const plans: (BinningPlan | undefined)[] = [];
    const monitor = new DriftMonitor('m', '1', tensors, settings, undefined, (plan) => plans.push(plan), createLogger('silent'));
    monitor.batchDone(monitor.takeRows(inputs, 4)!, []);
    await monitor.building;
    const stale = monitor.takeRows(inputs, 4);
    expect(stale).toBeUndefined();
    const first = monitor.referenceProfile()!;

    monitor.recapture();
    expect(plans.at(-1)).toBeUndefined();
    expect(monitor.report()).toMatchObject({ state: 'capturing', reference_rows: 0, window_rows: 0, tensors: [] });
    expect(monitor.referenceProfile()).toBeUndefined();
    const early = monitor.takeRows(inputs, 2)!;
    // A second recapture while rows are out: those rows are not the new reference's.
    monitor.recapture();
    monitor.batchDone(early, []);
    expect(monitor.report().reference_rows).toBe(0);
    const shifted = [{ name: 'x', data: inputs[0]!.data.map((v) => v + 10) }];
    monitor.batchDone(monitor.takeRows(shifted, 4)!, []);
    await monitor.building;
    expect(plans).toHaveLength(4);
    expect(plans.at(-1)).toBeDefined();
    expect(monitor.referenceProfile()!.tensors[0]!.features[0]!.edges[0]).toBe(first.tensors[0]!.features[0]!.edges[0]! + 10);
  });
});
