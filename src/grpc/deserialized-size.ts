/**
 * About how many bytes deserializing a ModelInferRequest allocates, read from its
 * wire format before any of it is built, so that the byte budget is asked first.
 * proto-loader builds two object trees (protobufjs's message, then the plain
 * object), and the adapter then copies typed contents into tensors. Measured on
 * Node 20, per byte of message: 16 for fp32_contents, 57 for bool_contents, 38
 * for 32-bit integers, up to 215 for 64-bit ones (a one-byte varint becomes a
 * Long, a decimal string and two array slots) and for shapes; raw_input_contents
 * are viewed in place. So each field is costed by what it holds, with a margin;
 * anything else, or a message cut short, at the worst rate.
 *
 * Those rates were measured on proto-loader's path. The hand-written decoder
 * (model-infer-message.ts, infer-request.ts) allocates far less: tensors of at
 * most 8 bytes per element, and an element takes at least one byte of message,
 * so at most 8 bytes a byte for typed contents, less for floats (1) and bools (1);
 * strings at most 2 bytes a byte and a header. The rates are kept (a bound
 * above what is allocated, checked in test/unit/grpc-infer-codec.test.ts) until
 * they are measured again on this path.
 */

/** Bytes allocated per byte of a field's payload, or the fields of a nested message. */
type FieldCost = number | MessageCosts;
interface MessageCosts {
  readonly [field: number]: FieldCost;
}

const WORST_PER_BYTE = 240;
/** Every field decoded is an object or a slot in two trees, at least. */
const PER_FIELD = 256;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

/** InferTensorContents, by field number (see protos/grpc_service.proto). */
const CONTENTS: MessageCosts = {
  1: 64, // bool
  2: 48, // int32
  3: WORST_PER_BYTE, // int64
  4: 48, // uint32
  5: WORST_PER_BYTE, // uint64
  6: 20, // fp32
  7: 12, // fp64
  8: 4, // bytes: each element is a field of its own, costed PER_FIELD
};

/** InferInputTensor: its contents as above; name, datatype, shape and parameters at the worst rate. */
const INPUT: MessageCosts = { 5: CONTENTS };

/** ModelInferRequest: inputs as above; raw_input_contents are viewed, not copied. */
const REQUEST: MessageCosts = { 5: INPUT, 7: 0 };

export function estimateDeserializedBytes(bytes: Uint8Array): number {
  return bytes.byteLength + costOf(new Cursor(bytes), bytes.byteLength, REQUEST);
}

/** The cost of the fields from the cursor up to `end`; what cannot be read (cut short, a group, an invalid wire type) at the worst rate. */
function costOf(cursor: Cursor, end: number, fields: MessageCosts): number {
  let cost = 0;
  while (cursor.at < end) {
    const tag = cursor.varint(end);
    const wireType = tag % 8;
    cost += PER_FIELD;
    if (wireType === WIRE_VARINT) {
      if (cursor.varint(end) < 0) break;
    } else if (wireType === WIRE_FIXED64 || wireType === WIRE_FIXED32) {
      const size = wireType === WIRE_FIXED64 ? 8 : 4;
      if (end - cursor.at < size) break;
      cursor.at += size;
    } else if (wireType === WIRE_LENGTH_DELIMITED) {
      const length = cursor.varint(end);
      if (length < 0 || length > end - cursor.at) break;
      const payloadEnd = cursor.at + length;
      const fieldCost = fields[Math.floor(tag / 8)] ?? WORST_PER_BYTE;
      cost += typeof fieldCost === 'number' ? length * fieldCost : costOf(cursor, payloadEnd, fieldCost);
      cursor.at = payloadEnd;
    } else {
      // A group (skipped by the decoder, with all it holds) or an invalid wire type (refused by it).
      break;
    }
  }
  return cost + (end - cursor.at) * WORST_PER_BYTE;
}

/** A position in the message; reads protobuf varints without allocating. */
class Cursor {
  at = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** A varint (up to 10 bytes; past 2^53 only as a size too large for any message) before `end`; -1, not moving, when cut short. */
  varint(end: number): number {
    let value = 0;
    let scale = 1;
    for (let i = this.at; i < end && i < this.at + 10; i++) {
      const byte = this.bytes[i]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.at = i + 1;
        return value;
      }
      scale *= 128;
    }
    return -1;
  }
}
