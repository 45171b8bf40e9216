import type { ErrorCode } from '../errors.js';

/** The one mapping from error codes to HTTP status lines. */
export const HTTP_STATUS: Record<ErrorCode, string> = {
  INVALID_ARGUMENT: '400 Bad Request',
  NOT_FOUND: '404 Not Found',
  PAYLOAD_TOO_LARGE: '413 Payload Too Large',
  MODEL_NOT_READY: '503 Service Unavailable',
  OVERLOADED: '503 Service Unavailable',
  DEADLINE_EXCEEDED: '504 Gateway Timeout',
  REQUEST_TIMEOUT: '408 Request Timeout',
  CANCELLED: '499 Client Closed Request',
  SHUTTING_DOWN: '503 Service Unavailable',
  UNAUTHENTICATED: '401 Unauthorized',
  FORBIDDEN: '403 Forbidden',
  CONFLICT: '409 Conflict',
  INTERNAL: '500 Internal Server Error',
};
