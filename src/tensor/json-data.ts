/**
 * Tensor `data` in JSON: row-major, flat or nested to the shape. Decoding counts
 * the elements before it allocates, so a declared shape can never size an
 * allocation that the body does not back with real elements.
 */
import { invalidArgument } from '../errors.js';
import type { DatatypeInfo, TensorData } from './datatypes.js';

const INTEGER_RANGES: Record<string, readonly [number, number]> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
};

const describe = (value: unknown): string =>
  typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 32))}` : JSON.stringify(value) ?? String(value);

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

function expectation(info: DatatypeInfo): string {
  switch (info.json) {
    case 'bool':
      return 'true or false';
    case 'float':
      return 'a number';
    case 'string':
      return 'a string';
    default: {
      const range = INTEGER_RANGES[info.name];
      return range ? `an integer in [${range[0]}, ${range[1]}]` : `an integer (${info.name})`;
    }
  }
}

export function decodeJsonData(
  info: DatatypeInfo,
  data: unknown,
  shape: readonly number[],
  expectedCount: number,
  what: string,
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
    case 'integer': {
      const [min, max] = INTEGER_RANGES[info.name]!;
      for (let i = 0; i < expectedCount; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw elementError(what, i, info, v);
        out[i] = v;
      }
      break;
    }
    case 'bigint': {
      const unsigned = info.name === 'UINT64';
      const big = out as BigInt64Array | BigUint64Array;
      for (let i = 0; i < expectedCount; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || (unsigned && v < 0)) throw elementError(what, i, info, v);
        big[i] = BigInt(v);
      }
      break;
    }
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
