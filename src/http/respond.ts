/**
 * Writing responses on uWebSockets.js. A response may be written only while the
 * client is connected, inside cork() when it happens after an await, and large
 * bodies go out at the pace the client reads (tryEnd + onWritable) rather than
 * piling up in memory. A response is finished when its last byte is handed to
 * uWS or its client went: only then is what it holds given back (onFinish).
 */
import { ServingError, toServingError } from '../errors.js';
import type { HttpResponse } from './uws.js';
import { HTTP_STATUS } from './status.js';

/** Per-response state that uWS lets us keep on the response object. */
export interface ResponseState {
  /** True once the client went away or the response was ended: nothing more may be written. */
  finished: boolean;
  /** The server's view of its responses, for closing connections at shutdown (see connection-drain.ts). */
  tracker?: ResponseTracker;
  /** Called once with finish(): gives back what the response held (its bytes in the budget). */
  onFinish?: () => void;
}

export interface ResponseTracker {
  /** True once the server is closing: every response then closes its connection. */
  readonly closing: boolean;
  /** Called once per response, when it ended or its client went. */
  finished(): void;
}

/** Nothing more may be written: the response ended or its client went. */
export function finish(state: ResponseState): void {
  if (state.finished) return;
  state.finished = true;
  state.tracker?.finished();
  state.onFinish?.();
}

export type Header = readonly [name: string, value: string];

const JSON_TYPE = 'application/json';
const OK_STATUS = '200 OK';

/** Bodies up to this size are handed to uWS in one go; larger ones are streamed with backpressure. */
const DIRECT_WRITE_LIMIT = 256 * 1024;

export function send(
  res: HttpResponse,
  state: ResponseState,
  status: string,
  body: string | Uint8Array,
  contentType = JSON_TYPE,
  headers: readonly Header[] = [],
  closeConnection = false,
): void {
  if (state.finished) return;
  const close = closeConnection || state.tracker?.closing === true;
  res.cork(() => {
    // uWS writes 200 OK itself when no status is written.
    if (status !== OK_STATUS) res.writeStatus(status);
    if (body.length > 0 || contentType !== JSON_TYPE) res.writeHeader('Content-Type', contentType);
    for (const [name, value] of headers) res.writeHeader(name, value);
    // uWS takes strings as they are; the length check is in UTF-16 units, close enough for a threshold.
    // Only end() can close the connection (tryEnd ignores closeConnection in this uWS build), so a
    // closing answer goes whole: uWS buffers what the socket cannot take and closes once it drained.
    if (body.length <= DIRECT_WRITE_LIMIT || close) {
      res.end(body, close);
      finish(state);
      return;
    }
    streamBody(res, state, typeof body === 'string' ? Buffer.from(body) : body);
  });
}

function streamBody(res: HttpResponse, state: ResponseState, payload: Uint8Array): void {
  const total = payload.byteLength;
  const start = res.getWriteOffset();
  const [, done] = res.tryEnd(payload, total);
  if (done) {
    finish(state);
    return;
  }
  res.onWritable((offset) => {
    const [ok, done] = res.tryEnd(payload.subarray(offset - start), total);
    if (done) finish(state);
    return ok;
  });
}

export function sendJson(res: HttpResponse, state: ResponseState, status: string, value: unknown, headers?: readonly Header[]): void {
  send(res, state, status, JSON.stringify(value), JSON_TYPE, headers);
}

export function sendError(res: HttpResponse, state: ResponseState, error: unknown, closeConnection = false): void {
  const serving: ServingError = toServingError(error);
  const headers: Header[] =
    serving.retryAfterSeconds !== undefined ? [['Retry-After', String(serving.retryAfterSeconds)]] : [];
  send(res, state, HTTP_STATUS[serving.code], JSON.stringify({ error: serving.message }), JSON_TYPE, headers, closeConnection);
}
