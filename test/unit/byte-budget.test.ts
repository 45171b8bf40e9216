/** The byte budget's books and the estimates it is asked with, without I/O (issue 12, item 3). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateDeserializedBytes } from '../../src/grpc/deserialized-size.js';
import { loadServiceDefinitions } from '../../src/grpc/protos.js';
import { estimateDecodedBytes } from '../../src/http/infer-request.js';
import { ByteBudget } from '../../src/inference/byte-budget.js';

const code = (f: () => void): string | undefined => {
  try {
    f();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
};

describe('ByteBudget', () => {
  it('refuses what could never fit as too large, and what does not fit now as overload', () => {
    const budget = new ByteBudget(1000);
    const held = budget.reserve();
    held.grow(600);
    const other = budget.reserve();
    expect(code(() => other.grow(1001))).toBe('PAYLOAD_TOO_LARGE');
    expect(code(() => other.grow(500))).toBe('OVERLOADED');
    other.grow(400);
    // What already exists is counted whatever the limit: refusing it cannot free it.
    other.set(900);
    expect(budget.bytes).toBe(1500);
    expect(held.room).toBe(-500);
    held.release();
    other.release();
    other.release();
    expect(budget.bytes).toBe(0);
    // A released reservation holds nothing more: a late answer after its client went is not counted.
    other.set(100);
    other.grow(100);
    expect(budget.bytes).toBe(0);
  });
});

describe('estimateDecodedBytes', () => {
  const rows = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'INT32', shape: [1000, 1], data: Array.from({ length: 1000 }, () => [1]) }] }));

  it('takes the bound while there is room for it, and counts the body otherwise', () => {
    const counted = estimateDecodedBytes(rows, '', 0);
    // `[1],` rows measured 44 bytes a byte on V8.
    expect(counted).toBeGreaterThan(44 * rows.length);
    expect(estimateDecodedBytes(rows, '', Infinity)).toBeGreaterThanOrEqual(counted);
    // Binary data after the JSON part is viewed in place: only the JSON part is costed.
    const withBinary = Buffer.concat([rows, Buffer.alloc(100_000, 0x5b)]);
    expect(estimateDecodedBytes(withBinary, String(rows.length), 0)).toBe(counted);
  });

  it('never costs any text above its bound', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const body = Buffer.from(bytes);
        expect(estimateDecodedBytes(body, '', 0)).toBeLessThanOrEqual(estimateDecodedBytes(body, '', Infinity));
      }),
    );
  });
});

describe('estimateDeserializedBytes', () => {
  const modelInfer = (loadServiceDefinitions().definition['inference.GRPCInferenceService'] as Record<string, { requestSerialize(v: unknown): Buffer }>)['ModelInfer']!;
  const message = (contents: Record<string, unknown>, raw?: Buffer) =>
    modelInfer.requestSerialize({
      model_name: 'm',
      inputs: [{ name: 'x', datatype: 'INT64', shape: ['1', '1000'], ...(raw ? {} : { contents }) }],
      ...(raw ? { raw_input_contents: [raw] } : {}),
    });

  it('costs typed contents by what they become, and raw contents at their size', () => {
    const int64 = message({ int64_contents: new Array<string>(1000).fill('1') });
    // One-byte varints measured up to 215 bytes a byte.
    expect(estimateDeserializedBytes(int64)).toBeGreaterThan(215 * 1000);
    const raw = message({}, Buffer.alloc(8000));
    expect(estimateDeserializedBytes(raw)).toBeLessThan(2 * raw.length);
    // Cut short, a message is costed at the worst rate, not as what it claims.
    expect(estimateDeserializedBytes(raw.subarray(0, raw.length - 1))).toBeGreaterThan(200 * 7000);
  });

  it('costs any bytes at all without throwing, and at least their length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(estimateDeserializedBytes(bytes)).toBeGreaterThanOrEqual(bytes.length);
      }),
    );
  });
});
