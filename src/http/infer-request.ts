/**
 * REST inference requests (JSON, optionally followed by binary tensor data) into
 * the internal InferRequest. Every size is checked against what the body really
 * holds before anything is allocated for it.
 */
import { invalidArgument } from '../errors.js';
import type { InferRequest, InputTensor, Parameters, ParameterValue, RequestedOutput } from '../types.js';
import { lookupDatatype, type TensorData } from '../tensor/datatypes.js';
import { decodeJsonData } from '../tensor/json-data.js';
import { JsonRequestText } from '../tensor/json-literals.js';
import { decodeRawTensor } from '../tensor/raw-tensor.js';
import { checkedElementCount } from '../tensor/shape.js';
import { decodeCommonJsonRequest } from './fast-infer-json.js';
import { inputTensor, requestedOutput, restInferRequest, type RestInferTarget } from './rest-infer-request.js';

export type { RestInferTarget };

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseParameters(raw: unknown, what: string): Parameters {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw invalidArgument(`${what} must be an object`);
  for (const [key, value] of Object.entries(raw)) {
    const type = typeof value;
    if (type !== 'string' && type !== 'number' && type !== 'boolean') {
      throw invalidArgument(`${what}.${key} must be a string, number or boolean`);
    }
  }
  return raw as Record<string, ParameterValue>;
}

function splitBody(body: Buffer, headerLength: string): { json: Buffer; binary: Buffer } {
  if (headerLength === '') return { json: body, binary: body.subarray(body.length) };
  if (!/^\d{1,15}$/.test(headerLength)) {
    throw invalidArgument(`Inference-Header-Content-Length ${JSON.stringify(headerLength.slice(0, 32))} is not a byte count`);
  }
  const length = Number(headerLength);
  if (length > body.length) {
    throw invalidArgument(`Inference-Header-Content-Length ${length} is larger than the ${body.length}-byte body`);
  }
  return { json: body.subarray(0, length), binary: body.subarray(length) };
}

/**
 * V8's JSON parser is iterative, so no depth of nesting can overflow the stack
 * here, and the body limit bounds its memory. Every later walk of client data is
 * bounded by a tensor's rank (MAX_RANK); nesting beyond a tensor's shape is refused.
 */
function parseJson(text: string): JsonObject {
  if (text.length === 0) throw invalidArgument('request body is empty; expected a JSON inference request');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalidArgument(`request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isObject(parsed)) throw invalidArgument('request body must be a JSON object');
  return parsed;
}

class BinaryCursor {
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}

  take(size: number, what: string): Buffer {
    const remaining = this.bytes.length - this.offset;
    if (size > remaining) {
      throw invalidArgument(`${what}: binary_data_size ${size} runs past the binary data (${remaining} bytes remain)`);
    }
    const part = this.bytes.subarray(this.offset, this.offset + size);
    this.offset += size;
    return part;
  }

  checkConsumed(): void {
    const extra = this.bytes.length - this.offset;
    if (extra > 0) throw invalidArgument(`the body has ${extra} bytes of binary data that no input claims`);
  }
}

function decodeInput(raw: unknown, index: number, cursor: BinaryCursor, maxElements: number, text: JsonRequestText): InputTensor {
  const where = `inputs[${index}]`;
  if (!isObject(raw)) throw invalidArgument(`${where} must be an object`);
  const { name, datatype, shape, data } = raw;
  if (typeof name !== 'string' || name === '') throw invalidArgument(`${where}.name must be a non-empty string`);
  const what = `input ${name}`;
  if (typeof datatype !== 'string') throw invalidArgument(`${what}: datatype must be a string`);
  const info = lookupDatatype(datatype);
  if (!info) throw invalidArgument(`${what}: unknown datatype ${JSON.stringify(datatype.slice(0, 32))}`);
  const count = checkedElementCount(shape, what, maxElements);
  const parameters = parseParameters(raw['parameters'], `${what}: parameters`);
  const binarySize = parameters['binary_data_size'];
  let tensorData: TensorData;
  if (binarySize !== undefined) {
    if (data !== undefined) throw invalidArgument(`${what}: has both data and binary_data_size`);
    if (typeof binarySize !== 'number' || !Number.isInteger(binarySize) || binarySize < 0) {
      throw invalidArgument(`${what}: binary_data_size must be a non-negative integer`);
    }
    // Checked before taking the bytes, so a wrong size is named as such rather than as a short body.
    if (info.byteSize > 0 && binarySize !== count * info.byteSize) {
      throw invalidArgument(
        `${what}: binary_data_size ${binarySize} does not match shape [${(shape as number[]).join(', ')}] of ${datatype} (${count * info.byteSize} bytes)`,
      );
    }
    tensorData = decodeRawTensor(info, cursor.take(binarySize, what), count, shape as number[], what);
  } else {
    if (data === undefined) throw invalidArgument(`${what}: has neither data nor binary_data_size`);
    tensorData = decodeJsonData(info, data, shape as number[], count, what, text, index);
  }
  return inputTensor(name, info.name, shape as number[], tensorData, parameters);
}

function decodeOutputs(raw: unknown): RequestedOutput[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw invalidArgument('outputs must be an array');
  return raw.map((o, i) => {
    if (!isObject(o) || typeof o['name'] !== 'string' || o['name'] === '') {
      throw invalidArgument(`outputs[${i}] must be an object with a non-empty name`);
    }
    return requestedOutput(o['name'], parseParameters(o['parameters'], `outputs[${i}].parameters`));
  });
}

/** What decoding may allocate per JSON value, and per array or object besides (measured on V8, see below). */
const DECODED_BYTES_PER_VALUE = 40;
const DECODED_BYTES_PER_CONTAINER = 96;
/** The most one byte of JSON text can cost by that count: a non-ASCII text whose every byte opens an array. */
const MOST_DECODED_BYTES_PER_BYTE = 3 + DECODED_BYTES_PER_VALUE + DECODED_BYTES_PER_CONTAINER;
/** Per byte value: its share of the count below (a comma is a value, a bracket a value and a container). */
const BYTE_COST = new Uint8Array(256);
BYTE_COST[0x2c] = DECODED_BYTES_PER_VALUE;
BYTE_COST[0x5b] = DECODED_BYTES_PER_VALUE + DECODED_BYTES_PER_CONTAINER;
BYTE_COST[0x7b] = DECODED_BYTES_PER_VALUE + DECODED_BYTES_PER_CONTAINER;

/**
 * About how many bytes decoding `body` allocates at its peak beyond the body itself:
 * the text as a string, the tree JSON.parse builds and the tensors copied out of it.
 * Binary tensor data is viewed in place and adds nothing. Measured on V8 (Node 20),
 * the peak per body byte runs from 2.5 (long floats) to 10 (`1,` as INT64) and 40
 * (`[1],` rows: two arrays and a flattened copy per element), so no constant factor
 * fits; per value (a comma or an opening bracket) it stays under 40 bytes, per array
 * or object under 96 more, and the strings under twice the text (three times with
 * any non-ASCII byte, which makes the string two bytes a character).
 *
 * The fast path for the common request (fast-infer-json.ts) allocates less: no
 * tree, only the typed arrays (at most 8 bytes per element, and each element
 * takes a value's share) and the strings; what it built before declining is
 * garbage by the time the general decoder allocates. So the estimate holds for
 * both.
 *
 * The count takes a pass over the JSON part (about 2 ns a byte, a fifth of decoding
 * it), so it is made only when needed: while the budget has `room` for the most the
 * text could cost, that bound is the answer. It is held only while the body is
 * decoded, in one synchronous step, so no other request ever sees it.
 */
export function estimateDecodedBytes(body: Buffer, headerLength: string, room = Infinity): number {
  const declared = /^\d{1,15}$/.test(headerLength) ? Number(headerLength) : body.length;
  const jsonLength = Math.min(declared, body.length);
  const bound = MOST_DECODED_BYTES_PER_BYTE * jsonLength + DECODED_BYTES_PER_VALUE;
  if (bound <= room) return bound;
  let cost = DECODED_BYTES_PER_VALUE;
  let seen = 0;
  for (let i = 0; i < jsonLength; i++) {
    const c = body[i]!;
    cost += BYTE_COST[c]!;
    seen |= c;
  }
  return (seen > 0x7f ? 3 : 2) * jsonLength + cost;
}

/**
 * The common JSON request is read by the fast path (fast-infer-json.ts), which
 * decodes it to exactly what the general decoder would; anything else it declines,
 * and the general decoder reads it (and words its refusal).
 */
export function decodeInferRequest(body: Buffer, target: RestInferTarget): InferRequest {
  return decodeCommonJsonRequest(body, target) ?? decodeGeneralInferRequest(body, target);
}

/** Any request, through JSON.parse. Exported for tests and benchmarks that compare it with the fast path. */
export function decodeGeneralInferRequest(body: Buffer, target: RestInferTarget): InferRequest {
  const { json, binary } = splitBody(body, target.headerLength);
  // Integer data is read exactly from this text when a parsed double may have rounded it.
  const text = new JsonRequestText(json.toString('utf8'));
  const parsed = parseJson(text.text);
  const id = parsed['id'];
  if (id !== undefined && typeof id !== 'string') throw invalidArgument('id must be a string');
  const rawInputs = parsed['inputs'];
  if (!Array.isArray(rawInputs) || rawInputs.length === 0) throw invalidArgument('inputs must be a non-empty array');
  const cursor = new BinaryCursor(binary);
  // Every element needs at least one byte of body, so the body's size bounds any shape.
  const maxElements = Math.max(body.length, 1);
  const inputs = rawInputs.map((raw, i) => decodeInput(raw, i, cursor, maxElements, text));
  cursor.checkConsumed();
  const outputs = decodeOutputs(parsed['outputs']);
  return restInferRequest(target, id as string | undefined, parseParameters(parsed['parameters'], 'parameters'), inputs, outputs);
}

