import { ServingError } from '../errors.js';

/**
 * Bytes of requests the server holds at once, across all connections and both
 * protocols: bodies being read, decoded and queued. Past the budget a request is
 * refused at once as overload, so memory stays bounded whatever the load.
 */
export class ByteBudget {
  private held = 0;

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.held;
  }

  /** Reserves `bytes`; the returned function gives them back (once). Throws OVERLOADED past the limit. */
  reserve(bytes: number): () => void {
    if (this.held + bytes > this.limit) {
      throw new ServingError(
        'OVERLOADED',
        `the server holds ${this.held} bytes of requests; ${bytes} more would pass --max-inflight-bytes ${this.limit}`,
        1,
      );
    }
    this.held += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
    };
  }
}
