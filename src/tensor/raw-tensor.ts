import { invalidArgument } from '../errors.js';
import { decodeBytesElements } from './bytes-elements.js';
import { viewBytes, type DatatypeInfo, type TensorData } from './datatypes.js';

/**
 * A tensor's raw bytes (REST binary extension, gRPC raw contents): little-endian,
 * row-major, unpadded; BYTES as length-prefixed elements. The size must match
 * the shape exactly.
 */
export function decodeRawTensor(info: DatatypeInfo, bytes: Uint8Array, count: number, shape: readonly number[], what: string): TensorData {
  if (info.byteSize === 0) return decodeBytesElements(bytes, count, what);
  const expected = count * info.byteSize;
  if (bytes.byteLength !== expected) {
    throw invalidArgument(
      `${what}: ${bytes.byteLength} bytes of data do not match shape [${shape.join(', ')}] of ${info.name} (${expected} bytes)`,
    );
  }
  return viewBytes(info, bytes);
}
