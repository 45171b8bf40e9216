/**
 * Closed-loop REST clients on keep-alive connections that run until the server
 * refuses them: each client sends its next request as the previous one ends, and
 * stops on its first refused connection (the listener is gone; that request was
 * never sent). Every request ends in exactly one bucket of the phase it ended in:
 * answered (by status, and by the `x-served-by` of each 200), unanswered (reset,
 * hang-up or timeout), or refused.
 */
import { Agent, request } from 'node:http';
import { percentile } from '../../src/loadtool/samples.js';

export interface PhaseTally {
  phase: string;
  /** performance.now() when the phase began and, once over, ended. */
  startedAt: number;
  endedAt?: number;
  /** Answers by HTTP status. */
  answers: Record<string, number>;
  /** 200 answers by their `x-served-by` ("scorer/3"), "-" without one. */
  servedBy: Record<string, number>;
  /** Requests without an answer, by error code; "(not written)" when the error came before the body was sent. */
  unanswered: Record<string, number>;
  refused: number;
  /** Latency of each answer ended in this phase, in ms. */
  latenciesMs: number[];
}

export interface ClientsOptions {
  url: URL;
  body: Buffer;
  headers: Record<string, string>;
  clients: number;
  /** A request without an answer this long counts as unanswered. */
  timeoutMs: number;
}

export class UntilRefusedClients {
  readonly phases: PhaseTally[] = [];
  /** Resolves once every client has stopped. */
  readonly stopped: Promise<void>;
  /** performance.now() of the first refusal, and of the last client stopping. */
  firstRefusalAt?: number;
  lastStoppedAt?: number;
  private readonly agent: Agent;
  private aborted = false;

  constructor(private readonly options: ClientsOptions, firstPhase: string) {
    this.agent = new Agent({ keepAlive: true, maxSockets: options.clients });
    this.phase(firstPhase);
    this.stopped = Promise.all(Array.from({ length: options.clients }, () => this.client())).then(() => {
      this.lastStoppedAt = performance.now();
      this.current.endedAt = this.lastStoppedAt;
      this.agent.destroy();
    });
  }

  /** From now on, requests that end are counted under `name`. */
  phase(name: string): void {
    const now = performance.now();
    if (this.phases.length) this.current.endedAt = now;
    this.phases.push({ phase: name, startedAt: now, answers: {}, servedBy: {}, unanswered: {}, refused: 0, latenciesMs: [] });
  }

  /** Ends every request still open (each counts as unanswered) and stops the clients: for when the server hangs. */
  abort(): void {
    this.aborted = true;
    this.agent.destroy();
  }

  private get current(): PhaseTally {
    return this.phases[this.phases.length - 1]!;
  }

  private async client(): Promise<void> {
    while (!this.aborted && (await this.exchange()));
  }

  /** One request; false once this client is to stop. */
  private exchange(): Promise<boolean> {
    const { url, body, headers, timeoutMs } = this.options;
    const started = performance.now();
    return new Promise((resolve) => {
      let ended = false;
      let written = false;
      const end = (count: (tally: PhaseTally) => void, goOn: boolean): void => {
        if (ended) return;
        ended = true;
        count(this.current);
        resolve(goOn);
      };
      const failed = (error: NodeJS.ErrnoException): void => {
        const code = error.code ?? error.message;
        if (code === 'ECONNREFUSED') {
          this.firstRefusalAt ??= performance.now();
          end((t) => (t.refused += 1), false);
          return;
        }
        const kind = written ? code : `${code} (not written)`;
        // A client that lost an answer goes on: if the listener is gone, its next connection is refused.
        end((t) => (t.unanswered[kind] = (t.unanswered[kind] ?? 0) + 1), true);
      };
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: this.agent, headers: { ...headers, 'content-length': body.length } },
        (res) => {
          res.on('error', failed);
          res.resume();
          res.on('end', () => {
            const status = String(res.statusCode);
            const servedBy = res.headers['x-served-by'];
            end((t) => {
              t.answers[status] = (t.answers[status] ?? 0) + 1;
              if (status === '200') {
                const by = typeof servedBy === 'string' ? servedBy : '-';
                t.servedBy[by] = (t.servedBy[by] ?? 0) + 1;
              }
              t.latenciesMs.push(performance.now() - started);
            }, true);
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'timeout' })));
      req.on('finish', () => (written = true));
      req.on('error', failed);
      req.end(body);
    });
  }
}

/** The sum of some phases' tallies. */
export function totalOf(phases: readonly PhaseTally[]): Omit<PhaseTally, 'phase' | 'startedAt' | 'endedAt' | 'latenciesMs'> & { sent: number } {
  const add = (into: Record<string, number>, from: Record<string, number>): void => {
    for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
  };
  const total = { answers: {}, servedBy: {}, unanswered: {}, refused: 0, sent: 0 };
  for (const p of phases) {
    add(total.answers, p.answers);
    add(total.servedBy, p.servedBy);
    add(total.unanswered, p.unanswered);
    total.refused += p.refused;
  }
  const count = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);
  // A refused request never reached the server: it was not sent.
  total.sent = count(total.answers) + count(total.unanswered);
  return total;
}

/** p50, p99 and max of a phase's answer latencies, in ms. */
export function phaseLatency(phase: PhaseTally): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(phase.latenciesMs).sort();
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN };
}
