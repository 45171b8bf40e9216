/** Review of drift (issue 15): the window ring and the report cache under a clock that is set back. */
import { describe, expect, it } from 'vitest';
import { DriftMonitor } from '../../src/drift/drift-monitor.js';
import { DriftWindow } from '../../src/drift/drift-window.js';
import type { ProfiledTensor } from '../../src/drift/profiled-tensors.js';
import { REFERENCE_FORMAT, type ReferenceProfile } from '../../src/drift/reference-profile.js';
import { createLogger } from '../../src/observability/logger.js';

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
