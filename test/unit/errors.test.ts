import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ServingError, toServingError } from '../../src/errors.js';
import { status } from '@grpc/grpc-js';
import { GRPC_STATUS } from '../../src/grpc/status.js';
import { HTTP_STATUS } from '../../src/http/status.js';

describe('error catalog', () => {
  it.each(ERROR_CODES)('%s has an HTTP status', (code) => {
    expect(HTTP_STATUS[code]).toMatch(/^[1-5]\d\d [A-Z]/);
  });

  it.each(ERROR_CODES)('%s has a gRPC status', (code) => {
    expect(Object.values(status)).toContain(GRPC_STATUS[code]);
    expect(GRPC_STATUS[code]).not.toBe(status.OK);
  });

  it('uses UNAVAILABLE for overload everywhere, RESOURCE_EXHAUSTED only for size', () => {
    expect(GRPC_STATUS.OVERLOADED).toBe(status.UNAVAILABLE);
    expect(GRPC_STATUS.MODEL_NOT_READY).toBe(status.UNAVAILABLE);
    expect(GRPC_STATUS.PAYLOAD_TOO_LARGE).toBe(status.RESOURCE_EXHAUSTED);
    expect(GRPC_STATUS.DEADLINE_EXCEEDED).toBe(status.DEADLINE_EXCEEDED);
  });

  it('maps client mistakes to 4xx and overload to 503', () => {
    expect(HTTP_STATUS.INVALID_ARGUMENT).toMatch(/^400/);
    expect(HTTP_STATUS.NOT_FOUND).toMatch(/^404/);
    expect(HTTP_STATUS.PAYLOAD_TOO_LARGE).toMatch(/^413/);
    expect(HTTP_STATUS.OVERLOADED).toMatch(/^503/);
  });

  it('never passes an unexpected error message to clients', () => {
    const wrapped = toServingError(new Error('ENOENT: /secret/path/model.onnx'));
    expect(wrapped.code).toBe('INTERNAL');
    expect(wrapped.message).not.toContain('/secret');
    const own = new ServingError('NOT_FOUND', 'unknown model');
    expect(toServingError(own)).toBe(own);
  });
});
