/** Deterministic weights: the same seed always gives the same bytes on every machine. */

/** mulberry32: a small, well-distributed 32-bit PRNG that is exact in JavaScript. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [-scale, scale), as little-endian float32 bytes. */
export function uniformFloat32(count: number, scale: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = (random() * 2 - 1) * scale;
  return values;
}

export const float32Bytes = (values: Float32Array): Uint8Array =>
  new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

export function int64Bytes(values: readonly number[]): Uint8Array {
  const array = BigInt64Array.from(values, (v) => BigInt(v));
  return new Uint8Array(array.buffer);
}
