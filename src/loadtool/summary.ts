/** What a load run comes to: goodput, outcomes and latency percentiles from the raw samples. */
import type { RawLoadResult } from './load-loop.js';
import { latencySummary, type LatencySummary } from './samples.js';

export interface PointSummary {
  mode: 'closed' | 'open';
  /** Closed loop: requests in flight; open loop: the offered rate (req/s). */
  load: number;
  sent: number;
  answered: number;
  /** Answers that were successes (2xx over REST, OK over gRPC). */
  succeeded: number;
  /** Goodput: successes a second. Refusals and errors are answers, not throughput. */
  requestsPerSecond: number;
  rowsPerSecond: number;
  /** Answers by status and failures by kind. */
  outcomes: Record<string, number>;
  /** Latency of the successes only. */
  latencyMs: LatencySummary;
  /** Latency of the other answers (refusals, errors), apart: fast refusals would flatter `latencyMs`. NaN when there were none. */
  errorLatencyMs: LatencySummary;
}

export function summarize(raw: RawLoadResult, mode: 'closed' | 'open', load: number, rowsPerRequest: number): PointSummary {
  const succeeded = raw.successLatenciesMs.length;
  return {
    mode,
    load,
    sent: raw.sent,
    answered: raw.answered,
    succeeded,
    requestsPerSecond: succeeded / raw.elapsedSeconds,
    rowsPerSecond: (succeeded * rowsPerRequest) / raw.elapsedSeconds,
    outcomes: raw.outcomes,
    latencyMs: latencySummary(raw.successLatenciesMs),
    errorLatencyMs: latencySummary(raw.errorLatenciesMs),
  };
}
