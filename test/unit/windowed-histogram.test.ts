import { describe, expect, it } from 'vitest';
import { WindowedHistogram } from '../../src/observability/windowed-histogram.js';

describe('WindowedHistogram', () => {
  it('gives percentiles within 4.4% of the exact ones', () => {
    let now = 0;
    const h = new WindowedHistogram(60, 6, () => now);
    const values = Array.from({ length: 1000 }, (_, i) => 0.001 * (1 + i));
    for (const v of values) h.record(v);
    const p = h.percentiles();
    expect(p.count).toBe(1000);
    for (const [got, exact] of [[p.p50, 0.5], [p.p95, 0.95], [p.p99, 0.99]] as const) {
      expect(Math.abs(got - exact) / exact).toBeLessThan(0.044);
    }
  });

  it('forgets what is older than the window', () => {
    let now = 0;
    const h = new WindowedHistogram(60, 6, () => now);
    h.record(1);
    now = 30_000;
    h.record(0.01);
    expect(h.percentiles().count).toBe(2);
    now = 65_000;
    expect(h.percentiles()).toMatchObject({ count: 1 });
    expect(h.percentiles().p99).toBeCloseTo(0.01, 2);
  });
});
