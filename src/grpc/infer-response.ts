/**
 * The internal InferResponse written straight into ModelInferResponse wire bytes with
 * protobufjs's Writer, into one buffer sized up front for the longest encoding: no
 * plain object, no protobufjs message, one copy of each output. Outputs go back in
 * raw_output_contents, which is what tritonclient expects. Field numbers are those
 * of protos/grpc_service.proto.
 */
import protobuf from 'protobufjs/minimal.js';
import { encodeBytesElements } from '../tensor/bytes-elements.js';
import type { TensorData } from '../tensor/datatypes.js';
import type { InferResponse } from '../types.js';

const MODEL_NAME = (1 << 3) | 2;
const MODEL_VERSION = (2 << 3) | 2;
const ID = (3 << 3) | 2;
const OUTPUTS = (5 << 3) | 2;
const RAW_OUTPUT_CONTENTS = (6 << 3) | 2;
const OUTPUT_NAME = (1 << 3) | 2;
const OUTPUT_DATATYPE = (2 << 3) | 2;
const OUTPUT_SHAPE = (3 << 3) | 2;
const STREAM_ERROR_MESSAGE = (1 << 3) | 2;
const STREAM_INFER_RESPONSE = (2 << 3) | 2;

/** A tag and the longest length prefix (5 bytes) the Writer may leave before a field. */
const FIELD_HEAD = 6;
/** At most 3 bytes of UTF-8 for each UTF-16 unit. */
const textBound = (text: string): number => FIELD_HEAD + 3 * text.length;

/** Each output's bytes as they go on the wire: numeric tensors viewed, BYTES encoded. */
const wireBytes = (data: TensorData): Uint8Array =>
  Array.isArray(data) ? encodeBytesElements(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/**
 * One Writer for every response (encoding is synchronous): each response gets a buffer of
 * its own, and the Writer lets go of it once written.
 */
const writer = protobuf.Writer.create();
const NO_BUFFER = Buffer.alloc(0);

/** Writes the response from `headroom` on, into a buffer the size of its largest encoding. */
function write(response: InferResponse, headroom: number): protobuf.Writer {
  const outputs = response.outputs;
  const raws: Uint8Array[] = [];
  let bound = headroom + textBound(response.modelName) + textBound(response.modelVersion) + textBound(response.id ?? '');
  for (const output of outputs) {
    const raw = wireBytes(output.data);
    raws.push(raw);
    bound += 2 * FIELD_HEAD + textBound(output.name) + textBound(output.datatype) + FIELD_HEAD + 10 * output.shape.length;
    bound += FIELD_HEAD + raw.byteLength;
  }
  const w = writer;
  w.buf = Buffer.allocUnsafe(bound);
  w.pos = headroom;
  if (w.states) w.states.length = 0;
  w.uint32(MODEL_NAME).string(response.modelName);
  if (response.modelVersion) w.uint32(MODEL_VERSION).string(response.modelVersion);
  if (response.id) w.uint32(ID).string(response.id);
  for (const output of outputs) {
    w.uint32(OUTPUTS).fork();
    w.uint32(OUTPUT_NAME).string(output.name);
    w.uint32(OUTPUT_DATATYPE).string(output.datatype);
    if (output.shape.length > 0) {
      w.uint32(OUTPUT_SHAPE).fork();
      // Dimensions are non-negative: below 2^32 their int64 varint is their uint32 one.
      for (const dim of output.shape) {
        if (dim <= 0xffffffff) w.uint32(dim);
        else w.uint64(dim);
      }
      w.ldelim();
    }
    w.ldelim();
  }
  for (const raw of raws) w.uint32(RAW_OUTPUT_CONTENTS).bytes(raw);
  return w;
}

/** The written bytes from `start`, and the Writer let go of them. */
function take(start: number): Buffer {
  const bytes = (writer.buf as Buffer).subarray(start, writer.pos);
  writer.buf = NO_BUFFER;
  return bytes;
}

/** A ModelInferResponse message. */
export function encodeInferResponse(response: InferResponse): Buffer {
  write(response, 0);
  return take(0);
}

/** Bytes of a varint. */
const varintSize = (value: number): number => (value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5);

/**
 * A ModelStreamInferResponse holding a response. The response is written first, after
 * room for the tag and length that then go right before it: nothing is moved.
 */
export function encodeStreamInferResponse(response: InferResponse): Buffer {
  const w = write(response, FIELD_HEAD);
  const length = w.pos - FIELD_HEAD;
  const start = FIELD_HEAD - 1 - varintSize(length);
  const buf = w.buf;
  buf[start] = STREAM_INFER_RESPONSE;
  let at = start + 1;
  let rest = length;
  while (rest >= 0x80) {
    buf[at++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  buf[at] = rest;
  return take(start);
}

/** A ModelStreamInferResponse for a refused request: the error, and a response holding only the request's id. */
export function encodeStreamError(message: string, id: string): Buffer {
  const w = protobuf.Writer.create();
  w.uint32(STREAM_ERROR_MESSAGE).string(message);
  // Present even when empty, so that clients find infer_response set, with its id.
  w.uint32(STREAM_INFER_RESPONSE).fork();
  if (id) w.uint32(ID).string(id);
  w.ldelim();
  return w.finish() as Buffer;
}
