/**
 * Review of drift (issue 15): the window ring and the report cache under a clock that is set
 * back; a capture whose version unloads before its reference is built.
 */
import { describe, expect, it } from 'vitest';
import type { BinningPlan } from '../../src/drift/binning.js';
import { DriftMonitor } from '../../src/drift/drift-monitor.js';
import { DriftWindow } from '../../src/drift/drift-window.js';
import type { ProfiledTensor } from '../../src/drift/profiled-tensors.js';
import { REFERENCE_FORMAT, type ReferenceProfile } from '../../src/drift/reference-profile.js';
import { createLogger } from '../../src/observability/logger.js';
import { capturedLog } from '../helpers/logs.js';

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
