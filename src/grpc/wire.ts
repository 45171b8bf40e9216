/**
 * Strict protobuf wire reading on protobufjs's BufferReader, for the messages the
 * gRPC adapter decodes by hand. `len` is kept at the end of the message being read,
 * so no read passes it; every length prefix is checked against what remains before
 * anything is sliced or allocated. Bytes that break the wire format (a length past
 * the end, a varint cut short or over 10 bytes, a known field with the wrong wire
 * type, field number 0, an unmatched group) are INVALID_ARGUMENT, naming the field
 * and the byte offset.
 */
import protobuf from 'protobufjs/minimal.js';
import { invalidArgument, type ServingError } from '../errors.js';

export const VARINT = 0;
export const FIXED64 = 1;
export const LENGTH_DELIMITED = 2;
const START_GROUP = 3;
const END_GROUP = 4;
export const FIXED32 = 5;

/** Unknown groups nest at most this deep; the messages we decode have no groups of their own. */
const MAX_GROUP_DEPTH = 64;

export function malformed(problem: string, at: number): ServingError {
  return invalidArgument(`malformed request message: ${problem} (at byte ${at})`);
}

const WIRE_NAMES = ['varint', '64-bit', 'length-delimited', 'start-group', 'end-group', '32-bit', 'wire type 6', 'wire type 7'];

export function wrongWireType(field: string, wireType: number, expected: string, at: number): ServingError {
  return malformed(`${field} is ${WIRE_NAMES[wireType]}, expected ${expected}`, at);
}

export class WireReader extends protobuf.BufferReader {
  /** The high 32 bits of the last varint `varint()` read. */
  high = 0;

  declare buf: Buffer;

  /** A tag (field number × 8 + wire type) of the message being read, which has bytes left. */
  fieldTag(message: string): number {
    const at = this.pos;
    const byte = this.buf[at]!;
    if (byte < 0x80 && byte >= 8) {
      this.pos = at + 1;
      return byte;
    }
    const tag = this.varint(message);
    // Field numbers stop at 2^29 - 1: a tag is a 32-bit varint.
    if (this.high !== 0) throw malformed(`${message} has a field tag over 32 bits`, at);
    if (tag >>> 3 === 0) throw malformed(`${message} has a field numbered 0`, at);
    return tag;
  }

  /** A varint of up to 10 bytes: its low 32 bits (unsigned) returned, its high 32 bits in `high`. */
  varint(field: string): number {
    const buf = this.buf;
    const end = this.len;
    const start = this.pos;
    let pos = start;
    let low = 0;
    let byte = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw malformed(`${field} ends inside a varint`, start);
      byte = buf[pos++]!;
      low |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.pos = pos;
        this.high = 0;
        return low >>> 0;
      }
    }
    if (pos >= end) throw malformed(`${field} ends inside a varint`, start);
    byte = buf[pos++]!;
    low |= (byte & 0x7f) << 28;
    let high = (byte & 0x7f) >>> 4;
    for (let shift = 3; byte >= 0x80; shift += 7) {
      if (shift > 31) throw malformed(`${field} has a varint longer than 10 bytes`, start);
      if (pos >= end) throw malformed(`${field} ends inside a varint`, start);
      byte = buf[pos++]!;
      // Bits past the 64th (a 10th byte over 1) are dropped, as protobuf does.
      high |= (byte & 0x7f) << shift;
    }
    this.pos = pos;
    this.high = high >>> 0;
    return low >>> 0;
  }

  /** A length prefix whose bytes all remain in the message: returns where they end (the position is at their start). */
  lengthOf(field: string): number {
    const at = this.pos;
    const length = this.varint(field);
    const left = this.len - this.pos;
    if (this.high !== 0 || length > left) {
      const declared = this.high === 0 ? String(length) : ((BigInt(this.high) << 32n) | BigInt(length)).toString();
      throw malformed(`${field} declares ${declared} bytes but ${left} remain`, at);
    }
    return this.pos + length;
  }

  /** A length-delimited field as UTF-8 text (malformed sequences become U+FFFD, as in every protobuf runtime for JavaScript). */
  text(field: string): string {
    const end = this.lengthOf(field);
    const start = this.pos;
    this.pos = end;
    return start === end ? '' : this.buf.toString('utf8', start, end);
  }

  /** A length-delimited field as a view of the message's bytes. */
  bytesView(field: string): Buffer {
    const end = this.lengthOf(field);
    const start = this.pos;
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  /** Steps over `count` bytes of a fixed-size field. */
  fixed(count: number, field: string): void {
    if (this.len - this.pos < count) throw malformed(`${field} ends inside a ${count * 8}-bit value`, this.pos);
    this.pos += count;
  }

  /** Steps over a field this decoder does not know (groups included), as every protobuf runtime does. */
  skipUnknown(tag: number, message: string, at: number): void {
    switch (tag & 7) {
      case VARINT:
        this.varint(message);
        return;
      case FIXED64:
        this.fixed(8, message);
        return;
      case LENGTH_DELIMITED:
        this.pos = this.lengthOf(message);
        return;
      case FIXED32:
        this.fixed(4, message);
        return;
      case START_GROUP:
        this.skipGroup(tag >>> 3, message, at);
        return;
      case END_GROUP:
        throw malformed(`${message} has an end-group tag without its start`, at);
      default:
        throw malformed(`${message} has a field of invalid wire type ${tag & 7}`, at);
    }
  }

  /** Groups (proto2's, deprecated) nest: each ends with an end-group tag of its own field number. */
  private skipGroup(field: number, message: string, at: number): void {
    const open = [field];
    while (open.length > 0) {
      if (this.pos >= this.len) throw malformed(`${message} ends inside a group`, at);
      const tagAt = this.pos;
      const tag = this.fieldTag(message);
      if ((tag & 7) === START_GROUP) {
        if (open.length >= MAX_GROUP_DEPTH) throw malformed(`${message} nests groups more than ${MAX_GROUP_DEPTH} deep`, tagAt);
        open.push(tag >>> 3);
      } else if ((tag & 7) === END_GROUP) {
        if (open.pop() !== tag >>> 3) throw malformed(`${message} has an end-group tag that closes no group`, tagAt);
      } else {
        this.skipUnknown(tag, message, tagAt);
      }
    }
  }
}
