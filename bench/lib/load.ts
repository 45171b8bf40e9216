/**
 * Closed-loop HTTP load with autocannon's programmatic API. Latencies are kept
 * per response so that any percentile (autocannon reports no p95) comes from
 * the raw samples.
 */
import autocannon from 'autocannon';

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
  requests: number;
  requestsPerSecond: number;
  errors: number;
  non2xx: number;
  latencyMs: { p50: number; p90: number; p95: number; p99: number; max: number };
}

export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

function run(options: LoadOptions, durationSeconds: number, onLatency?: (ms: number) => void): Promise<autocannon.Result> {
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
    if (onLatency) instance.on('response', (_client, _status, _bytes, responseTime: number) => onLatency(responseTime));
  });
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.warmupSeconds) await run(options, options.warmupSeconds);
  let samples = new Float64Array(1 << 16);
  let count = 0;
  const result = await run(options, options.durationSeconds, (ms) => {
    if (count === samples.length) {
      const grown = new Float64Array(samples.length * 2);
      grown.set(samples);
      samples = grown;
    }
    samples[count++] = ms;
  });
  const sorted = samples.subarray(0, count).sort();
  return {
    connections: options.connections,
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / result.duration,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    latencyMs: {
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      max: count ? sorted[count - 1]! : Number.NaN,
    },
  };
}
