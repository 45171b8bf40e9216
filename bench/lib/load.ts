/**
 * HTTP load with autocannon's programmatic API, for the baselines. Latencies are
 * kept per response so that any percentile (autocannon reports no p95) comes from
 * the raw samples, and successes (2xx) are kept apart from other answers: the
 * throughput is goodput, and a server refusing fast under overload does not look
 * faster for it.
 */
import autocannon from 'autocannon';
import { latencySummary, SampleBuffer, type LatencySummary } from '../../src/loadtool/samples.js';

export { percentile } from '../../src/loadtool/samples.js';

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  body: Buffer | string;
  headers: Record<string, string>;
  /** Seconds of load before measuring, discarded. */
  warmupSeconds?: number;
  /** A fixed arrival rate over all connections; absent: each connection sends as fast as it is answered. */
  ratePerSecond?: number;
}

export interface LoadResult {
  connections: number;
  /** Answers of any status. */
  requests: number;
  /** Goodput: 2xx answers (gRPC: OK calls) a second. */
  requestsPerSecond: number;
  errors: number;
  non2xx: number;
  /** Latency of the successes only. */
  latencyMs: LatencySummary;
  /** Latency of the non-2xx answers, apart; absent or NaN when there were none. */
  non2xxLatencyMs?: LatencySummary;
}

function run(options: LoadOptions, durationSeconds: number, onResponse?: (status: number, ms: number) => void): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: 'POST',
        connections: options.connections,
        duration: durationSeconds,
        body: options.body,
        headers: options.headers,
        ...(options.ratePerSecond ? { overallRate: options.ratePerSecond } : {}),
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    if (onResponse) instance.on('response', (_client, status: number, _bytes, responseTime: number) => onResponse(status, responseTime));
  });
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.warmupSeconds) await run(options, options.warmupSeconds);
  const successes = new SampleBuffer();
  const others = new SampleBuffer();
  const result = await run(options, options.durationSeconds, (status, ms) => (status >= 200 && status < 300 ? successes : others).push(ms));
  return {
    connections: options.connections,
    requests: result.requests.total,
    requestsPerSecond: successes.length / result.duration,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    latencyMs: latencySummary(successes.values()),
    non2xxLatencyMs: latencySummary(others.values()),
  };
}
