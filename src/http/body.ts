/**
 * Reads a request body under a size limit. uWS hands out chunks that are only
 * valid during the callback, so each is copied. A declared length over the limit
 * is refused before any byte is read; a chunked body is cut off the moment it
 * passes the limit, never buffered beyond it.
 */
import { ServingError, invalidArgument } from '../errors.js';
import type { HttpResponse } from './uws.js';

export function readBody(
  res: HttpResponse,
  contentLengthHeader: string,
  limit: number,
  onBody: (body: Buffer) => void,
  onError: (error: ServingError) => void,
): void {
  const tooLarge = (size: string): ServingError =>
    new ServingError('PAYLOAD_TOO_LARGE', `request body of ${size} bytes is over the limit of ${limit} bytes`);

  if (contentLengthHeader !== '') {
    if (!/^\d{1,15}$/.test(contentLengthHeader)) {
      onError(invalidArgument(`Content-Length ${JSON.stringify(contentLengthHeader.slice(0, 32))} is not a byte count`));
      return;
    }
    const length = Number(contentLengthHeader);
    if (length > limit) {
      onError(tooLarge(String(length)));
      return;
    }
    const body = Buffer.allocUnsafe(length);
    let received = 0;
    if (length === 0) {
      // uWS still delivers one empty last chunk; consume it.
      res.onData(() => undefined);
      onBody(body);
      return;
    }
    res.onData((chunk, isLast) => {
      if (received + chunk.byteLength > length) return;
      body.set(new Uint8Array(chunk), received);
      received += chunk.byteLength;
      if (isLast) {
        if (received === length) onBody(body);
        else onError(invalidArgument(`request body ended after ${received} of ${length} declared bytes`));
      }
    });
    return;
  }

  // No Content-Length: chunked transfer encoding, or no body at all.
  const chunks: Buffer[] = [];
  let received = 0;
  let failed = false;
  res.onData((chunk, isLast) => {
    if (failed) return;
    received += chunk.byteLength;
    if (received > limit) {
      failed = true;
      onError(tooLarge(`more than ${limit}`));
      return;
    }
    if (chunk.byteLength > 0) chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
    if (isLast) onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
  });
}
