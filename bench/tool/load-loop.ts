/**
 * The bench tool's load loop, whatever the protocol:
 * - closed: `concurrency` requests in flight, each sent as the previous answers;
 * - open: requests due at a fixed rate whatever the server does. Latency is
 *   measured from when a request was due, not from when it could be sent, so
 *   queueing in front of a slow server shows up (no coordinated omission).
 * Every answer is counted by its outcome ("200", "OK", …) and every failure by kind.
 */

/** Sends one request; calls `done` once with its outcome and whether it was answered. */
export type Send = (done: (outcome: string, answered: boolean) => void) => void;

export interface LoopOptions {
  mode: 'closed' | 'open';
  /** Closed loop: requests in flight. */
  concurrency: number;
  /** Open loop: requests per second. */
  rate?: number;
  durationSeconds: number;
  /** Stop after this many requests instead of after durationSeconds. */
  requests?: number;
  warmupSeconds: number;
  /** Called about once a second while measuring. */
  progress?: (sent: number, answered: number, elapsedSeconds: number) => void;
}

export interface RawLoadResult {
  sent: number;
  answered: number;
  /** By outcome: a status for answers, an error kind for requests that got none. */
  outcomes: Record<string, number>;
  /** Latency of every answered request, in ms, in completion order. */
  latenciesMs: Float64Array;
  /** From the first request sent to the last answer (or the end of sending, if later). */
  elapsedSeconds: number;
}

export async function runLoop(send: Send, options: LoopOptions): Promise<RawLoadResult> {
  let measuring = false;
  let sent = 0;
  let answered = 0;
  let latencies = new Float64Array(1 << 16);
  const outcomes: Record<string, number> = {};
  let inFlight = 0;
  let lastAnswerAt = 0;

  const sendDue = (dueAt: number, then?: () => void): void => {
    const counted = measuring;
    if (counted) sent += 1;
    inFlight += 1;
    send((outcome, wasAnswered) => {
      inFlight -= 1;
      if (counted) {
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        if (wasAnswered) {
          lastAnswerAt = performance.now();
          if (answered === latencies.length) {
            const grown = new Float64Array(latencies.length * 2);
            grown.set(latencies);
            latencies = grown;
          }
          latencies[answered++] = lastAnswerAt - dueAt;
        }
      }
      then?.();
    });
  };

  /** Sends for `seconds`, or until `limit` requests have gone out when one is given. */
  const runFor = async (seconds: number, limit?: number): Promise<number> => {
    const started = performance.now();
    const rate = options.rate ?? 1;
    const end = started + (limit !== undefined && options.mode === 'open' ? (limit / rate) * 1000 : limit !== undefined ? Number.POSITIVE_INFINITY : seconds * 1000);
    let launched = 0;
    const progress = setInterval(() => options.progress?.(sent, answered, (performance.now() - started) / 1000), 1000);
    if (options.mode === 'closed') {
      await new Promise<void>((resolve) => {
        let active = options.concurrency;
        const loop = (): void => {
          if (performance.now() >= end || (limit !== undefined && launched >= limit)) {
            if (--active === 0) resolve();
            return;
          }
          launched += 1;
          sendDue(performance.now(), loop);
        };
        for (let i = 0; i < options.concurrency; i++) loop();
      });
    } else {
      let due = 0;
      await new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          const now = performance.now();
          // Every request due by now goes out with its due time, [0, duration) only.
          for (let at = started + (due * 1000) / rate; at <= now && at < end; at = started + (due * 1000) / rate) {
            sendDue(at);
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
  const sendingSeconds = await runFor(options.durationSeconds, options.requests);
  // Answers still on their way belong to the run, and so does the time they take.
  const deadline = performance.now() + 30_000;
  while (inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const unanswered = sent - Object.values(outcomes).reduce((a, b) => a + b, 0);
  if (unanswered > 0) outcomes['no answer'] = unanswered;
  return {
    sent,
    answered,
    outcomes,
    latenciesMs: latencies.slice(0, answered),
    elapsedSeconds: Math.max(sendingSeconds, (lastAnswerAt - measuredFrom) / 1000),
  };
}
