/**
 * Protobuf wire format taken apart and put back together, for tests that send
 * valid messages encoded the ways other encoders may choose: fields in another
 * order, repeated scalars unpacked or packed in several runs, unknown fields
 * (groups too) anywhere. Built on protobufjs's Reader, not on the server's own.
 */
import protobuf from 'protobufjs/minimal.js';

export interface WireField {
  number: number;
  wireType: number;
  /** The value's bytes: a varint's, a fixed value's, a length-delimited payload without its length, a group's inside. */
  value: Buffer;
}

const varintBytes = (value: bigint): Buffer => {
  const out: number[] = [];
  let rest = BigInt.asUintN(64, value);
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return Buffer.from(out);
};

export function parseFields(bytes: Uint8Array): WireField[] {
  const r = protobuf.Reader.create(Buffer.from(bytes));
  const fields: WireField[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const number = tag >>> 3;
    const wireType = tag & 7;
    const start = r.pos;
    let valueStart = start;
    let valueEnd: number;
    if (wireType === 2) {
      const length = r.uint32();
      valueStart = r.pos;
      r.skip(length);
      valueEnd = r.pos;
    } else if (wireType === 3) {
      r.skipType(3, 0, number);
      // The group's inside, without its end tag.
      valueEnd = r.pos - varintBytes(BigInt((number << 3) | 4)).length;
    } else {
      r.skipType(wireType);
      valueEnd = r.pos;
    }
    fields.push({ number, wireType, value: Buffer.from(r.buf.subarray(valueStart, valueEnd)) });
  }
  return fields;
}

export function emitFields(fields: readonly WireField[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    parts.push(varintBytes(BigInt(f.number * 8 + f.wireType)));
    if (f.wireType === 2) parts.push(varintBytes(BigInt(f.value.length)));
    parts.push(f.value);
    if (f.wireType === 3) parts.push(varintBytes(BigInt(f.number * 8 + 4)));
  }
  return Buffer.concat(parts);
}

/** A field of the given number holding a nested message. */
export const messageField = (number: number, fields: readonly WireField[]): WireField => ({ number, wireType: 2, value: emitFields(fields) });

/** The elements of a packed run, each as the bytes of its own unpacked field. */
export function unpack(field: WireField, elementWireType: 0 | 1 | 5): WireField[] {
  const out: WireField[] = [];
  const bytes = field.value;
  let at = 0;
  while (at < bytes.length) {
    let end = at;
    if (elementWireType === 0) {
      while (bytes[end]! >= 0x80) end++;
      end++;
    } else {
      end = at + (elementWireType === 1 ? 8 : 4);
    }
    out.push({ number: field.number, wireType: elementWireType, value: bytes.subarray(at, end) });
    at = end;
  }
  return out;
}

/** A packed run split in two runs at element `index` (elements as unpack gives them). */
export function splitPacked(field: WireField, elementWireType: 0 | 1 | 5, index: number): WireField[] {
  const elements = unpack(field, elementWireType);
  const cut = Math.min(index, elements.length);
  const run = (list: WireField[]): WireField => ({ number: field.number, wireType: 2, value: Buffer.concat(list.map((e) => e.value)) });
  return [run(elements.slice(0, cut)), run(elements.slice(cut))];
}

/** An unknown field: any wire type, a group holding more unknown fields. */
export function unknownField(number: number, kind: number, payload: Buffer): WireField {
  switch (kind % 5) {
    case 0:
      return { number, wireType: 0, value: varintBytes(payload.length ? BigInt(`0x${payload.subarray(0, 8).toString('hex')}`) : 0n) };
    case 1:
      return { number, wireType: 1, value: Buffer.concat([payload, Buffer.alloc(8)]).subarray(0, 8) };
    case 2:
      return { number, wireType: 2, value: payload };
    case 3:
      return { number, wireType: 5, value: Buffer.concat([payload, Buffer.alloc(4)]).subarray(0, 4) };
    default:
      return { number, wireType: 3, value: emitFields([unknownField(number + 1, 0, payload), unknownField(number + 2, 2, payload)]) };
  }
}

/**
 * The same fields in another order that keeps fields of one number in their order
 * (the order protobuf gives meaning to): `order` picks, for each place, which
 * number's next field goes there.
 */
export function interleave(fields: readonly WireField[], order: readonly number[]): WireField[] {
  const byNumber = new Map<number, WireField[]>();
  for (const f of fields) byNumber.set(f.number, [...(byNumber.get(f.number) ?? []), f]);
  const numbers = [...byNumber.keys()];
  const out: WireField[] = [];
  let k = 0;
  while (out.length < fields.length) {
    const pick = numbers[(order[k++ % Math.max(order.length, 1)] ?? 0) % numbers.length]!;
    const next = byNumber.get(pick)!.shift();
    if (next) out.push(next);
    else numbers.splice(numbers.indexOf(pick), 1);
  }
  return out;
}
