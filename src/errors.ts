/**
 * The one catalog of errors the server reports to clients. Every protocol adapter
 * maps these codes through its own status table (src/http/status.ts,
 * src/grpc/status.ts); a test fails when a code is missing from either.
 * Messages name the field, the limit and the value, and never carry file paths.
 */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'MODEL_NOT_READY',
  'OVERLOADED',
  'DEADLINE_EXCEEDED',
  'REQUEST_TIMEOUT',
  'CANCELLED',
  'SHUTTING_DOWN',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'CONFLICT',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An answer to a client, not a bug: made without a stack trace, which costs more
 * than the rest of refusing a request and says nothing a client needs. An
 * unexpected error wrapped into one keeps what was thrown in `cause`, for the log.
 */
export class ServingError extends Error {
  readonly code: ErrorCode;
  /** Seconds a client should wait before retrying; set for overload answers. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, retryAfterSeconds?: number, cause?: unknown) {
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, cause === undefined ? undefined : { cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
ServingError.prototype.name = 'ServingError';

export const invalidArgument = (message: string): ServingError =>
  new ServingError('INVALID_ARGUMENT', message);

export const notFound = (message: string): ServingError => new ServingError('NOT_FOUND', message);

/** Replaces file paths in a message (from ONNX Runtime, say) before it can reach a client. */
export const hidePaths = (message: string): string => message.replace(/(?:[A-Za-z]:)?[\\/][^\s'":]+/g, '<path>');

/** Wraps anything thrown into a ServingError without leaking internals to clients. */
export function toServingError(error: unknown): ServingError {
  if (error instanceof ServingError) return error;
  return new ServingError('INTERNAL', 'internal error', undefined, error);
}
