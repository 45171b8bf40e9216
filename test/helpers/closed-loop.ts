/**
 * Closed-loop load on one URL for tests: `concurrency` requests in flight over keep-alive
 * connections, each sent as the previous one is answered, until stopped. Counts answers by
 * status, so a test can compare what clients saw with what the server reports.
 */
import { Agent, request } from 'node:http';

export interface ClosedLoop {
  /** Answers so far, by HTTP status. */
  readonly statuses: Map<number, number>;
  answered(): number;
  answeredWith(status: number): number;
  /** Stops sending and resolves once every request in flight has been answered. */
  stop(): Promise<void>;
}

export function closedLoop(url: string, body: string, concurrency: number, headers: Record<string, string> = {}): ClosedLoop {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const payload = Buffer.from(body);
  const statuses = new Map<number, number>();
  let stopped = false;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': payload.length, ...headers },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
            resolve();
          });
        },
      );
      req.on('error', () => {
        statuses.set(0, (statuses.get(0) ?? 0) + 1);
        resolve();
      });
      req.end(payload);
    });
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stopped) await one();
  });
  const total = (): number => [...statuses.values()].reduce((a, b) => a + b, 0);
  return {
    statuses,
    answered: total,
    answeredWith: (status) => statuses.get(status) ?? 0,
    async stop() {
      stopped = true;
      await Promise.all(workers);
      agent.destroy();
    },
  };
}

/** Runs `n` calls of `one`, `concurrency` at a time; the results in call order. */
export async function many<T>(n: number, concurrency: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < n; i = next++) results[i] = await one(i);
  }));
  return results;
}
