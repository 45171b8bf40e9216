/**
 * Deadlines of request bodies still arriving, checked by one sweep instead of a
 * timer per request. Almost every body arrives in the packet after its headers,
 * yet a per-request setTimeout is armed and cleared each time, which costs more
 * than the rest of reading the body. A body is cut off between `timeoutMs` and
 * `timeoutMs` plus one sweep period (a quarter of the timeout, at most 250 ms).
 */
export interface BodyDeadline {
  /** performance.now() by which the whole body must have arrived. */
  readonly due: number;
  /** Called once if the body has not arrived by then. */
  expire(): void;
}

export class BodyDeadlines {
  private readonly pending = new Set<BodyDeadline>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly periodMs: number;

  constructor(readonly timeoutMs: number) {
    this.periodMs = Math.max(1, Math.min(250, Math.floor(timeoutMs / 4)));
  }

  /** Starts watching a body; `forget` it once the body is whole or refused. */
  watch(deadline: BodyDeadline): void {
    this.pending.add(deadline);
    // Swept only while bodies are pending: an idle server wakes for nothing.
    this.sweeper ??= setInterval(this.sweep, this.periodMs);
  }

  forget(deadline: BodyDeadline): void {
    this.pending.delete(deadline);
  }

  get size(): number {
    return this.pending.size;
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    for (const deadline of this.pending) {
      if (deadline.due > now) continue;
      this.pending.delete(deadline);
      deadline.expire();
    }
    if (this.pending.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  };
}
