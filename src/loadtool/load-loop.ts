/**
 * The bench tool's load loop, whatever the protocol:
 * - closed: `concurrency` requests in flight, each sent as the previous answers;
 * - open: requests due at a fixed rate whatever the server does. Latency is
 *   measured from when a request was due, not from when it could be sent, so
 *   queueing in front of a slow server shows up (no coordinated omission).
 * Every answer is counted by its outcome ("200", "OK", "503", …) and every failure by kind.
 * Latencies of successes and of other answers are kept apart: a server refusing fast
 * under overload (503, RESOURCE_EXHAUSTED) would otherwise make its latency look better
 * the more it refuses.
 */
import { SampleBuffer } from './samples.js';

/** What became of one request: a success, another answer (a refusal or an error), or no answer at all. */
export type AnswerKind = 'success' | 'error' | 'none';

/** Sends one request; calls `done` once with its outcome ("200", "OK", "ECONNRESET", …) and its kind. */
export type Send = (done: (outcome: string, kind: AnswerKind) => void) => void;

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
  /**
   * After sending, how long to go on waiting with no answer coming before giving up on the
   * requests still in flight (they count as "no answer"). Default 30.
   */
  stallSeconds?: number;
  /** Called about once a second while measuring. */
  progress?: (sent: number, answered: number, elapsedSeconds: number) => void;
}

export interface RawLoadResult {
  sent: number;
  answered: number;
  /**
   * By outcome: a status for answers, an error kind for requests that got none, and "no answer"
   * for those still in flight when the tool stopped waiting (stallSeconds without any answer).
   */
  outcomes: Record<string, number>;
  /** Latency of every successful request, in ms, in completion order. */
  successLatenciesMs: Float64Array;
  /** Latency of every answer that was not a success (refusals, errors), in ms. */
  errorLatenciesMs: Float64Array;
  /** From the first request sent to the last answer (or the end of sending, if later). */
  elapsedSeconds: number;
}

export async function runLoop(send: Send, options: LoopOptions): Promise<RawLoadResult> {
  let measuring = false;
  let sent = 0;
  const successLatencies = new SampleBuffer();
  const errorLatencies = new SampleBuffer();
  const outcomes: Record<string, number> = {};
  let inFlight = 0;
  let lastAnswerAt = 0;
  let lastSettledAt = 0;
  // Set once the result is made: requests given up on fail when their connections are closed
  // afterwards, and must not then be counted a second time, under their error.
  let finished = false;

  const sendDue = (dueAt: number, then?: () => void): void => {
    const counted = measuring;
    if (counted) sent += 1;
    inFlight += 1;
    send((outcome, kind) => {
      if (finished) return;
      inFlight -= 1;
      lastSettledAt = performance.now();
      if (counted) {
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        if (kind !== 'none') {
          lastAnswerAt = performance.now();
          (kind === 'success' ? successLatencies : errorLatencies).push(lastAnswerAt - dueAt);
        }
      }
      then?.();
    });
  };
  const answered = (): number => successLatencies.length + errorLatencies.length;

  /** Sends for `seconds`, or until `limit` requests have gone out when one is given. */
  const runFor = async (seconds: number, limit?: number): Promise<number> => {
    const started = performance.now();
    const rate = options.rate ?? 1;
    const end = started + (limit !== undefined && options.mode === 'open' ? (limit / rate) * 1000 : limit !== undefined ? Number.POSITIVE_INFINITY : seconds * 1000);
    let launched = 0;
    const progress = setInterval(() => options.progress?.(sent, answered(), (performance.now() - started) / 1000), 1000);
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
  // Answers still on their way belong to the run, and so does the time they take. A server
  // working through a long queue (or sharing a busy machine) answers slowly but steadily, so
  // the wait ends only once nothing has come back for stallSeconds, not at a fixed deadline
  // that would count its slow answers as none.
  const stallMs = (options.stallSeconds ?? 30) * 1000;
  lastSettledAt = Math.max(lastSettledAt, performance.now());
  while (inFlight > 0 && performance.now() - lastSettledAt < stallMs) await new Promise((r) => setTimeout(r, 10));
  finished = true;
  const unanswered = sent - Object.values(outcomes).reduce((a, b) => a + b, 0);
  if (unanswered > 0) outcomes['no answer'] = unanswered;
  return {
    sent,
    answered: answered(),
    outcomes,
    successLatenciesMs: successLatencies.values(),
    errorLatenciesMs: errorLatencies.values(),
    elapsedSeconds: Math.max(sendingSeconds, (lastAnswerAt - measuredFrom) / 1000),
  };
}
