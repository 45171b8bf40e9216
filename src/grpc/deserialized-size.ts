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
  return bytes.byteLength + costOf(new WireReader(bytes, 0, bytes.byteLength), REQUEST);
}

function costOf(reader: WireReader, fields: MessageCosts): number {
  let cost = 0;
  while (!reader.done) {
    const tag = reader.varint();
    const wireType = tag % 8;
    cost += PER_FIELD;
    if (wireType === WIRE_VARINT) {
      reader.varint();
    } else if (wireType === WIRE_FIXED64 || wireType === WIRE_FIXED32) {
      reader.skip(wireType === WIRE_FIXED64 ? 8 : 4);
    } else if (wireType === WIRE_LENGTH_DELIMITED) {
      const payload = reader.take(reader.varint());
      if (!payload) break;
      const fieldCost = fields[Math.floor(tag / 8)] ?? WORST_PER_BYTE;
      cost += typeof fieldCost === 'number' ? payload.length * fieldCost : costOf(payload, fieldCost);
    } else {
      // Groups and unknown wire types: the deserializer will refuse the message.
      break;
    }
    if (reader.broken) break;
  }
  // What could not be read is costed at the worst rate.
  return cost + reader.left * WORST_PER_BYTE;
}

/** Reads protobuf wire format without allocating for it; a message cut short is `broken`. */
class WireReader {
  broken = false;

  constructor(
    private readonly bytes: Uint8Array,
    private at: number,
    private readonly end: number,
  ) {}

  get done(): boolean {
    return this.broken || this.at >= this.end;
  }

  get length(): number {
    return this.end - this.at;
  }

  /** Bytes not read: all that was left when the message broke off. */
  get left(): number {
    return this.broken ? this.end - this.at : 0;
  }

  /** A varint (up to 10 bytes; past 2^53 only as a size too large for any message); -1 when cut short. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = this.at; i < this.end && i < this.at + 10; i++) {
      const byte = this.bytes[i]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.at = i + 1;
        return value;
      }
      scale *= 128;
    }
    this.broken = true;
    return -1;
  }

  skip(count: number): void {
    if (this.at + count > this.end) this.broken = true;
    else this.at += count;
  }

  /** A reader of the next `count` bytes, which this one then skips; undefined when they are not all there. */
  take(count: number): WireReader | undefined {
    if (count < 0 || this.at + count > this.end) {
      this.broken = true;
      return undefined;
    }
    const payload = new WireReader(this.bytes, this.at, this.at + count);
    this.at += count;
    return payload;
  }
}
