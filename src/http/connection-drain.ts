/**
 * Ending HTTP keep-alive connections at shutdown without losing a request.
 *
 * uWS.js has no App.close() and no per-connection events for HTTP, so connections
 * cannot be listed or closed when idle. Instead: once the listener is closed, every
 * response carries `Connection: close` and its connection is closed after it, so a
 * connection is never closed while a request on it may be in flight. Once no request
 * has arrived for QUIET_MS, counted from the listener's close at the earliest, and no
 * response is open, every connection still open has been idle at least that long and
 * the process may end: the kernel closes those connections with a FIN, as any server's
 * idle timeout would. A request that still comes before the process ends is answered.
 */
import type { ResponseState, ResponseTracker } from './respond.js';

/** How long no request may arrive before the remaining connections count as idle. */
export const QUIET_MS = 1000;
const CHECK_MS = 20;

export class ConnectionDrain implements ResponseTracker {
  /** Set when the listener closes (close()). */
  closing = false;
  /** Responses begun and not yet ended or aborted. */
  private open = 0;
  private lastArrival = 0;

  /**
   * Every request starts here: its response is counted open until finish() (respond.ts),
   * which also calls `onFinish`. One object shape for every response state.
   */
  begin(onFinish?: () => void): ResponseState {
    this.open += 1;
    this.lastArrival = performance.now();
    return { finished: false, tracker: this, onFinish };
  }

  finished(): void {
    this.open -= 1;
  }

  /** The listener has closed: from now on every response closes its connection. */
  close(): void {
    this.closing = true;
    // A connection used just before the close gets its full quiet period to send again.
    this.lastArrival = performance.now();
  }

  /** Responses begun and not yet ended, for the last check before the process ends. */
  get openResponses(): number {
    return this.open;
  }

  /**
   * Resolves once the remaining connections may be dropped, or at the deadline
   * (a performance.now() time); true if every response had ended by then.
   */
  async quiet(deadline: number): Promise<boolean> {
    const quiet = (): boolean => this.open === 0 && performance.now() - this.lastArrival >= QUIET_MS;
    while (!quiet() && performance.now() < deadline) await new Promise((r) => setTimeout(r, CHECK_MS));
    return this.open === 0;
  }
}
