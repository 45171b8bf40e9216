/**
 * Overload with a mix of valid and invalid requests, open loop: requests are
 * sent at a fixed rate whatever the server answers, so it is pushed past its
 * capacity. Counts every answer by status and every request that got none.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

export interface SoakOptions {
  host: string;
  port: number;
  model: string;
  /** A valid request body for the model. */
  validBody: string;
  ratePerSecond: number;
  durationSeconds: number;
  /** After sending, how long to go on waiting with no answer coming before counting the rest lost. */
  drainSeconds: number;
  connections: number;
  /** Sampled once a second: the server's resident memory in bytes. */
  rss?: () => number | undefined;
}

export interface SoakResult {
  /** Requests written to a connection. */
  sent: number;
  /** Requests the rate asked for while every connection was busy: the generator's shortfall, not the server's. */
  notSent: number;
  answered: Record<string, number>;
  /** No answer: reset, refused, or still waiting when the run ended. */
  lost: number;
  lostReasons: Record<string, number>;
  peakRssBytes?: number;
  rssSamples: number[];
}

type Kind = 'valid' | 'malformed' | 'wrong-shape' | 'unknown-model';
const MIX: readonly Kind[] = ['valid', 'valid', 'valid', 'valid', 'valid', 'valid', 'valid', 'malformed', 'wrong-shape', 'unknown-model'];

function requestFor(kind: Kind, options: SoakOptions): { path: string; body: string } {
  const path = `/v2/models/${options.model}/infer`;
  switch (kind) {
    case 'valid':
      return { path, body: options.validBody };
    case 'malformed':
      return { path, body: options.validBody.slice(0, options.validBody.length >> 1) };
    case 'wrong-shape':
      return { path, body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }) };
    case 'unknown-model':
      return { path: '/v2/models/no_such_model/infer', body: options.validBody };
  }
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const answered: Record<string, number> = {};
  const lostReasons: Record<string, number> = {};
  const rssSamples: number[] = [];
  let sent = 0;
  let notSent = 0;
  let settled = 0;
  const pending = new Set<ReturnType<typeof request>>();

  const sendOne = (): void => {
    const { path, body } = requestFor(MIX[sent % MIX.length]!, options);
    sent += 1;
    const req = request(
      { host: options.host, port: options.port, method: 'POST', path, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => {
          answered[String(res.statusCode)] = (answered[String(res.statusCode)] ?? 0) + 1;
          settled += 1;
          pending.delete(req);
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      lostReasons[error.code ?? error.message] = (lostReasons[error.code ?? error.message] ?? 0) + 1;
      settled += 1;
      pending.delete(req);
    });
    pending.add(req);
    req.end(body);
  };

  const started = performance.now();
  const sampler = setInterval(() => {
    const rss = options.rss?.();
    if (rss !== undefined) rssSamples.push(rss);
  }, 1000);
  // Sends in 10 ms ticks, catching up to the intended count: the rate holds whatever the answers do.
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      const due = Math.min(options.durationSeconds, elapsed) * options.ratePerSecond;
      // A request for which no connection is free is counted, not queued in the client:
      // a backlog in the generator would look like requests the server lost.
      while (sent + notSent < due) {
        if (sent - settled < options.connections) sendOne();
        else notSent += 1;
      }
      if (elapsed >= options.durationSeconds) {
        clearInterval(tick);
        resolve();
      }
    }, 10);
  });
  // A server working off its queue on a busy machine answers slowly but steadily: the wait
  // ends once nothing has come back for drainSeconds, not at a fixed deadline after sending.
  let lastSettled = settled;
  let lastProgressAt = performance.now();
  while (settled < sent && performance.now() - lastProgressAt < options.drainSeconds * 1000) {
    await new Promise((r) => setTimeout(r, 20));
    if (settled !== lastSettled) [lastSettled, lastProgressAt] = [settled, performance.now()];
  }
  clearInterval(sampler);
  const unanswered = sent - settled;
  if (unanswered > 0) lostReasons['no answer before the end'] = unanswered;
  const lost = Object.values(lostReasons).reduce((a, b) => a + b, 0);
  // Copies: destroying the requests still waiting fails them, and that must not count them twice.
  const result = { sent, notSent, answered: { ...answered }, lost, lostReasons: { ...lostReasons } };
  for (const req of pending) req.destroy();
  agent.destroy();
  const peak = rssSamples.length ? Math.max(...rssSamples) : undefined;
  return { ...result, rssSamples, ...(peak !== undefined ? { peakRssBytes: peak } : {}) };
}

/** Resident memory of a local process, from /proc. */
export function processRss(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
