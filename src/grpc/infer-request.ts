/**
 * A ModelInferRequest, read off the wire (model-infer-message.ts), into the internal
 * InferRequest: the same request the REST adapter builds, checked the same way,
 * with tensors decoded straight from the message's bytes. Raw contents are viewed
 * in place; typed contents are counted before their tensor is allocated, so a
 * declared shape never sizes an allocation the message does not back.
 */
import { invalidArgument } from '../errors.js';
import type { InferRequest, InputTensor, Parameters, ParameterValue, RequestedOutput } from '../types.js';
import { lookupDatatype, type DatatypeInfo, type NumericArray, type TensorData } from '../tensor/datatypes.js';
import { decodeRawTensor } from '../tensor/raw-tensor.js';
import { checkedElementCount, MAX_RANK } from '../tensor/shape.js';
import { CONTENT_FIELD } from './messages.js';
import { PATHS, type ModelInferMessage } from './model-infer-message.js';
import { FIXED64, LENGTH_DELIMITED, VARINT, WireReader } from './wire.js';

export interface GrpcCallContext {
  /** The largest message accepted; bounds every declared shape. */
  messageBytes: number;
  deadlineUs?: number | undefined;
  routingKey?: string | undefined;
  traceparent?: string | undefined;
}

const tagOf = (field: number, wireType: number): number => (field << 3) | wireType;

/** int64 bits as the decimal a client wrote, for messages. */
const signedDecimal = (low: number, high: number): string => BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low)).toString();
const unsignedDecimal = (low: number, high: number): string => ((BigInt(high) << 32n) | BigInt(low)).toString();

/** A parameter that cannot be taken; only reported if no later entry of the same name replaces it. */
class ParameterProblem {
  constructor(readonly message: string) {}
}

/** An InferParameter at [start, end): the field set last wins, as protobuf's oneof does. */
function parameterValue(r: WireReader, name: string, start: number, end: number): ParameterValue | ParameterProblem {
  r.pos = start;
  r.len = end;
  let value: ParameterValue | ParameterProblem | undefined;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.fieldTag(PATHS.parameterEntry);
    switch (tag) {
      case tagOf(1, VARINT):
        value = (r.varint('bool_param') | r.high) !== 0;
        break;
      case tagOf(2, VARINT): {
        const low = r.varint('int64_param');
        // Exact whenever the result is a safe integer: both terms are, and so is their sum.
        const number = (r.high | 0) * 2 ** 32 + low;
        value = Number.isSafeInteger(number) ? number : new ParameterProblem(`parameter ${name}: ${signedDecimal(low, r.high)} is too large`);
        break;
      }
      case tagOf(3, LENGTH_DELIMITED):
        value = r.text('string_param');
        break;
      case tagOf(4, FIXED64):
        value = r.buf.readDoubleLE(r.pos);
        r.pos += 8;
        break;
      case tagOf(5, VARINT): {
        const low = r.varint('uint64_param');
        const number = r.high * 2 ** 32 + low;
        value = Number.isSafeInteger(number) ? number : new ParameterProblem(`parameter ${name}: ${unsignedDecimal(low, r.high)} is too large`);
        break;
      }
      default:
        r.skipUnknown(tag, PATHS.parameterEntry, at);
    }
  }
  return value ?? new ParameterProblem(`parameter ${name} has no value`);
}

/** The name in the map entry at [start, end), and the range of its value in `r.pos` (start) and `r.len` (end); -1 for none. */
function readEntry(r: WireReader, start: number, end: number): string {
  r.pos = start;
  r.len = end;
  let name = '';
  let valueStart = -1;
  let valueEnd = -1;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.fieldTag(PATHS.parameterEntry);
    if (tag === tagOf(1, LENGTH_DELIMITED)) {
      name = r.text('parameter name');
    } else if (tag === tagOf(2, LENGTH_DELIMITED)) {
      valueEnd = r.lengthOf('parameter value');
      valueStart = r.pos;
      r.pos = valueEnd;
    } else {
      r.skipUnknown(tag, PATHS.parameterEntry, at);
    }
  }
  r.pos = valueStart;
  r.len = valueEnd;
  return name;
}

/**
 * A `map<string, InferParameter>` from its entries' ranges. As in a decoded map, a later
 * entry replaces an earlier one of the same name, and names keep their first place;
 * a problem is reported for the first name, in that order, whose value is refused.
 */
function toParameters(r: WireReader, entries: readonly number[] | undefined): Parameters {
  const out: Parameters = {};
  if (entries === undefined) return out;
  let problems: Map<string, string> | undefined;
  for (let i = 0; i < entries.length; i += 2) {
    const name = readEntry(r, entries[i]!, entries[i + 1]!);
    const value = r.pos < 0 ? new ParameterProblem(`parameter ${name} has no value`) : parameterValue(r, name, r.pos, r.len);
    if (value instanceof ParameterProblem) {
      (problems ??= new Map()).set(name, value.message);
    } else {
      problems?.delete(name);
      // A plain object cannot hold this name: it is checked, then dropped, as proto-loader's objects did.
      if (name !== '__proto__') out[name] = value;
    }
  }
  if (problems !== undefined && problems.size > 0) {
    // Names in the order a decoded map holds them (integer-like names first), __proto__ included.
    const order: Record<string, true> = Object.create(null) as Record<string, true>;
    for (let i = 0; i < entries.length; i += 2) order[readEntry(r, entries[i]!, entries[i + 1]!)] = true;
    for (const name of Object.keys(order)) {
      const problem = problems.get(name);
      if (problem !== undefined) throw invalidArgument(problem);
    }
  }
  return out;
}

/** Typed-contents field numbers (InferTensorContents), by datatype; FP16 and BF16 have none. */
const CONTENT_NUMBER: Readonly<Record<string, number>> = {
  BOOL: 1,
  INT8: 2,
  INT16: 2,
  INT32: 2,
  INT64: 3,
  UINT8: 4,
  UINT16: 4,
  UINT32: 4,
  UINT64: 5,
  FP32: 6,
  FP64: 7,
  BYTES: 8,
};

/** The integer datatypes narrower than their contents field (int32 or uint32), and their range. */
const NARROW_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
};

/** Elements of field `number` in the contents at [start, end), packed or not. */
function countContents(r: WireReader, start: number, end: number, number: number): number {
  r.pos = start;
  r.len = end;
  let count = 0;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.fieldTag(PATHS.contents);
    if (tag >>> 3 !== number) {
      r.skipUnknown(tag, PATHS.contents, at);
    } else if ((tag & 7) !== LENGTH_DELIMITED || number === 8) {
      count += 1;
      r.skipUnknown(tag, PATHS.contents, at);
    } else {
      const packedEnd = r.lengthOf(PATHS.contents);
      if (number === 6) count += (packedEnd - r.pos) / 4;
      else if (number === 7) count += (packedEnd - r.pos) / 8;
      // A varint's last byte is the one below 0x80.
      else for (let i = r.pos; i < packedEnd; i++) if (r.buf[i]! < 0x80) count += 1;
      r.pos = packedEnd;
    }
  }
  return count;
}

/**
 * Calls `element` at each element of field `number` in the contents at [start, end), in
 * order, with the reader at it: varints are read by the callee; a length-delimited
 * element ends at `elementEnd`, where the reader goes next.
 */
function eachContent(r: WireReader, start: number, end: number, number: number, element: (index: number, elementEnd: number) => void): void {
  r.pos = start;
  r.len = end;
  let index = 0;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.fieldTag(PATHS.contents);
    if (tag >>> 3 !== number) {
      r.skipUnknown(tag, PATHS.contents, at);
    } else if (tag === tagOf(8, LENGTH_DELIMITED)) {
      const elementEnd = r.lengthOf(PATHS.contents);
      element(index++, elementEnd);
      r.pos = elementEnd;
    } else if ((tag & 7) === LENGTH_DELIMITED) {
      const packedEnd = r.lengthOf(PATHS.contents);
      r.len = packedEnd;
      while (r.pos < packedEnd) element(index++, 0);
      r.len = end;
    } else {
      element(index++, 0);
    }
  }
}

/** fp32_contents or fp64_contents: little-endian IEEE 754 on the wire as in the tensor, so copied as they are, a packed run at a time. */
function copyFloats(r: WireReader, start: number, end: number, number: number, out: Float32Array | Float64Array): void {
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  const size = out.BYTES_PER_ELEMENT;
  let offset = 0;
  r.pos = start;
  r.len = end;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.fieldTag(PATHS.contents);
    if (tag >>> 3 !== number) {
      r.skipUnknown(tag, PATHS.contents, at);
      continue;
    }
    const runEnd = (tag & 7) === LENGTH_DELIMITED ? r.lengthOf(PATHS.contents) : r.pos + size;
    bytes.set(r.buf.subarray(r.pos, runEnd), offset);
    offset += runEnd - r.pos;
    r.pos = runEnd;
  }
}

/**
 * A tensor for `count` elements that decoding then fills, every one of them (its memory is not
 * cleared first): from Node's buffer pool when small, as in aligned().
 */
function newTensor(info: DatatypeInfo, count: number): NumericArray {
  const bytes = Buffer.allocUnsafe(count * info.byteSize);
  return new info.arrayType!(bytes.buffer, bytes.byteOffset, count);
}

/** Typed contents (`contents.<type>_contents`), checked like JSON data and decoded from the wire. */
function fromContents(r: WireReader, info: DatatypeInfo, start: number, end: number, shape: readonly number[], count: number, what: string): TensorData {
  const number = CONTENT_NUMBER[info.name];
  const field = CONTENT_FIELD[info.name];
  if (number === undefined || field === undefined) throw invalidArgument(`${what}: ${info.name} data must be sent in raw_input_contents`);
  const found = start < 0 ? 0 : countContents(r, start, end, number);
  if (found !== count) throw invalidArgument(`${what}: ${field} has ${found} elements but shape [${shape.join(', ')}] needs ${count}`);
  if (count === 0) return info.arrayType ? new info.arrayType(0) : [];
  switch (info.name) {
    case 'FP32':
    case 'FP64': {
      const out = newTensor(info, count) as Float32Array | Float64Array;
      copyFloats(r, start, end, number, out);
      return out;
    }
    case 'INT64':
    case 'UINT64': {
      // Each varint's 64 bits go into the tensor as they are (two little-endian words, as raw
      // contents are viewed too): exact, with no BigInt per element.
      const out = newTensor(info, count);
      const words = new Uint32Array(out.buffer, out.byteOffset, 2 * count);
      eachContent(r, start, end, number, (i) => {
        words[2 * i] = r.varint(field);
        words[2 * i + 1] = r.high;
      });
      return out;
    }
    case 'BOOL': {
      const out = newTensor(info, count);
      eachContent(r, start, end, number, (i) => (out[i] = (r.varint(field) | r.high) !== 0 ? 1 : 0));
      return out;
    }
    case 'BYTES': {
      const out: string[] = [];
      const buf = r.buf;
      eachContent(r, start, end, number, (_, elementEnd) => out.push(buf.toString('utf8', r.pos, elementEnd)));
      return out;
    }
    default: {
      const out = newTensor(info, count) as Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
      const signed = number === 2;
      const range = NARROW_RANGES[info.name];
      eachContent(r, start, end, number, (i) => {
        const low = r.varint(field);
        const value = signed ? low | 0 : low;
        if (range !== undefined && (value < range[0] || value > range[1])) {
          throw invalidArgument(`${what}: data[${i}] must be an integer in [${range[0]}, ${range[1]}], got ${value}`);
        }
        out[i] = value;
      });
      return out;
    }
  }
}

/** An input's fields as read, before they are checked. */
class InputFields {
  name = '';
  datatype = '';
  /** The first MAX_RANK dimensions. */
  shape: number[] = [];
  rank = 0;
  /** The first dimension that is negative or past 2^53 - 1, and its bits; -1 if none. */
  badDim = -1;
  badLow = 0;
  badHigh = 0;
  parameters: number[] | undefined = undefined;
  contentsStart = -1;
  contentsEnd = -1;

  reset(): this {
    this.name = '';
    this.datatype = '';
    this.shape = [];
    this.rank = 0;
    this.badDim = -1;
    this.badLow = 0;
    this.badHigh = 0;
    this.parameters = undefined;
    this.contentsStart = -1;
    this.contentsEnd = -1;
    return this;
  }

  dimension(low: number, high: number): void {
    // Past 2^53 - 1 (or negative) exactly when the high word is over 21 bits.
    if (high > 0x1fffff) {
      if (this.badDim < 0) {
        this.badDim = this.rank;
        this.badLow = low;
        this.badHigh = high;
      }
    } else if (this.rank < MAX_RANK) {
      this.shape.push(high * 2 ** 32 + low);
    }
    this.rank += 1;
  }
}

/** Reused for every input: decoding is synchronous, and only the shape outlives it. */
const scratch = new InputFields();

function readInput(r: WireReader, start: number, end: number): InputFields {
  const fields = scratch.reset();
  r.pos = start;
  r.len = end;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.fieldTag(PATHS.input);
    switch (tag) {
      case tagOf(1, LENGTH_DELIMITED):
        fields.name = r.text('inputs.name');
        break;
      case tagOf(2, LENGTH_DELIMITED):
        fields.datatype = r.text('inputs.datatype');
        break;
      case tagOf(3, VARINT):
        fields.dimension(r.varint('inputs.shape'), r.high);
        break;
      case tagOf(3, LENGTH_DELIMITED): {
        const packedEnd = r.lengthOf('inputs.shape');
        r.len = packedEnd;
        while (r.pos < packedEnd) fields.dimension(r.varint('inputs.shape'), r.high);
        r.len = end;
        break;
      }
      case tagOf(4, LENGTH_DELIMITED): {
        const entryEnd = r.lengthOf('inputs.parameters');
        (fields.parameters ??= []).push(r.pos, entryEnd);
        r.pos = entryEnd;
        break;
      }
      case tagOf(5, LENGTH_DELIMITED):
        // A message field sent twice: the last one is taken, as protobufjs does.
        fields.contentsEnd = r.lengthOf('inputs.contents');
        fields.contentsStart = r.pos;
        r.pos = fields.contentsEnd;
        break;
      default:
        r.skipUnknown(tag, PATHS.input, at);
    }
  }
  return fields;
}

/**
 * Raw contents placed where their datatype's typed array can view them. Most are not: they
 * sit wherever the client's encoder put them in the message. Those are copied once, into
 * Node's buffer pool when small (its slices are 8-byte aligned), because an ArrayBuffer of
 * their own costs more than the rest of decoding the message.
 */
function aligned(raw: Buffer, byteSize: number): Buffer {
  if (byteSize <= 1 || raw.byteOffset % byteSize === 0) return raw;
  const copy = Buffer.allocUnsafe(raw.byteLength);
  copy.set(raw);
  return copy;
}

function decodeInput(r: WireReader, start: number, end: number, index: number, raw: Buffer | undefined, maxElements: number): InputTensor {
  const { name, datatype, shape, rank, badDim, badLow, badHigh, parameters, contentsStart, contentsEnd } = readInput(r, start, end);
  if (!name) throw invalidArgument(`inputs[${index}].name must not be empty`);
  const what = `input ${name}`;
  const info = lookupDatatype(datatype);
  if (!info) throw invalidArgument(`${what}: unknown datatype ${JSON.stringify(datatype.slice(0, 32))}`);
  if (badDim >= 0) throw invalidArgument(`${what}: shape[${badDim}] must be a non-negative integer, got ${signedDecimal(badLow, badHigh)}`);
  if (rank > MAX_RANK) throw invalidArgument(`${what}: shape has ${rank} dimensions, more than ${MAX_RANK}`);
  const count = checkedElementCount(shape, what, maxElements);
  const data = raw !== undefined ? decodeRawTensor(info, aligned(raw, info.byteSize), count, shape, what) : fromContents(r, info, contentsStart, contentsEnd, shape, count, what);
  return { name, datatype: info.name, shape, data, parameters: toParameters(r, parameters) };
}

function requestedOutputs(r: WireReader, ranges: readonly number[]): RequestedOutput[] {
  const outputs: RequestedOutput[] = [];
  for (let i = 0; i < ranges.length; i += 2) {
    const end = ranges[i + 1]!;
    r.pos = ranges[i]!;
    r.len = end;
    let name = '';
    let parameters: number[] | undefined;
    while (r.pos < end) {
      const at = r.pos;
      const tag = r.fieldTag(PATHS.output);
      if (tag === tagOf(1, LENGTH_DELIMITED)) {
        name = r.text('outputs.name');
      } else if (tag === tagOf(2, LENGTH_DELIMITED)) {
        const entryEnd = r.lengthOf('outputs.parameters');
        (parameters ??= []).push(r.pos, entryEnd);
        r.pos = entryEnd;
      } else {
        r.skipUnknown(tag, PATHS.output, at);
      }
    }
    if (!name) throw invalidArgument(`outputs[${i / 2}].name must not be empty`);
    outputs.push({ name, parameters: toParameters(r, parameters) });
  }
  return outputs;
}

/**
 * The InferRequest a checked message says. Problems are reported in a fixed order: the
 * inputs and raw contents as a whole, requested outputs, request parameters, then each
 * input (name, datatype, shape, data, parameters).
 */
export function toInferRequest(message: ModelInferMessage, context: GrpcCallContext): InferRequest {
  const inputCount = message.inputs.length / 2;
  if (inputCount === 0) throw invalidArgument('inputs must not be empty');
  const raw = message.raw;
  if (raw !== undefined && raw.length !== inputCount) {
    throw invalidArgument(`raw_input_contents has ${raw.length} entries for ${inputCount} inputs; use raw contents for all inputs or for none`);
  }
  const r = message.reader;
  const outputs = message.outputs === undefined ? undefined : requestedOutputs(r, message.outputs);
  const parameters = toParameters(r, message.parameters);
  const maxElements = Math.max(context.messageBytes, 1);
  const inputs: InputTensor[] = [];
  for (let i = 0; i < inputCount; i++) {
    inputs.push(decodeInput(r, message.inputs[2 * i]!, message.inputs[2 * i + 1]!, i, raw?.[i], maxElements));
  }
  // Every field set, absent ones as undefined: one object shape for every request.
  return {
    modelName: message.modelName,
    modelVersion: message.modelVersion || undefined,
    id: message.id || undefined,
    parameters,
    inputs,
    outputs,
    protocol: 'grpc',
    cancellation: undefined,
    deadlineUs: context.deadlineUs,
    routingKey: context.routingKey || undefined,
    traceparent: context.traceparent || undefined,
    traceSpan: undefined,
    lowestPriority: undefined,
  };
}
