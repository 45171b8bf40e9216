import { ServingError } from '../errors.js';
import type { InputTensor } from '../types.js';

/**
 * Bytes the server holds for requests at once, across all connections and both
 * protocols: bodies being read, their decoding, decoded tensors waiting in a queue,
 * and answers not yet handed to the socket. Past the budget a request is refused
 * at once as overload, so memory stays bounded whatever the load; a request that
 * could not fit even alone is refused as too large, since retrying cannot help.
 */
export class ByteBudget {
  private held = 0;

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.held;
  }

  /** An empty reservation for one request, to grow as the request is read. */
  reserve(): Reservation {
    return new Reservation(this);
  }

  /** The books' side of Reservation.set; nothing else calls it. */
  adjust(delta: number): void {
    this.held += delta;
  }
}

/**
 * One request's share of the budget, from before its body is read until its answer
 * is written. Whoever holds it releases it on every path; after that it holds nothing.
 */
export class Reservation {
  private bytes = 0;
  private released = false;

  constructor(private readonly budget: ByteBudget) {}

  /** How much more this request could be granted now, beside what the others hold. */
  get room(): number {
    return this.budget.limit - this.budget.bytes;
  }

  /**
   * Adds `bytes` about to be allocated. Throws PAYLOAD_TOO_LARGE when this request
   * alone would pass the limit, OVERLOADED when it would only together with others.
   */
  grow(bytes: number): void {
    if (this.released) return;
    const { limit } = this.budget;
    if (this.bytes + bytes > limit) {
      throw new ServingError(
        'PAYLOAD_TOO_LARGE',
        `the request needs about ${this.bytes + bytes} bytes to be read and decoded, more than --max-inflight-bytes ${limit} allows any request`,
      );
    }
    if (this.budget.bytes + bytes > limit) {
      throw new ServingError(
        'OVERLOADED',
        `the server holds ${this.budget.bytes} bytes of requests; ${bytes} more would pass --max-inflight-bytes ${limit}`,
        1,
      );
    }
    this.set(this.bytes + bytes);
  }

  /**
   * Holds exactly `bytes`, measured on what already exists (decoded tensors, an
   * encoded answer): never refused, since refusing cannot free them.
   */
  set(bytes: number): void {
    if (this.released) return;
    this.budget.adjust(bytes - this.bytes);
    this.bytes = bytes;
  }

  /** Gives everything back; idempotent. */
  release(): void {
    this.set(0);
    this.released = true;
  }
}

/**
 * Bytes the decoded tensors hold beyond `received`, the buffer they were read
 * from (already counted): tensors viewing it add nothing, decoded copies add
 * their size, strings their length and a header each.
 */
export function decodedTensorBytes(inputs: readonly InputTensor[], received: Uint8Array): number {
  let bytes = 0;
  for (const { data } of inputs) {
    if (Array.isArray(data)) {
      for (const s of data) bytes += s.length + STRING_HEADER_BYTES;
    } else if (data.buffer !== received.buffer) {
      bytes += data.byteLength;
    }
  }
  return bytes;
}

/** A V8 string's header and the array slot that points to it, rounded up. */
const STRING_HEADER_BYTES = 32;
