import { invalidArgument } from '../errors.js';

/**
 * BYTES tensors on the wire: each element is a 4-byte little-endian length and
 * then that many bytes. ONNX Runtime holds string tensors as JavaScript strings,
 * so elements are decoded as UTF-8.
 */
export function decodeBytesElements(bytes: Uint8Array, expectedCount: number, what: string): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const elements: string[] = [];
  let offset = 0;
  const decoder = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (offset < bytes.byteLength) {
    if (elements.length === expectedCount) {
      throw invalidArgument(`${what}: BYTES data holds more than the ${expectedCount} elements its shape declares`);
    }
    if (offset + 4 > bytes.byteLength) {
      throw invalidArgument(`${what}: BYTES element ${elements.length} has a truncated length prefix`);
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (length > bytes.byteLength - offset) {
      throw invalidArgument(
        `${what}: BYTES element ${elements.length} declares ${length} bytes but only ${bytes.byteLength - offset} remain`,
      );
    }
    elements.push(decoder.toString('utf8', offset, offset + length));
    offset += length;
  }
  if (elements.length !== expectedCount) {
    throw invalidArgument(`${what}: BYTES data holds ${elements.length} elements, its shape declares ${expectedCount}`);
  }
  return elements;
}

export function encodeBytesElements(elements: readonly string[]): Buffer {
  const encoded = elements.map((e) => Buffer.from(e, 'utf8'));
  const out = Buffer.allocUnsafe(encoded.reduce((sum, e) => sum + 4 + e.length, 0));
  let offset = 0;
  for (const e of encoded) {
    out.writeUInt32LE(e.length, offset);
    e.copy(out, offset + 4);
    offset += 4 + e.length;
  }
  return out;
}
