/**
 * The verdict on one interval, from its figures: pure, so that every rule is unit-tested.
 * - fail: a gate is broken with enough requests (a broken gate wins over a missing figure);
 * - inconclusive: too few requests, or a gate that is on has no figure (no samples, a
 *   primary with too few requests, a ratio over a zero): missing data never passes, and a
 *   NaN is never taken for a number;
 * - pass: every gate that is on holds.
 * Step 0 (the target only shadows) is judged on the shadow's figures: its runs count as
 * requests, its failures as errors, and the two shadow gates apply.
 */
import { compareLatencies, type LatencyComparison } from './mann-whitney.js';
import { quantile, type SideFigures } from './interval-window.js';
import type { RolloutSpec } from './rollout-spec.js';

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface SideReport {
  requests: number;
  /** The version's own errors (outcomes.ts); client-caused outcomes are in `not_judged`. */
  errors: number;
  not_judged: number;
  error_rate: number | null;
  p99_seconds: number | null;
}

export interface ShadowFigures {
  /** Copies compared with the primary's answer, and copies that failed, over the interval. */
  compared: number;
  errors: number;
  mean_abs_difference: number | null;
  argmax_agreement: number | null;
}

export interface IntervalFigures {
  canary: SideFigures;
  primary: SideFigures;
  /** Success latencies in seconds, sorted. */
  canarySamples: Float64Array;
  primarySamples: Float64Array;
  /** Present at step 0 and whenever the route shadows the target. */
  shadow: ShadowFigures | null;
}

export interface Judgement {
  verdict: Verdict;
  /** One line per broken gate or missing figure; empty on a pass. */
  reasons: string[];
  canary: SideReport;
  primary: SideReport;
  shadow: ShadowFigures | null;
  mann_whitney: (Omit<LatencyComparison, 'slower'> & { slower: boolean }) | null;
}

const finite = (value: number): number | null => (Number.isFinite(value) ? value : null);

function sideReport(side: SideFigures, sorted: Float64Array): SideReport {
  return {
    requests: side.requests,
    errors: side.errors,
    not_judged: side.notJudged,
    error_rate: side.successes + side.errors > 0 ? side.errors / (side.successes + side.errors) : null,
    p99_seconds: finite(quantile(sorted, 0.99)),
  };
}

const percent = (value: number): string => `${(value * 100).toPrecision(3)}%`;
const ms = (seconds: number): string => `${(seconds * 1000).toPrecision(3)} ms`;

export function judgeInterval(spec: Pick<RolloutSpec, 'gates' | 'latency_test'>, step: number, figures: IntervalFigures): Judgement {
  const { gates } = spec;
  const canary = sideReport(figures.canary, figures.canarySamples);
  const primary = sideReport(figures.primary, figures.primarySamples);
  const failed: string[] = [];
  const missing: string[] = [];
  let mannWhitney: Judgement['mann_whitney'] = null;

  if (step === 0) {
    const shadow = figures.shadow;
    const runs = shadow ? shadow.compared + shadow.errors : 0;
    if (!shadow || runs < gates.min_requests) {
      missing.push(`${runs} shadow runs, fewer than min_requests ${gates.min_requests}`);
    } else {
      const errorRate = shadow.errors / runs;
      if (gates.max_error_rate !== null && errorRate > gates.max_error_rate) {
        failed.push(`shadow error rate ${percent(errorRate)} (${shadow.errors} of ${runs}) over max_error_rate ${percent(gates.max_error_rate)}`);
      }
      if (gates.max_shadow_mean_abs_difference !== null) {
        if (shadow.mean_abs_difference === null || !Number.isFinite(shadow.mean_abs_difference)) missing.push('no shadow comparison for max_shadow_mean_abs_difference');
        else if (shadow.mean_abs_difference > gates.max_shadow_mean_abs_difference) {
          failed.push(`shadow mean |difference| ${shadow.mean_abs_difference.toPrecision(3)} over max_shadow_mean_abs_difference ${gates.max_shadow_mean_abs_difference}`);
        }
      }
      if (gates.min_argmax_agreement !== null) {
        if (shadow.argmax_agreement === null || !Number.isFinite(shadow.argmax_agreement)) missing.push('no class-score rows compared for min_argmax_agreement');
        else if (shadow.argmax_agreement < gates.min_argmax_agreement) {
          failed.push(`argmax agreement ${percent(shadow.argmax_agreement)} under min_argmax_agreement ${percent(gates.min_argmax_agreement)}`);
        }
      }
    }
  } else if (figures.canary.successes + figures.canary.errors < gates.min_requests) {
    missing.push(`${figures.canary.successes + figures.canary.errors} canary requests, fewer than min_requests ${gates.min_requests}`);
  } else {
    if (gates.max_error_rate !== null && canary.error_rate !== null && canary.error_rate > gates.max_error_rate) {
      failed.push(`canary error rate ${percent(canary.error_rate)} (${canary.errors} of ${figures.canary.successes + figures.canary.errors}) over max_error_rate ${percent(gates.max_error_rate)}`);
    }
    const latencyGates = gates.max_p99_ratio !== null || spec.latency_test !== null;
    const primaryJudged = figures.primary.successes + figures.primary.errors;
    if (latencyGates && primaryJudged < gates.min_requests) {
      missing.push(`${primaryJudged} primary requests, fewer than min_requests ${gates.min_requests}, to compare latencies with`);
    } else if (latencyGates) {
      if (gates.max_p99_ratio !== null) {
        const ratio = canary.p99_seconds !== null && primary.p99_seconds !== null && primary.p99_seconds > 0 ? canary.p99_seconds / primary.p99_seconds : Number.NaN;
        if (!Number.isFinite(ratio)) missing.push('no p99 ratio (a side without successes, or a primary p99 of 0)');
        else if (ratio > gates.max_p99_ratio) {
          failed.push(`canary p99 ${ms(canary.p99_seconds!)} is ${ratio.toFixed(2)}× the primary's ${ms(primary.p99_seconds!)}, over max_p99_ratio ${gates.max_p99_ratio}`);
        }
      }
      if (spec.latency_test === 'mann-whitney') {
        const comparison = compareLatencies(figures.canarySamples, figures.primarySamples);
        if (!comparison || !Number.isFinite(comparison.estimate)) missing.push('no latency samples for the Mann-Whitney test');
        else {
          mannWhitney = comparison;
          if (comparison.slower) {
            failed.push(
              `Mann-Whitney: the canary is slower by ${ms(comparison.estimate)} (98% interval ${ms(comparison.lower)} to ${ms(comparison.upper)}), beyond the 25% tolerance`,
            );
          }
        }
      }
    }
  }
  const verdict: Verdict = failed.length > 0 ? 'fail' : missing.length > 0 ? 'inconclusive' : 'pass';
  return { verdict, reasons: [...failed, ...missing], canary, primary, shadow: figures.shadow, mann_whitney: mannWhitney };
}
