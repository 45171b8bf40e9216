/**
 * Reads a request body under a size limit and a time limit. uWS hands out
 * chunks that are only valid during the callback, so each is copied. A declared
 * length over the limit is refused before any byte is read; a chunked body is
 * cut off the moment it passes the limit, never buffered beyond it; a body that
 * does not arrive whole in time is refused (a client trickling bytes holds a
 * buffer and a connection).
 */
import { ServingError, invalidArgument, toServingError } from '../errors.js';
import type { BodyDeadline, BodyDeadlines } from './body-deadlines.js';
import type { HttpResponse } from './uws.js';

export function readBody(
  res: HttpResponse,
  contentLengthHeader: string,
  limit: number,
  onBody: (body: Buffer) => void,
  onError: (error: ServingError) => void,
  /** Watches the body's time limit; none for no limit. */
  deadlines?: BodyDeadlines,
  /**
   * Counts a chunked body's bytes as they arrive (a declared length is counted by
   * the caller before reading); throws, as ByteBudget reservations do, to refuse it.
   */
  holdChunk?: (bytes: number) => void,
): void {
  let done = false;
  let deadline: BodyDeadline | undefined;
  const finish = (body: Buffer): void => {
    if (done) return;
    done = true;
    if (deadline) deadlines!.forget(deadline);
    onBody(body);
  };
  const fail = (error: ServingError): void => {
    if (done) return;
    done = true;
    if (deadline) deadlines!.forget(deadline);
    onError(error);
  };
  const tooLarge = (size: string): ServingError =>
    new ServingError('PAYLOAD_TOO_LARGE', `request body of ${size} bytes is over the limit of ${limit} bytes`);

  if (contentLengthHeader !== '') {
    if (!/^\d{1,15}$/.test(contentLengthHeader)) {
      fail(invalidArgument(`Content-Length ${JSON.stringify(contentLengthHeader.slice(0, 32))} is not a byte count`));
      return;
    }
    const length = Number(contentLengthHeader);
    if (length > limit) {
      fail(tooLarge(String(length)));
      return;
    }
    const body = Buffer.allocUnsafe(length);
    let received = 0;
    // uWS still delivers one empty last chunk for an empty body; consume it.
    res.onData((chunk, isLast) => {
      if (done || received + chunk.byteLength > length) return;
      body.set(new Uint8Array(chunk), received);
      received += chunk.byteLength;
      if (isLast) {
        if (received === length) finish(body);
        else fail(invalidArgument(`request body ended after ${received} of ${length} declared bytes`));
      }
    });
    if (length === 0) finish(body);
  } else {
    // No Content-Length: chunked transfer encoding, or no body at all.
    const chunks: Buffer[] = [];
    let received = 0;
    res.onData((chunk, isLast) => {
      if (done) return;
      received += chunk.byteLength;
      if (received > limit) {
        fail(tooLarge(`more than ${limit}`));
        return;
      }
      try {
        holdChunk?.(chunk.byteLength);
      } catch (error) {
        fail(toServingError(error));
        return;
      }
      if (chunk.byteLength > 0) chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      if (isLast) finish(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    });
  }
  if (!done && deadlines) {
    deadline = deadlines.watch(() => fail(new ServingError('REQUEST_TIMEOUT', `the request body did not arrive within ${deadlines.timeoutMs} ms`)));
  }
}
