/**
 * Tensor `data` in JSON: row-major, flat or nested to the shape. Decoding counts
 * the elements before it allocates, so a declared shape can never size an
 * allocation that the body does not back with real elements. Integer elements
 * are exactly what the client wrote, or refused: never a rounded double.
 */
import { invalidArgument } from '../errors.js';
import type { DatatypeInfo, NumericArray, TensorData } from './datatypes.js';
import { integerOfLiteral, isShortInteger, type JsonRequestText } from './json-literals.js';

interface IntegerRange {
  readonly min: bigint;
  readonly max: bigint;
  /** The part of the range a parsed double can be trusted to hold exactly. */
  readonly exactMin: number;
  readonly exactMax: number;
}

const integerRange = (min: bigint, max: bigint): IntegerRange => ({
  min,
  max,
  exactMin: Math.max(Number(min), Number.MIN_SAFE_INTEGER),
  exactMax: Math.min(Number(max), Number.MAX_SAFE_INTEGER),
});

const INTEGER_RANGES: Record<string, IntegerRange> = {
  UINT8: integerRange(0n, 0xffn),
  UINT16: integerRange(0n, 0xffffn),
  UINT32: integerRange(0n, 0xffffffffn),
  UINT64: integerRange(0n, 2n ** 64n - 1n),
  INT8: integerRange(-0x80n, 0x7fn),
  INT16: integerRange(-0x8000n, 0x7fffn),
  INT32: integerRange(-0x80000000n, 0x7fffffffn),
  INT64: integerRange(-(2n ** 63n), 2n ** 63n - 1n),
};

/**
 * The integers of `info` that a double holds exactly and the decoder stores as
 * they are; undefined for a datatype whose JSON elements are no integers.
 */
export function exactIntegerRange(info: DatatypeInfo): { readonly exactMin: number; readonly exactMax: number } | undefined {
  return INTEGER_RANGES[info.name];
}

const describe = (value: unknown): string =>
  typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 32))}` : JSON.stringify(value) ?? String(value);

/** A literal as the client wrote it, cut short: it may be a megabyte of digits. */
const describeLiteral = (literal: string): string => (literal.length > 40 ? `${literal.slice(0, 40)}…` : literal);

/** Flattens `data` (flat, or nested exactly to `shape`) into a list of scalars. */
function flatten(data: unknown, shape: readonly number[], expectedCount: number, what: string): readonly unknown[] {
  if (!Array.isArray(data)) throw invalidArgument(`${what}: data must be an array`);
  const nested = data.length > 0 && Array.isArray(data[0]);
  if (!nested) {
    if (data.length !== expectedCount) {
      throw invalidArgument(
        `${what}: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${expectedCount}`,
      );
    }
    return data;
  }
  const flat: unknown[] = [];
  const walk = (node: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw invalidArgument(`${what}: data${path} is nested deeper than the shape`);
      flat.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw invalidArgument(
        `${what}: data${path} must be an array of ${shape[depth]} (shape [${shape.join(', ')}]), got ${
          Array.isArray(node) ? `${node.length} items` : describe(node)
        }`,
      );
    }
    for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${path}[${i}]`);
  };
  walk(data, 0, '');
  return flat;
}

function elementError(what: string, index: number, info: DatatypeInfo, value: unknown): Error {
  return invalidArgument(`${what}: data[${index}] must be ${expectation(info)}, got ${describe(value)}`);
}

function literalError(what: string, index: number, info: DatatypeInfo, literal: string): Error {
  return invalidArgument(`${what}: data[${index}] must be ${expectation(info)}, got ${describeLiteral(literal)}`);
}

function expectation(info: DatatypeInfo): string {
  switch (info.json) {
    case 'bool':
      return 'true or false';
    case 'float':
      return 'a number';
    case 'string':
      return 'a string';
    default: {
      const range = INTEGER_RANGES[info.name]!;
      return `an integer in [${range.min}, ${range.max}]`;
    }
  }
}

/**
 * Integer elements. Parsed doubles are taken as they are while they are exact
 * (json-literals.ts says when); from the first one that may not be, the rest
 * are read from the literals in the body. Without a body (gRPC typed contents,
 * exact by construction) a value outside the exact part is refused as it is.
 */
function decodeIntegers(
  info: DatatypeInfo,
  values: readonly unknown[],
  what: string,
  source: JsonRequestText | undefined,
  inputIndex: number,
): NumericArray {
  const range = INTEGER_RANGES[info.name]!;
  const { exactMin, exactMax } = range;
  const count = values.length;
  const out = new info.arrayType!(count);
  let i = 0;
  if (source === undefined || !source.mayHoldRoundedLiteral()) {
    if (info.json === 'bigint') {
      const big = out as BigInt64Array | BigUint64Array;
      for (; i < count; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < exactMin || v > exactMax) break;
        big[i] = BigInt(v);
      }
    } else {
      for (; i < count; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < exactMin || v > exactMax) break;
        out[i] = v;
      }
    }
  }
  if (i === count) return out;
  if (source === undefined || typeof values[i] !== 'number') throw elementError(what, i, info, values[i]);
  const literals = source.inputDataLiterals(inputIndex);
  const big = info.json === 'bigint' ? (out as BigInt64Array | BigUint64Array) : undefined;
  for (; i < count; i++) {
    const v = values[i];
    const literal = literals[i];
    if (typeof v !== 'number' || literal === undefined) throw elementError(what, i, info, v);
    if (isShortInteger(literal)) {
      if (v < exactMin || v > exactMax) throw literalError(what, i, info, literal);
      if (big) big[i] = BigInt(v);
      else out[i] = v;
      continue;
    }
    const exact = integerOfLiteral(literal);
    if (exact === undefined || exact < range.min || exact > range.max) throw literalError(what, i, info, literal);
    if (big) big[i] = exact;
    else out[i] = Number(exact);
  }
  return out;
}

export function decodeJsonData(
  info: DatatypeInfo,
  data: unknown,
  shape: readonly number[],
  expectedCount: number,
  what: string,
  /** The REST body `data` was parsed from, and its input's index there; absent for gRPC contents. */
  source?: JsonRequestText,
  inputIndex = -1,
): TensorData {
  if (info.json === 'binary-only') {
    throw invalidArgument(`${what}: ${info.name} data must be sent as binary (binary_data_size), not JSON`);
  }
  const values = flatten(data, shape, expectedCount, what);
  if (info.json === 'string') {
    for (let i = 0; i < values.length; i++) {
      if (typeof values[i] !== 'string') throw elementError(what, i, info, values[i]);
    }
    return values as string[];
  }
  if (info.json === 'integer' || info.json === 'bigint') return decodeIntegers(info, values, what, source, inputIndex);
  const out = new info.arrayType!(expectedCount);
  switch (info.json) {
    case 'float':
      for (let i = 0; i < expectedCount; i++) {
        const v = values[i];
        if (typeof v !== 'number') throw elementError(what, i, info, v);
        out[i] = v;
      }
      break;
    case 'bool':
      for (let i = 0; i < expectedCount; i++) {
        const v = values[i];
        if (typeof v !== 'boolean') throw elementError(what, i, info, v);
        out[i] = v ? 1 : 0;
      }
      break;
  }
  return out;
}

/** JSON text for a tensor's elements, flat. Integers of 64 bits are written exactly. */
export function encodeJsonData(datatype: DatatypeInfo, data: TensorData): string {
  if (Array.isArray(data)) return JSON.stringify(data);
  if (datatype.json === 'binary-only') {
    throw invalidArgument(`${datatype.name} outputs can only be returned as binary data`);
  }
  const n = data.length;
  if (n === 0) return '[]';
  if (datatype.json === 'bool') {
    let s = data[0] ? '[true' : '[false';
    for (let i = 1; i < n; i++) s += data[i] ? ',true' : ',false';
    return s + ']';
  }
  if (datatype.json === 'float') return encodeFloats(data as Float32Array | Float64Array);
  // A string built by += is a rope in V8: cheaper than join() for these sizes.
  let s = '[' + String(data[0]);
  for (let i = 1; i < n; i++) s += ',' + String(data[i]);
  return s + ']';
}

/** JSON has no NaN or Infinity; such values are written as null rather than as invalid JSON. */
function encodeFloats(data: Float32Array | Float64Array): string {
  let s = '[';
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    s += (i === 0 ? '' : ',') + (Number.isFinite(v) ? String(v) : 'null');
  }
  return s + ']';
}
