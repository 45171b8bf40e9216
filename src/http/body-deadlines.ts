/**
 * Deadlines of request bodies still arriving, checked by one sweep instead of a
 * timer per request. Almost every body arrives in the packet after its headers,
 * yet a per-request setTimeout is armed and cleared each time, which costs more
 * than the rest of reading the body. Every body has the same time limit, so the
 * watched bodies form a list in order of their deadlines: watching appends,
 * forgetting unlinks, and a sweep looks only at the expired head. A body is cut
 * off between `timeoutMs` and `timeoutMs` plus one sweep period (a quarter of
 * the timeout, at most 250 ms).
 */
export class BodyDeadline {
  /** Neighbours in the list of watched bodies; both null when not watched. */
  previous: BodyDeadline | null = null;
  next: BodyDeadline | null = null;

  constructor(
    /** performance.now() by which the whole body must have arrived. */
    readonly due: number,
    /** Called once if the body has not arrived by then. */
    readonly expire: () => void,
  ) {}
}

export class BodyDeadlines {
  private head: BodyDeadline | null = null;
  private tail: BodyDeadline | null = null;
  private count = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly periodMs: number;

  constructor(readonly timeoutMs: number) {
    this.periodMs = Math.max(1, Math.min(250, Math.floor(timeoutMs / 4)));
  }

  /** Starts watching a body that must arrive within timeoutMs; `forget` it once it is whole or refused. */
  watch(expire: () => void): BodyDeadline {
    const deadline = new BodyDeadline(performance.now() + this.timeoutMs, expire);
    deadline.previous = this.tail;
    if (this.tail) this.tail.next = deadline;
    else this.head = deadline;
    this.tail = deadline;
    this.count += 1;
    // Swept only while bodies are pending: an idle server wakes for nothing.
    this.sweeper ??= setInterval(this.sweep, this.periodMs);
    return deadline;
  }

  forget(deadline: BodyDeadline): void {
    if (deadline.previous === null && this.head !== deadline) return;
    if (deadline.previous) deadline.previous.next = deadline.next;
    else this.head = deadline.next;
    if (deadline.next) deadline.next.previous = deadline.previous;
    else this.tail = deadline.previous;
    deadline.previous = null;
    deadline.next = null;
    this.count -= 1;
  }

  /** Bodies being watched. */
  get size(): number {
    return this.count;
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    while (this.head && this.head.due <= now) {
      const expired = this.head;
      this.forget(expired);
      expired.expire();
    }
    if (this.count === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  };
}
