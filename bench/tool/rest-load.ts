/**
 * REST load for the bench tool, closed or open loop.
 * - closed: `concurrency` requests in flight, each sent as the previous answers;
 * - open: requests due at a fixed rate whatever the server does. Latency is
 *   measured from when a request was due, not when a connection was free, so
 *   queueing in front of a slow server shows up (no coordinated omission).
 * Every answer is counted by status; every failure by kind.
 */
import { Agent, request } from 'node:http';

export interface RestLoadOptions {
  url: URL;
  body: Buffer;
  headers: Record<string, string>;
  mode: 'closed' | 'open';
  /** Closed loop: requests in flight. Open loop: connections available. */
  concurrency: number;
  /** Open loop: requests per second. */
  rate?: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Called about once a second while measuring. */
  progress?: (sent: number, answered: number, elapsedSeconds: number) => void;
}

export interface RawLoadResult {
  sent: number;
  answered: number;
  /** By HTTP status, or by error code for requests that got no answer. */
  outcomes: Record<string, number>;
  /** Latency of every answered request, in ms, in completion order. */
  latenciesMs: Float64Array;
  /** From the first request sent to the last answer (or the end of sending, if later). */
  elapsedSeconds: number;
}

export async function runRestLoad(options: RestLoadOptions): Promise<RawLoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  let measuring = false;
  let sent = 0;
  let answered = 0;
  let latencies = new Float64Array(1 << 16);
  const outcomes: Record<string, number> = {};
  let inFlight = 0;
  let lastAnswerAt = 0;

  const record = (outcome: string, dueAt: number, counted: boolean): void => {
    inFlight -= 1;
    if (!counted) return;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (/^\d+$/.test(outcome)) {
      lastAnswerAt = performance.now();
      if (answered === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[answered++] = performance.now() - dueAt;
    }
  };

  const send = (dueAt: number, then?: () => void): void => {
    const counted = measuring;
    if (counted) sent += 1;
    inFlight += 1;
    const req = request(
      { host: options.url.hostname, port: options.url.port, path: options.url.pathname, method: 'POST', agent, headers: { ...options.headers, 'content-length': options.body.length } },
      (res) => {
        res.resume();
        res.on('end', () => {
          record(String(res.statusCode), dueAt, counted);
          then?.();
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      record(error.code ?? 'error', dueAt, counted);
      then?.();
    });
    req.end(options.body);
  };

  let running = true;
  const runFor = async (seconds: number): Promise<number> => {
    const started = performance.now();
    const end = started + seconds * 1000;
    const progress = setInterval(() => options.progress?.(sent, answered, (performance.now() - started) / 1000), 1000);
    if (options.mode === 'closed') {
      await new Promise<void>((resolve) => {
        let active = options.concurrency;
        const loop = (): void => {
          if (!running || performance.now() >= end) {
            if (--active === 0) resolve();
            return;
          }
          send(performance.now(), loop);
        };
        for (let i = 0; i < options.concurrency; i++) loop();
      });
    } else {
      const rate = options.rate ?? 1;
      let due = 0;
      await new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          const now = performance.now();
          // Every request due by now is sent with its due time; the agent queues it if no connection is free.
          for (let at = started + (due * 1000) / rate; at <= now && at < end; at = started + (due * 1000) / rate) {
            send(at);
            due += 1;
          }
          if (now >= end) {
            clearInterval(tick);
            resolve();
          }
        }, 2);
      });
    }
    clearInterval(progress);
    return (performance.now() - started) / 1000;
  };

  if (options.warmupSeconds > 0) await runFor(options.warmupSeconds);
  measuring = true;
  const measuredFrom = performance.now();
  const sendingSeconds = await runFor(options.durationSeconds);
  running = false;
  // Answers still on their way belong to the run, and so does the time they take.
  const deadline = performance.now() + 30_000;
  while (inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const elapsedSeconds = Math.max(sendingSeconds, (lastAnswerAt - measuredFrom) / 1000);
  agent.destroy();
  const unanswered = sent - answered - Object.entries(outcomes).filter(([k]) => !/^\d+$/.test(k)).reduce((a, [, n]) => a + n, 0);
  if (unanswered > 0) outcomes['no answer'] = unanswered;
  return { sent, answered, outcomes, latenciesMs: latencies.slice(0, answered), elapsedSeconds };
}
