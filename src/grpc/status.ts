import { status } from '@grpc/grpc-js';
import type { ErrorCode } from '../errors.js';

/**
 * The one mapping from error codes to gRPC status codes. Overload and
 * not-ready are UNAVAILABLE (never RESOURCE_EXHAUSTED, which is kept for
 * messages over the size limit), so clients retry them the same way.
 */
export const GRPC_STATUS: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  PAYLOAD_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  MODEL_NOT_READY: status.UNAVAILABLE,
  OVERLOADED: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  REQUEST_TIMEOUT: status.DEADLINE_EXCEEDED,
  CANCELLED: status.CANCELLED,
  SHUTTING_DOWN: status.UNAVAILABLE,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  FORBIDDEN: status.PERMISSION_DENIED,
  CONFLICT: status.ABORTED,
  INTERNAL: status.INTERNAL,
};
