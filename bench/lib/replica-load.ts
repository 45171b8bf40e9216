/**
 * Load spread over several replicas the way a round-robin balancer in front of them would spread
 * it: the generator's keep-alive connections go to the replicas in turn (connection i to replica
 * i mod n), each a closed loop. Outcomes are then split into 2xx, other answers and transport
 * failures, which have different causes and are reported apart.
 */
import { runRestLoad, type RestLoadOptions } from '../../src/loadtool/rest-load.js';
import type { RawLoadResult } from '../../src/loadtool/load-loop.js';

/** How many of `connections` each of `replicas` gets when they are dealt out in turn. */
export function dealConnections(connections: number, replicas: number): number[] {
  if (!Number.isInteger(connections) || !Number.isInteger(replicas) || replicas < 1 || connections < replicas) {
    throw new Error(`cannot deal ${connections} connections over ${replicas} replicas: need at least one each`);
  }
  return Array.from({ length: replicas }, (_, i) => Math.floor(connections / replicas) + (i < connections % replicas ? 1 : 0));
}

export interface OutcomeTally {
  sent: number;
  /** 2xx answers. */
  ok: number;
  /** Answers that were not 2xx, by status. */
  refused: Record<string, number>;
  /** Requests without an answer, by error code ("ECONNRESET", "no answer", …). */
  transport: Record<string, number>;
}

/** The load loop's outcomes ("200", "503", "ECONNRESET") told apart: a status is three digits. */
export function tallyOutcomes(results: readonly Pick<RawLoadResult, 'sent' | 'outcomes'>[]): OutcomeTally {
  const tally: OutcomeTally = { sent: 0, ok: 0, refused: {}, transport: {} };
  for (const result of results) {
    tally.sent += result.sent;
    for (const [outcome, n] of Object.entries(result.outcomes)) {
      if (/^2\d\d$/.test(outcome)) tally.ok += n;
      else if (/^\d{3}$/.test(outcome)) tally.refused[outcome] = (tally.refused[outcome] ?? 0) + n;
      else tally.transport[outcome] = (tally.transport[outcome] ?? 0) + n;
    }
  }
  return tally;
}

export const countOf = (byKind: Record<string, number>): number => Object.values(byKind).reduce((a, b) => a + b, 0);

export type SpreadLoadOptions = Omit<RestLoadOptions, 'url' | 'connections' | 'concurrency'> & { urls: readonly URL[]; connections: number };

/** One closed loop per replica, on its share of the connections; the raw result of each, in `urls` order. */
export function runSpreadLoad(options: SpreadLoadOptions): Promise<RawLoadResult[]> {
  const { urls, connections, ...rest } = options;
  const shares = dealConnections(connections, urls.length);
  return Promise.all(urls.map((url, i) => runRestLoad({ ...rest, url, connections: shares[i]!, concurrency: shares[i]! })));
}
