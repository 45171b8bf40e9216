import { describe, expect, it } from 'vitest';
import { SideWindow, quantile } from '../../src/rollout/interval-window.js';
import { judgeInterval, type ShadowFigures } from '../../src/rollout/judge.js';
import { classifyOutcome } from '../../src/rollout/outcomes.js';
import { parseRolloutSpec } from '../../src/rollout/rollout-spec.js';

const spec = (gates: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  parseRolloutSpec({ target: { model: 'scorer', version: '2' }, gates: { min_requests: 100, ...gates }, ...extra });

/** A side with `successes` answers of `seconds` (or a spread around it) and `errors` internal errors. */
function side(successes: number, errors: number, seconds: (i: number) => number = () => 0.002, notJudged = 0): SideWindow {
  const window = new SideWindow();
  for (let i = 0; i < successes; i++) window.record('success', seconds(i));
  for (let i = 0; i < errors; i++) window.record('internal', 0);
  for (let i = 0; i < notJudged; i++) window.record('invalid_argument', 0);
  return window;
}

function figures(canary: SideWindow, primary: SideWindow, shadow: ShadowFigures | null = null) {
  return { canary, primary, canarySamples: canary.sortedSamples(), primarySamples: primary.sortedSamples(), shadow };
}

const spread = (base: number) => (i: number) => base * (1 + (i % 100) / 100);

describe('outcome classes', () => {
  it("counts the version's own failures against it, not the client's", () => {
    for (const fault of ['internal', 'overloaded', 'deadline_exceeded', 'model_not_ready', 'unavailable', 'something_new']) expect(classifyOutcome(fault)).toBe('fault');
    for (const client of ['invalid_argument', 'not_found', 'cancelled', 'payload_too_large', 'request_timeout']) expect(classifyOutcome(client)).toBe('client');
    expect(classifyOutcome('shutting_down')).toBe('neutral');
    expect(classifyOutcome('success')).toBe('success');
  });
});

describe('interval window', () => {
  it('keeps a bounded uniform sample of latencies whatever the traffic', () => {
    const window = new SideWindow(1000);
    for (let i = 0; i < 100_000; i++) window.record('success', i / 100_000);
    const sample = window.sortedSamples();
    expect(sample).toHaveLength(1000);
    // A uniform sample of 0..1: its p99 near 0.99.
    expect(quantile(sample, 0.99)).toBeGreaterThan(0.95);
    expect(quantile(sample, 0.5)).toBeGreaterThan(0.4);
    expect(quantile(sample, 0.5)).toBeLessThan(0.6);
    window.reset();
    expect(window.sortedSamples()).toHaveLength(0);
    expect(window.requests).toBe(0);
  });
});

describe('the judge', () => {
  it('passes when every gate holds with enough requests', () => {
    const result = judgeInterval(spec(), 1, figures(side(150, 1, spread(0.002)), side(3000, 0, spread(0.002))));
    expect(result.verdict).toBe('pass');
    expect(result.reasons).toEqual([]);
    expect(result.canary.error_rate).toBeCloseTo(1 / 151, 9);
  });

  it('is inconclusive below min_requests, however bad the few figures look (flagger #883: 0/0 is no verdict)', () => {
    expect(judgeInterval(spec(), 1, figures(side(0, 0), side(3000, 0))).verdict).toBe('inconclusive');
    const few = judgeInterval(spec(), 1, figures(side(10, 80), side(3000, 0)));
    expect(few.verdict).toBe('inconclusive');
    expect(few.reasons).toEqual(['90 canary requests, fewer than min_requests 100']);
  });

  it("does not count the client's mistakes, as requests or as errors", () => {
    const result = judgeInterval(spec(), 1, figures(side(60, 0, spread(0.002), 500), side(3000, 0, spread(0.002))));
    expect(result.verdict).toBe('inconclusive');
    expect(result.canary.requests).toBe(560);
    expect(result.canary.not_judged).toBe(500);
  });

  it('fails on the error rate with enough requests', () => {
    const result = judgeInterval(spec(), 1, figures(side(180, 20, spread(0.002)), side(3000, 0, spread(0.002))));
    expect(result.verdict).toBe('fail');
    expect(result.reasons[0]).toMatch(/canary error rate 10.0% \(20 of 200\) over max_error_rate 1.00%/);
  });

  it('fails on the p99 ratio, and says so with both p99s', () => {
    const result = judgeInterval(spec(), 1, figures(side(200, 0, spread(0.02)), side(3000, 0, spread(0.002))));
    expect(result.verdict).toBe('fail');
    // The primary's 3000 are sampled down to 2048: its p99 is within a few percent of 3.96 ms.
    expect(result.reasons[0]).toMatch(/^canary p99 39.6 ms is (9\.\d\d|10\.\d\d)× the primary's 3.9\d ms, over max_p99_ratio 1.5$/);
  });

  it('never takes a missing figure for a number (kayenta #377): no primary samples is inconclusive', () => {
    const noPrimary = judgeInterval(spec(), 1, figures(side(200, 0), side(0, 0)));
    expect(noPrimary.verdict).toBe('inconclusive');
    expect(noPrimary.primary.p99_seconds).toBeNull();
    // Every request failed on the primary: no latency to compare with.
    const zero = judgeInterval(spec(), 1, figures(side(200, 0), side(0, 300)));
    expect(zero.verdict).toBe('inconclusive');
    expect(JSON.stringify(zero)).not.toMatch(/NaN|Infinity/);
  });

  it('lets a broken gate win over a missing figure', () => {
    const result = judgeInterval(spec(), 1, figures(side(0, 200), side(3000, 0)));
    expect(result.verdict).toBe('fail');
  });

  it('with gates off, judges only on what is on', () => {
    const result = judgeInterval(spec({ max_p99_ratio: null, max_error_rate: null }), 1, figures(side(180, 20, spread(0.02)), side(10, 0)));
    expect(result.verdict).toBe('pass');
  });

  it('with the Mann-Whitney test, fails a canary slower on every request that p99 alone lets through', () => {
    const slightly = (i: number) => 0.002 * (1 + (i % 100) / 100) * 1.3;
    const p99Only = judgeInterval(spec(), 1, figures(side(1000, 0, slightly), side(3000, 0, spread(0.002))));
    expect(p99Only.verdict).toBe('pass');
    const withTest = judgeInterval(spec({}, { latency_test: 'mann-whitney' }), 1, figures(side(1000, 0, slightly), side(3000, 0, spread(0.002))));
    expect(withTest.verdict).toBe('fail');
    expect(withTest.reasons[0]).toMatch(/Mann-Whitney: the canary is slower by/);
    expect(withTest.mann_whitney!.slower).toBe(true);
  });

  it('judges step 0 on the shadow: its runs, its failures and the shadow gates', () => {
    const gates = spec({ max_shadow_mean_abs_difference: 0.01, min_argmax_agreement: 0.99 });
    const nothing = side(0, 0);
    const good: ShadowFigures = { compared: 300, errors: 0, mean_abs_difference: 0.005, argmax_agreement: 1 };
    expect(judgeInterval(gates, 0, figures(nothing, nothing, good)).verdict).toBe('pass');
    expect(judgeInterval(gates, 0, figures(nothing, nothing, { ...good, compared: 50 })).verdict).toBe('inconclusive');
    const far = judgeInterval(gates, 0, figures(nothing, nothing, { ...good, mean_abs_difference: 0.05, argmax_agreement: 0.9 }));
    expect(far.verdict).toBe('fail');
    expect(far.reasons).toHaveLength(2);
    expect(judgeInterval(gates, 0, figures(nothing, nothing, { ...good, errors: 30 })).verdict).toBe('fail');
    // A gate that is on and has no figure (no class scores compared) never passes.
    expect(judgeInterval(gates, 0, figures(nothing, nothing, { ...good, argmax_agreement: null })).verdict).toBe('inconclusive');
  });
});
