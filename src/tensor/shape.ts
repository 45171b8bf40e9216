import { invalidArgument } from '../errors.js';

/** More dimensions than any model has; it bounds every walk over nested tensor data. */
export const MAX_RANK = 32;

/**
 * Checks a client-supplied shape and returns its element count. Every dimension
 * must be a non-negative integer, and the product must stay within `maxElements`
 * so that no later allocation can be sized by a hostile shape.
 */
export function checkedElementCount(shape: unknown, what: string, maxElements: number): number {
  if (!Array.isArray(shape)) throw invalidArgument(`${what}: shape must be an array of integers`);
  if (shape.length > MAX_RANK) throw invalidArgument(`${what}: shape has ${shape.length} dimensions, more than ${MAX_RANK}`);
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    const dim: unknown = shape[i];
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 0) {
      throw invalidArgument(`${what}: shape[${i}] must be a non-negative integer, got ${JSON.stringify(dim)}`);
    }
    count *= dim;
    if (count > maxElements) {
      throw invalidArgument(`${what}: shape [${shape.join(', ')}] declares more elements than the request can hold (at most ${maxElements})`);
    }
  }
  return count;
}

/** Element count of a shape already known to be valid. */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

export const formatShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
