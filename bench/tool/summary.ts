/** What a load run comes to: rates, outcomes and latency percentiles from the raw samples. */
import { percentile } from '../lib/load.js';
import type { RawLoadResult } from './load-loop.js';

export interface PointSummary {
  mode: 'closed' | 'open';
  /** Closed loop: requests in flight; open loop: the offered rate (req/s). */
  load: number;
  sent: number;
  answered: number;
  requestsPerSecond: number;
  rowsPerSecond: number;
  /** Answers by status and failures by kind. */
  outcomes: Record<string, number>;
  latencyMs: { p50: number; p90: number; p95: number; p99: number; max: number };
}

/** `success` is the outcome of a good answer: "200" over REST, "OK" over gRPC. */
export function summarize(raw: RawLoadResult, mode: 'closed' | 'open', load: number, rowsPerRequest: number, success = '200'): PointSummary {
  const sorted = Float64Array.from(raw.latenciesMs).sort();
  const ok = raw.outcomes[success] ?? 0;
  return {
    mode,
    load,
    sent: raw.sent,
    answered: raw.answered,
    requestsPerSecond: ok / raw.elapsedSeconds,
    rowsPerSecond: (ok * rowsPerRequest) / raw.elapsedSeconds,
    outcomes: raw.outcomes,
    latencyMs: {
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    },
  };
}
