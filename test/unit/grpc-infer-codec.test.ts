/**
 * The hand-written ModelInfer codec (src/grpc/model-infer-message.ts, infer-request.ts,
 * infer-response.ts) against the path it replaced: proto-loader's generic protobufjs
 * (de)serialization and the conversion between its plain objects and the internal
 * types (test/helpers/grpc-reference.ts). For random valid messages, however they are
 * encoded, both give the same request or the same refusal; for random responses, the
 * bytes decode to what the old path sent. Bytes that are no valid message are refused
 * with INVALID_ARGUMENT and a message naming the problem.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServingError } from '../../src/errors.js';
import { estimateDeserializedBytes } from '../../src/grpc/deserialized-size.js';
import { toInferRequest, type GrpcCallContext } from '../../src/grpc/infer-request.js';
import { encodeInferResponse, encodeStreamError, encodeStreamInferResponse } from '../../src/grpc/infer-response.js';
import { readModelInferRequest } from '../../src/grpc/model-infer-message.js';
import { encodeBytesElements } from '../../src/tensor/bytes-elements.js';
import { DATATYPES, datatypeInfo, type Datatype, type TensorData } from '../../src/tensor/datatypes.js';
import type { InferRequest, InferResponse } from '../../src/types.js';
import { modelInfer, modelStreamInfer, referenceRequest, referenceResponseBytes, referenceStreamResponseBytes } from '../helpers/grpc-reference.js';
import { emitFields, interleave, messageField, parseFields, splitPacked, unknownField, unpack, type WireField } from '../helpers/protobuf-wire.js';

type Outcome = { request: InferRequest } | { code: string; message: string };

function outcome(decode: () => InferRequest): Outcome {
  try {
    return { request: decode() };
  } catch (error) {
    if (!(error instanceof ServingError)) throw error;
    return { code: error.code, message: error.message };
  }
}

const decode = (bytes: Buffer, context: GrpcCallContext): InferRequest => toInferRequest(readModelInferRequest(bytes), context);

// ---- random valid ModelInferRequests, as proto-loader's plain objects ----

const int64 = fc.oneof(
  fc.bigInt({ min: -100n, max: 100n }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }),
  fc.bigInt({ min: -(2n ** 53n) - 3n, max: -(2n ** 53n) + 3n }),
);
const uint64 = fc.oneof(fc.bigInt({ min: 0n, max: 100n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }));

/** One InferParameter: exactly one value set (as any protobuf encoder writes a oneof), or none. */
const parameter = fc.oneof(
  { weight: 2, arbitrary: fc.boolean().map((v) => ({ bool_param: v })) },
  { weight: 2, arbitrary: int64.map((v) => ({ int64_param: String(v) })) },
  { weight: 2, arbitrary: fc.string({ maxLength: 6 }).map((v) => ({ string_param: v })) },
  { weight: 2, arbitrary: fc.double().map((v) => ({ double_param: v })) },
  { weight: 2, arbitrary: uint64.map((v) => ({ uint64_param: String(v) })) },
  { weight: 1, arbitrary: fc.constant({}) },
);
const parameterName = fc.oneof(fc.constantFrom('a', 'b', '7', '__proto__', 'binary_data_output'), fc.string({ maxLength: 5 }));
const parameters = fc.dictionary(parameterName, parameter, { maxKeys: 3 });

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
/** Each datatype's typed-contents field and its values, often in the datatype's range and sometimes not. */
const CONTENTS: Record<string, [string, fc.Arbitrary<unknown>]> = {
  BOOL: ['bool_contents', fc.boolean()],
  INT8: ['int_contents', fc.oneof(fc.integer({ min: -128, max: 127 }), int32)],
  INT16: ['int_contents', fc.oneof(fc.integer({ min: -32768, max: 32767 }), int32)],
  INT32: ['int_contents', int32],
  UINT8: ['uint_contents', fc.oneof(fc.nat(255), uint32)],
  UINT16: ['uint_contents', fc.oneof(fc.nat(65535), uint32)],
  UINT32: ['uint_contents', uint32],
  INT64: ['int64_contents', int64.map(String)],
  UINT64: ['uint64_contents', uint64.map(String)],
  FP32: ['fp32_contents', fc.float()],
  FP64: ['fp64_contents', fc.double()],
  BYTES: ['bytes_contents', fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b))],
};
const ANY_CONTENTS = Object.values(CONTENTS);

const smallShape = fc.array(fc.nat(3), { maxLength: 3 }).map((dims) => dims.map(String));
const shape = fc.oneof(
  { weight: 12, arbitrary: smallShape },
  { weight: 1, arbitrary: fc.array(int64.map(String), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.nat(1).map(String), { minLength: 31, maxLength: 35 }) },
);

/** Elements a shape declares, when it is small enough to send them. */
const countOf = (dims: readonly string[]): number | undefined => {
  const count = dims.reduce((n, d) => n * BigInt(d), 1n);
  return dims.every((d) => BigInt(d) >= 0n) && count <= 64n ? Number(count) : undefined;
};

const input = fc
  .record({
    name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('x', 'y') }, { weight: 1, arbitrary: fc.string({ maxLength: 3 }) }),
    datatype: fc.oneof({ weight: 10, arbitrary: fc.constantFrom(...DATATYPES) }, { weight: 1, arbitrary: fc.string({ maxLength: 5 }) }),
    shape,
    parameters: fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: parameters }),
    contents: fc.constantFrom('match', 'match', 'match', 'other', 'none'),
    noise: fc.nat(ANY_CONTENTS.length),
  })
  .chain((spec) => {
    const count = countOf(spec.shape);
    const own = CONTENTS[spec.datatype];
    const fields: Record<string, fc.Arbitrary<unknown[]>> = {};
    if (own && spec.contents !== 'none') {
      fields[own[0]] = spec.contents === 'match' && count !== undefined ? fc.array(own[1], { minLength: count, maxLength: count }) : fc.array(own[1], { maxLength: 4 });
    }
    const noise = ANY_CONTENTS[spec.noise];
    if (noise && !(noise[0] in fields)) fields[noise[0]] = fc.array(noise[1], { maxLength: 3 });
    return fc.record({
      name: fc.constant(spec.name),
      datatype: fc.constant(spec.datatype),
      shape: fc.constant(spec.shape),
      parameters: fc.constant(spec.parameters),
      contents: spec.contents === 'none' ? fc.constant(undefined) : fc.record(fields),
    });
  });

/** Raw contents for an input: the right size for its shape most of the time. */
function rawFor(item: { datatype: string; shape: string[] }, bytes: Uint8Array, strings: string[]): Buffer {
  const count = countOf(item.shape);
  const info = DATATYPES.includes(item.datatype as Datatype) ? datatypeInfo(item.datatype as Datatype) : undefined;
  if (count === undefined || !info) return Buffer.from(bytes);
  if (info.name === 'BYTES') return encodeBytesElements(Array.from({ length: count }, (_, i) => strings[i % Math.max(strings.length, 1)] ?? ''));
  return Buffer.from(Array.from({ length: count * info.byteSize }, (_, i) => bytes[i % Math.max(bytes.length, 1)] ?? i));
}

const request = fc
  .record({
    model_name: fc.string({ maxLength: 6 }),
    model_version: fc.constantFrom('', '1', '12'),
    id: fc.string({ maxLength: 5 }),
    parameters: fc.oneof({ weight: 2, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: parameters }),
    inputs: fc.oneof({ weight: 1, arbitrary: fc.array(input, { maxLength: 0 }) }, { weight: 8, arbitrary: fc.array(input, { minLength: 1, maxLength: 3 }) }),
    outputs: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(fc.record({ name: fc.oneof(fc.constant('y'), fc.string({ maxLength: 3 })), parameters }), { maxLength: 2 }) },
    ),
    raw: fc.constantFrom('none', 'none', 'none', 'all', 'all', 'all', 'fewer', 'random'),
    rawBytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    rawStrings: fc.array(fc.string({ maxLength: 4, unit: 'grapheme' }), { maxLength: 3 }),
  })
  .map(({ raw, rawBytes, rawStrings, ...message }) => {
    const contents = (items: typeof message.inputs) => items.map((i) => rawFor(i, rawBytes, rawStrings));
    const raws = raw === 'all' ? contents(message.inputs) : raw === 'fewer' ? contents(message.inputs.slice(1)) : raw === 'random' ? [Buffer.from(rawBytes)] : [];
    return { ...message, raw_input_contents: raws };
  });

const context = fc.record({ messageBytes: fc.constantFrom(4096, 4096, 12) });

function expectSameOutcome(bytes: Buffer, ctx: GrpcCallContext): Outcome {
  const expected = outcome(() => referenceRequest(bytes, ctx));
  const actual = outcome(() => decode(bytes, ctx));
  expect(actual).toEqual(expected);
  return actual;
}

// ---- other valid encodings of the same message ----

/** A tiny deterministic random source, so that fast-check's seed says how a message was re-encoded. */
function chooser(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return n <= 0 ? 0 : state % n;
  };
}

/** Field numbers each message type leaves unknown, to slip unknown fields among its own. */
const UNKNOWN_NUMBERS = [9, 15, 16, 100, 2047, 536_870_911];

function withUnknowns(fields: WireField[], pick: (n: number) => number): WireField[] {
  const out = [...fields];
  for (let k = pick(3); k > 0; k--) {
    const payload = Buffer.from(Array.from({ length: pick(10) }, () => pick(256)));
    out.splice(pick(out.length + 1), 0, unknownField(UNKNOWN_NUMBERS[pick(UNKNOWN_NUMBERS.length)]!, pick(5), payload));
  }
  return out;
}

/** A packed run as sent: packed, unpacked, or in two runs. */
function repack(field: WireField, elementWireType: 0 | 1 | 5, pick: (n: number) => number): WireField[] {
  if (field.wireType !== 2) return [field];
  switch (pick(3)) {
    case 0:
      return [field];
    case 1:
      return unpack(field, elementWireType);
    default:
      return splitPacked(field, elementWireType, pick(8));
  }
}

const CONTENT_WIRE: Record<number, 0 | 1 | 5> = { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 5, 7: 1 };

function reencodeMessage(fields: WireField[], nested: (field: WireField) => WireField[], pick: (n: number) => number): WireField[] {
  const out = fields.flatMap(nested);
  return interleave(withUnknowns(out, pick), Array.from({ length: out.length + 4 }, () => pick(8)));
}

function reencodeRequest(bytes: Buffer, pick: (n: number) => number): Buffer {
  const entry = (f: WireField): WireField[] => [messageField(f.number, withUnknowns(parseFields(f.value), pick))];
  const contents = (f: WireField): WireField[] => {
    const wire = CONTENT_WIRE[f.number];
    return wire === undefined ? [f] : repack(f, wire, pick);
  };
  const input = (f: WireField): WireField[] => {
    if (f.number === 3) return repack(f, 0, pick);
    if (f.number === 4) return entry(f);
    if (f.number === 5) return [messageField(5, reencodeMessage(parseFields(f.value), contents, pick))];
    return [f];
  };
  const output = (f: WireField): WireField[] => (f.number === 2 ? entry(f) : [f]);
  const top = (f: WireField): WireField[] => {
    if (f.number === 4) return entry(f);
    if (f.number === 5) return [messageField(5, reencodeMessage(parseFields(f.value), input, pick))];
    if (f.number === 6) return [messageField(6, reencodeMessage(parseFields(f.value), output, pick))];
    return [f];
  };
  return emitFields(reencodeMessage(parseFields(bytes), top, pick));
}

describe('ModelInferRequest decoding, against proto-loader and the old conversion', () => {
  it('gives the same request, or the same refusal, for random valid messages', () => {
    let accepted = 0;
    fc.assert(
      fc.property(request, context, (message, ctx) => {
        if ('request' in expectSameOutcome(modelInfer.requestSerialize(message), ctx)) accepted += 1;
      }),
      { numRuns: 3000 },
    );
    // The property means little unless many messages get through every check.
    expect(accepted).toBeGreaterThan(450);
  });

  it('whatever valid encoding: fields reordered, repeated scalars unpacked or split, unknown fields and groups anywhere', () => {
    let changed = 0;
    fc.assert(
      fc.property(request, context, fc.integer(), (message, ctx, seed) => {
        const original = modelInfer.requestSerialize(message);
        const bytes = reencodeRequest(original, chooser(seed));
        if (!bytes.equals(original)) changed += 1;
        expectSameOutcome(bytes, ctx);
      }),
      { numRuns: 2000 },
    );
    expect(changed).toBeGreaterThan(1000);
  });

  it('for two messages sent as one (protobuf merges them: the later string and map entry win, inputs add up)', () => {
    const sharedNames = fc.dictionary(fc.constantFrom('a', 'b', 'c'), parameter, { maxKeys: 3 });
    const withShared = request.chain((m) => sharedNames.map((p) => ({ ...m, parameters: p })));
    fc.assert(
      fc.property(withShared, withShared, context, (first, second, ctx) => {
        expectSameOutcome(Buffer.concat([modelInfer.requestSerialize(first), modelInfer.requestSerialize(second)]), ctx);
      }),
      { numRuns: 1000 },
    );
  });

  it('reads a typical request exactly: raw contents viewed in place, typed contents decoded exactly', () => {
    const raw = Buffer.from(new Float32Array([0.5, -1.25, 3, 4]).buffer);
    const bytes = modelInfer.requestSerialize({
      model_name: 'tiny_classifier',
      model_version: '1',
      id: 'r1',
      parameters: { priority: { int64_param: '-9007199254740991' }, flag: { bool_param: true } },
      inputs: [
        { name: 'input', datatype: 'FP32', shape: ['1', '4'] },
        { name: 'ids', datatype: 'INT64', shape: ['2'] },
      ],
      outputs: [{ name: 'probabilities', parameters: { classification: { uint64_param: '3' } } }],
      raw_input_contents: [raw, Buffer.from(new BigInt64Array([2n ** 63n - 1n, -(2n ** 63n)]).buffer)],
    });
    const request = decode(bytes, { messageBytes: 1 << 20, deadlineUs: 5000, routingKey: 'k', traceparent: undefined });
    expect(request).toMatchObject({
      modelName: 'tiny_classifier',
      modelVersion: '1',
      id: 'r1',
      parameters: { priority: -9007199254740991, flag: true },
      outputs: [{ name: 'probabilities', parameters: { classification: 3 } }],
      protocol: 'grpc',
      deadlineUs: 5000,
      routingKey: 'k',
    });
    expect(Array.from(request.inputs[0]!.data as Float32Array)).toEqual([0.5, -1.25, 3, 4]);
    expect(Array.from(request.inputs[1]!.data as BigInt64Array)).toEqual([2n ** 63n - 1n, -(2n ** 63n)]);
    const typed = decode(
      modelInfer.requestSerialize({
        model_name: 'm',
        inputs: [{ name: 'u', datatype: 'UINT64', shape: ['2'], contents: { uint64_contents: ['18446744073709551615', '9007199254740993'] } }],
      }),
      { messageBytes: 4096 },
    );
    expect(Array.from(typed.inputs[0]!.data as BigUint64Array)).toEqual([2n ** 64n - 1n, 2n ** 53n + 1n]);
  });
});

describe('malformed ModelInferRequest bytes', () => {
  const refusal = (bytes: number[] | Buffer): string => {
    const result = outcome(() => decode(Buffer.from(bytes), { messageBytes: 4096 }));
    if (!('code' in result)) throw new Error('expected a refusal');
    expect(result.code).toBe('INVALID_ARGUMENT');
    return result.message;
  };
  const varint = (value: bigint): number[] => {
    const out: number[] = [];
    for (let rest = value; ; rest >>= 7n) {
      if (rest < 0x80n) return [...out, Number(rest)];
      out.push(Number(rest & 0x7fn) | 0x80);
    }
  };

  it.each([
    ['a length past the end of the message', [0x2a, 0x64, 0x01, 0x02], /^malformed request message: inputs declares 100 bytes but 2 remain \(at byte 1\)$/],
    ['a length of 2^63, before anything is allocated', [0x3a, ...varint(2n ** 63n), 0x00], /raw_input_contents declares 9223372036854775808 bytes but 1 remain/],
    ['a length past the end of its nested message', [0x2a, 0x02, 0x0a, 0x03, 0x61, 0x62, 0x63], /inputs\.name declares 3 bytes but 0 remain \(at byte 3\)/],
    ['a varint cut short', [0x0a, 0x01, 0x61, 0x48, 0x80], /ModelInferRequest ends inside a varint \(at byte 4\)/],
    ['a varint of 11 bytes', [0x48, ...new Array(10).fill(0xff), 0x01], /varint longer than 10 bytes/],
    ['a field numbered 0', [0x00, 0x01], /field numbered 0/],
    ['a known field with the wrong wire type', [0x08, 0x05], /model_name is varint, expected length-delimited/],
    ['a nested message sent as a number', [0x2d, 0x00, 0x00, 0x00, 0x00], /inputs is 32-bit, expected a message/],
    ['a parameter value of the wrong type', [0x22, 0x07, 0x0a, 0x01, 0x61, 0x12, 0x02, 0x0d, 0x00], /parameters\.value\.bool_param|parameters\.value/],
    ['packed floats that are not whole', [0x2a, 0x07, 0x2a, 0x05, 0x32, 0x03, 0x00, 0x00, 0x00], /packed inputs\.contents\.fp32_contents has 3 bytes, not a whole number of 4-byte values/],
    ['a packed varint run cut inside a varint', [0x2a, 0x04, 0x1a, 0x02, 0x01, 0x80], /inputs\.shape ends inside a varint/],
    ['an end-group tag with no group', [0x4c], /end-group tag without its start/],
    ['a group that is never closed', [0x4b, 0x48, 0x01], /ends inside a group/],
    ['a group closed by another field number', [0x4b, 0x54], /closes no group/],
    ['wire type 6', [0x4e], /invalid wire type 6/],
    ['a field tag over 32 bits', [0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /field tag over 32 bits/],
  ])('refuses %s', (_, bytes, message) => {
    expect(refusal(bytes as number[])).toMatch(message);
  });

  it('refuses a shape that declares more elements than a message can hold, before allocating them', () => {
    const bytes = modelInfer.requestSerialize({
      model_name: 'm',
      inputs: [{ name: 'x', datatype: 'FP32', shape: ['1000000000', '1000000'], contents: { fp32_contents: [1] } }],
    });
    expect(refusal(bytes)).toMatch(/input x: shape \[1000000000, 1000000\] declares more elements than the request can hold \(at most 4096\)/);
  });

  it('skips an unknown group, and the budget still costs what follows it (it stopped reading at a group, and costed nothing after)', () => {
    const contents = modelInfer.requestSerialize({
      model_name: 'm',
      inputs: [{ name: 'x', datatype: 'FP64', shape: ['1000'], contents: { fp64_contents: new Array<number>(1000).fill(0.5) } }],
    });
    // Field 9, a group holding a varint, then the request.
    const bytes = Buffer.concat([Buffer.from([0x4b, 0x48, 0x01, 0x4c]), contents]);
    const request = decode(bytes, { messageBytes: 1 << 20 });
    expect((request.inputs[0]!.data as Float64Array).byteLength).toBe(8000);
    expect(estimateDeserializedBytes(bytes) - bytes.length).toBeGreaterThanOrEqual(8000);
  });

  it('answers every mutation of a valid message with a request or INVALID_ARGUMENT, holding no more than the budget estimated', () => {
    fc.assert(
      fc.property(request, fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('flip', 'cut', 'insert')), { minLength: 1, maxLength: 4 }), (message, mutations) => {
        let bytes = Buffer.from(modelInfer.requestSerialize(message));
        for (const [at, value, kind] of mutations) {
          const i = bytes.length ? at % bytes.length : 0;
          if (kind === 'flip' && bytes.length) bytes[i] = value;
          else if (kind === 'cut') bytes = bytes.subarray(0, i);
          else bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([value]), bytes.subarray(i)]);
        }
        const result = outcome(() => decode(bytes, { messageBytes: 4096 }));
        if ('code' in result) {
          expect(result.code).toBe('INVALID_ARGUMENT');
          return;
        }
        // What decoding allocated: tensors that are not views of the message.
        const allocated = result.request.inputs.reduce(
          (sum, i) => sum + (Array.isArray(i.data) ? i.data.reduce((s, e) => s + 32 + 2 * e.length, 0) : i.data.buffer === bytes.buffer ? 0 : i.data.byteLength),
          0,
        );
        expect(allocated).toBeLessThanOrEqual(estimateDeserializedBytes(bytes) - bytes.length);
      }),
      { numRuns: 3000 },
    );
  });
});

// ---- responses ----

function tensorData(datatype: Datatype, count: number, seed: Uint8Array, strings: string[]): TensorData {
  if (datatype === 'BYTES') return Array.from({ length: count }, (_, i) => strings[i % Math.max(strings.length, 1)] ?? '');
  const info = datatypeInfo(datatype);
  const bytes = new Uint8Array(count * info.byteSize).map((_, i) => seed[i % Math.max(seed.length, 1)] ?? i);
  return new info.arrayType!(bytes.buffer, 0, count);
}

const text = fc.string({ maxLength: 8, unit: 'grapheme' });
const output = fc
  .record({
    name: text,
    datatype: fc.constantFrom(...DATATYPES),
    shape: fc.array(fc.oneof(fc.nat(4), fc.constantFrom(0, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1)), { maxLength: 4 }),
    count: fc.nat(6),
    seed: fc.uint8Array({ maxLength: 16 }),
    strings: fc.array(text, { maxLength: 3 }),
  })
  .map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, data: tensorData(o.datatype, o.count, o.seed, o.strings) }));
const response: fc.Arbitrary<InferResponse> = fc.record({
  modelName: text,
  modelVersion: fc.constantFrom('1', '12', ''),
  id: fc.option(text.filter((s) => s !== ''), { nil: undefined }),
  outputs: fc.array(output, { maxLength: 3 }),
  servedBy: fc.option(fc.constant('m/1'), { nil: undefined }),
  requestParameters: fc.constant({}),
});

describe('ModelInferResponse encoding, against proto-loader and the old conversion', () => {
  it('writes bytes that decode to what the old path sent', () => {
    fc.assert(
      fc.property(response, (r) => {
        expect(modelInfer.responseDeserialize(encodeInferResponse(r))).toEqual(modelInfer.responseDeserialize(referenceResponseBytes(r)));
      }),
      { numRuns: 2000 },
    );
  });

  it('on a stream, the same inside a ModelStreamInferResponse', () => {
    fc.assert(
      fc.property(response, (r) => {
        expect(modelStreamInfer.responseDeserialize(encodeStreamInferResponse(r))).toEqual(modelStreamInfer.responseDeserialize(referenceStreamResponseBytes(r)));
      }),
      { numRuns: 1000 },
    );
  });

  it('on a stream, a refusal as the old path sent it: the message, and a response with the id only', () => {
    fc.assert(
      fc.property(text, fc.string({ maxLength: 5 }), (message, id) => {
        const expected = modelStreamInfer.responseSerialize({ error_message: message, infer_response: { id } });
        expect(modelStreamInfer.responseDeserialize(encodeStreamError(message, id))).toEqual(modelStreamInfer.responseDeserialize(expected));
      }),
    );
  });

  it('writes a large output once, with a length prefix of several bytes', () => {
    const data = new Float32Array(300_000).map((_, i) => i);
    const r: InferResponse = { modelName: 'm', modelVersion: '1', outputs: [{ name: 'y', datatype: 'FP32', shape: [300_000], data }], requestParameters: {} };
    const decoded = modelStreamInfer.responseDeserialize(encodeStreamInferResponse(r)) as { infer_response: { raw_output_contents: Buffer[] } };
    expect(decoded.infer_response.raw_output_contents[0]!.equals(Buffer.from(data.buffer))).toBe(true);
  });
});
