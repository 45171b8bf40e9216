import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServingError } from '../../src/errors.js';
import { toInferRequest } from '../../src/grpc/infer-request.js';
import { readModelInferRequest } from '../../src/grpc/model-infer-message.js';
import { loadServiceDefinitions } from '../../src/grpc/protos.js';
import { decodeInferRequest } from '../../src/http/infer-request.js';
import type { InferRequest } from '../../src/types.js';
import { DATATYPES } from '../../src/tensor/datatypes.js';

/** Runs a decoder: a request, or a client error (INVALID_ARGUMENT); anything else fails the property. */
function decodeOrRefuse(decode: () => InferRequest): InferRequest | undefined {
  try {
    return decode();
  } catch (error) {
    if (!(error instanceof ServingError) || error.code !== 'INVALID_ARGUMENT') throw error;
    expect(error.message.length).toBeGreaterThan(0);
    return undefined;
  }
}

/** Bytes the decoded tensors hold: what decoding allocated for them. */
const tensorBytes = (request: InferRequest): number =>
  request.inputs.reduce((sum, i) => sum + (Array.isArray(i.data) ? i.data.reduce((s, e) => s + e.length * 2, 0) : i.data.byteLength), 0);

const datatype = fc.oneof(fc.constantFrom(...DATATYPES), fc.string({ maxLength: 6 }));
const dim = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer(), fc.double(), fc.constant(2 ** 60), fc.constant(-1));
const shape = fc.oneof(fc.array(dim, { maxLength: 4 }), fc.anything());
const scalar = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.string({ maxLength: 8 }), fc.bigInt().map(String));
const data = fc.oneof(fc.array(scalar, { maxLength: 24 }), fc.array(fc.array(scalar, { maxLength: 4 }), { maxLength: 6 }), fc.anything());
const input = fc.record(
  {
    name: fc.oneof(fc.constantFrom('x', 'y'), fc.string({ maxLength: 4 }), fc.anything()),
    datatype,
    shape,
    data,
    parameters: fc.oneof(fc.record({ binary_data_size: fc.oneof(fc.nat(64), fc.integer(), fc.anything()) }), fc.anything()),
  },
  { requiredKeys: [] },
);
const jsonRequest = fc.record(
  {
    id: fc.oneof(fc.string(), fc.anything()),
    parameters: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), scalar), fc.anything()),
    inputs: fc.oneof(fc.array(input, { maxLength: 3 }), fc.anything()),
    outputs: fc.oneof(fc.array(fc.record({ name: fc.string({ maxLength: 4 }) })), fc.anything()),
  },
  { requiredKeys: [] },
);

describe('request decoders, for arbitrary input', () => {
  it('REST JSON: a request or a client error, never more data than the body backs', () => {
    fc.assert(
      fc.property(jsonRequest, (value) => {
        const body = Buffer.from(JSON.stringify(value) ?? '');
        const request = decodeOrRefuse(() => decodeInferRequest(body, { modelName: 'm', headerLength: '' }));
        // A JSON element takes at least one byte of body; held as at most 8 bytes.
        if (request) expect(tensorBytes(request)).toBeLessThanOrEqual(8 * body.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('REST JSON: arbitrary bytes are a request or a client error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        decodeOrRefuse(() => decodeInferRequest(Buffer.from(bytes), { modelName: 'm', headerLength: '' }));
      }),
      { numRuns: 2000 },
    );
  });

  it('binary extension: any header length and any binary part', () => {
    fc.assert(
      fc.property(
        jsonRequest,
        fc.uint8Array({ maxLength: 128 }),
        fc.oneof(fc.constant('exact'), fc.string({ maxLength: 12 }), fc.nat().map(String)),
        (value, binary, headerLength) => {
          const header = Buffer.from(JSON.stringify(value) ?? '');
          const body = Buffer.concat([header, binary]);
          const length = headerLength === 'exact' ? String(header.length) : headerLength;
          const request = decodeOrRefuse(() => decodeInferRequest(body, { modelName: 'm', headerLength: length }));
          if (request) expect(tensorBytes(request)).toBeLessThanOrEqual(8 * body.length);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('gRPC messages: a request or a client error, within the message-size limit', () => {
    const parameter = fc.oneof(
      fc.record({ parameter_choice: fc.constant('int64_param' as const), int64_param: fc.oneof(fc.bigInt().map(String), fc.string({ maxLength: 6 })) }),
      fc.record({ parameter_choice: fc.constant('bool_param' as const), bool_param: fc.boolean() }),
      fc.record({ parameter_choice: fc.constant('double_param' as const), double_param: fc.double() }),
      fc.constant({}),
    );
    const contents = fc.record({
      bool_contents: fc.array(fc.boolean(), { maxLength: 8 }),
      int_contents: fc.array(fc.integer(), { maxLength: 8 }),
      int64_contents: fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), { maxLength: 8 }),
      uint_contents: fc.array(fc.nat(), { maxLength: 8 }),
      uint64_contents: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String), { maxLength: 8 }),
      fp32_contents: fc.array(fc.float(), { maxLength: 8 }),
      fp64_contents: fc.array(fc.double(), { maxLength: 8 }),
      bytes_contents: fc.array(fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)), { maxLength: 8 }),
    });
    const grpcInput = fc.record({
      name: fc.string({ maxLength: 4 }),
      datatype: fc.oneof(fc.constantFrom(...DATATYPES), fc.string({ maxLength: 6 })),
      shape: fc.array(fc.oneof(fc.nat(4).map(String), fc.bigInt().map(String), fc.string({ maxLength: 4 })), { maxLength: 4 }),
      parameters: fc.dictionary(fc.string({ maxLength: 6 }), parameter),
      contents: fc.option(contents, { nil: null }),
    });
    const message = fc.record({
      model_name: fc.string({ maxLength: 6 }),
      model_version: fc.string({ maxLength: 3 }),
      id: fc.string({ maxLength: 6 }),
      parameters: fc.dictionary(fc.string({ maxLength: 6 }), parameter),
      inputs: fc.array(grpcInput, { maxLength: 3 }),
      outputs: fc.array(fc.record({ name: fc.string({ maxLength: 4 }), parameters: fc.constant({}) }), { maxLength: 2 }),
      raw_input_contents: fc.array(fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), { maxLength: 3 }),
    });
    const limit = 4096;
    const serialize = (loadServiceDefinitions().definition['inference.GRPCInferenceService'] as Record<string, { requestSerialize(v: unknown): Buffer }>)['ModelInfer']!.requestSerialize;
    fc.assert(
      fc.property(message, (m) => {
        let bytes: Buffer;
        try {
          bytes = serialize(m);
        } catch {
          return; // not a message protobufjs can write (an empty string as a dimension, say)
        }
        const request = decodeOrRefuse(() => toInferRequest(readModelInferRequest(bytes), { messageBytes: limit }));
        if (request) expect(tensorBytes(request)).toBeLessThanOrEqual(8 * limit);
      }),
      { numRuns: 2000 },
    );
  });
});

/**
 * Issue 12, item 4: integer data went through JSON.parse's doubles, so large or oddly
 * written integers were rounded or wrapped. Every way JSON can write an integer (and a
 * few near-integers) must decode to exactly the client's value, or be refused at the
 * first element that is no integer of the datatype.
 */
describe('REST JSON integer data, for arbitrary literals', () => {
  const RANGES: Record<string, readonly [bigint, bigint]> = {
    UINT8: [0n, 255n],
    UINT16: [0n, 65535n],
    UINT32: [0n, 2n ** 32n - 1n],
    UINT64: [0n, 2n ** 64n - 1n],
    INT8: [-128n, 127n],
    INT16: [-32768n, 32767n],
    INT32: [-(2n ** 31n), 2n ** 31n - 1n],
    INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  };
  const TYPES = Object.keys(RANGES);

  /** A literal and the integer it denotes (undefined: not an integer). */
  type Element = { literal: string; value: bigint | undefined };
  const around = (edge: bigint) => fc.bigInt({ min: edge - 3n, max: edge + 3n });
  const integer = fc.oneof(
    fc.bigInt({ min: -100n, max: 100n }),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    ...[2n ** 53n, -(2n ** 53n), 2n ** 63n, -(2n ** 63n), 2n ** 64n, 2n ** 31n, -(2n ** 31n), 2n ** 32n].map(around),
  );
  const sign = (v: bigint) => (v < 0n ? '-' : '');
  const abs = (v: bigint) => (v < 0n ? -v : v);
  const element: fc.Arbitrary<Element> = fc.tuple(integer, fc.nat(5), fc.nat(25)).map(([v, form, k]) => {
    const scaled = 10n ** BigInt(k);
    switch (form) {
      case 0:
        return { literal: String(v), value: v };
      case 1:
        return { literal: `${v}.${'0'.repeat(k + 1)}`, value: v };
      case 2:
        // The same integer written with more digits and a negative exponent.
        return { literal: `${sign(v)}${abs(v) * scaled}e-${k}`, value: v };
      case 3:
        return { literal: `${sign(v)}${abs(v)}E+${k}`, value: v * scaled };
      case 4:
        return { literal: `${v}.${'0'.repeat(k)}1`, value: undefined };
      default:
        return { literal: `${sign(v)}${abs(v) * 10n + 5n}e-1`, value: undefined };
    }
  });

  it('decodes exactly the integers written, or refuses the first element that is none', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TYPES),
        fc.array(element, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.constantFrom('', ' ', '\n  '),
        fc.boolean(),
        (datatype, elements, nested, space, withFloats) => {
          const [min, max] = RANGES[datatype]!;
          const list = elements.map((e) => e.literal).join(`,${space}`);
          const data = nested ? `[${space}[${list}]${space}]` : `[${list}]`;
          const shape = nested ? `[1,${elements.length}]` : `[${elements.length}]`;
          // Maybe a float input first, whose 17-digit literal makes every literal be read from the text,
          // and a repeated "data" whose first value is a decoy.
          const floats = withFloats ? '{"name":"f","datatype":"FP64","shape":[1],"data":[0.30000000000000004]},' : '';
          const body = Buffer.from(
            `{"inputs":[${floats}` +
              `{"name":"ids","datatype":"${datatype}","shape":${shape},"data":[7],${space}"data":${space}${data}}]}`,
          );
          const bad = elements.findIndex((e) => e.value === undefined || e.value < min || e.value > max);
          const request = decodeOrRefuse(() => decodeInferRequest(body, { modelName: 'm', headerLength: '' }));
          if (bad < 0) {
            expect(request).toBeDefined();
            expect(Array.from(request!.inputs.at(-1)!.data as ArrayLike<number | bigint>, BigInt)).toEqual(elements.map((e) => e.value));
          } else {
            expect(request).toBeUndefined();
            expect(() => decodeInferRequest(body, { modelName: 'm', headerLength: '' })).toThrow(
              `input ids: data[${bad}] must be an integer in [${min}, ${max}], got ${elements[bad]!.literal.slice(0, 40)}`,
            );
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
