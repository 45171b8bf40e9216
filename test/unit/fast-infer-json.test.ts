/**
 * The fast path for common REST JSON requests (src/http/fast-infer-json.ts) against
 * the general decoder: whatever it accepts must decode to exactly what the general
 * decoder makes of the same body (same fields in the same order, typed arrays bit
 * for bit, -0 kept), and it must never accept what the general decoder refuses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServingError } from '../../src/errors.js';
import { decodeCommonJsonRequest } from '../../src/http/fast-infer-json.js';
import { decodeGeneralInferRequest, decodeInferRequest, estimateDecodedBytes } from '../../src/http/infer-request.js';
import type { InferRequest } from '../../src/types.js';

const target = { modelName: 'm', headerLength: '' };
const fast = (body: Buffer): InferRequest | undefined => decodeCommonJsonRequest(body, target);

/** The general decoder's request, or undefined for a client error (anything else fails the test). */
function general(body: Buffer): InferRequest | undefined {
  try {
    return decodeGeneralInferRequest(body, target);
  } catch (error) {
    if (!(error instanceof ServingError) || error.code !== 'INVALID_ARGUMENT') throw error;
    return undefined;
  }
}

/**
 * A value as plain data that toEqual compares exactly: keys in order, prototypes,
 * typed arrays by type and bytes, numbers by Object.is (so -0 is not 0).
 */
function canonical(value: unknown): unknown {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0 (number)' : Number.isNaN(value) ? 'NaN' : value;
  if (typeof value === 'bigint') return `${value}n`;
  if (ArrayBuffer.isView(value)) {
    return { type: value.constructor.name, bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') };
  }
  if (Array.isArray(value)) return { array: value.map(canonical) };
  if (typeof value === 'object' && value !== null) {
    const prototype = Object.getPrototypeOf(value) === Object.prototype ? 'Object' : String(Object.getPrototypeOf(value));
    return { prototype, entries: Object.keys(value).map((k) => [k, canonical((value as Record<string, unknown>)[k])]) };
  }
  return value;
}

/** The fast path accepts `body`, and decodes it exactly as the general decoder does. */
function expectSameAsGeneral(body: Buffer): void {
  const quick = fast(body);
  expect(quick, `the fast path declined ${body.toString('latin1').slice(0, 300)}`).toBeDefined();
  expect(canonical(quick)).toEqual(canonical(decodeGeneralInferRequest(body, target)));
}

/** The fast path declines `body` or decodes it exactly as the general decoder does; never accepts what that refuses. */
function expectDeclinedOrSame(body: Buffer): void {
  const quick = fast(body);
  if (quick === undefined) return;
  const slow = general(body);
  expect(slow, `the fast path accepted what the general decoder refuses: ${body.toString('latin1').slice(0, 300)}`).toBeDefined();
  expect(canonical(quick)).toEqual(canonical(slow));
}

/** decodeInferRequest answers a body the fast path declined just as the general decoder does. */
function expectGeneralAnswer(body: Buffer): void {
  expect(fast(body)).toBeUndefined();
  const expected = general(body);
  if (expected) expect(canonical(decodeInferRequest(body, target))).toEqual(canonical(expected));
  else expect(() => decodeInferRequest(body, target)).toThrow(ServingError);
}

const tensorBody = (datatype: string, shape: string, data: string): Buffer =>
  Buffer.from(`{"inputs":[{"name":"x","datatype":"${datatype}","shape":${shape},"data":${data}}]}`);
const one = (datatype: string, literal: string): Buffer => tensorBody(datatype, '[1]', `[${literal}]`);

// ---- Generators for requests in the accepted grammar ----

/** Where any whitespace may go; filled in last, so every gap gets its own. */
const GAP = '\u0001';
const whitespace = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), maxLength: 3 });
const withWhitespace = (template: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.tuple(template, fc.array(whitespace, { minLength: 1, maxLength: 24 })).map(([text, gaps]) => {
    let n = 0;
    return text.replace(/\u0001/g, () => gaps[n++ % gaps.length]!);
  });

const objectText = (members: readonly (readonly [string, string])[]): string =>
  `${GAP}{${members.map(([k, v]) => `${GAP}"${k}"${GAP}:${GAP}${v}${GAP}`).join(',')}}${GAP}`;
const arrayText = (items: readonly string[]): string => `${GAP}[${items.map((i) => `${GAP}${i}${GAP}`).join(',')}${items.length === 0 ? GAP : ''}]${GAP}`;

/** ASCII without quotes, backslashes or control characters: strings JSON.parse reads byte for byte. */
const plainChar = fc
  .integer({ min: 0x20, max: 0x7f })
  .filter((c) => c !== 0x22 && c !== 0x5c)
  .map((c) => String.fromCharCode(c));
const plainString = (minLength: number, maxLength: number) => fc.string({ unit: plainChar, minLength, maxLength });

/** A JSON literal for a double as JS prints it (keeping -0). */
const printed = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
/** Any literal in JSON's number grammar, with short and long mantissas and small to huge exponents. */
const anyLiteral = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.tuple(fc.constantFrom(...'123456789'), digits(0, 24)).map(([a, b]) => a + b)),
    fc.option(digits(1, 30), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.oneof(digits(1, 2), fc.integer({ min: 0, max: 400 }).map(String), digits(3, 6))), {
      nil: undefined,
    }),
  )
  .map(([negative, integer, fraction, exponent]) => `${negative ? '-' : ''}${integer}${fraction === undefined ? '' : `.${fraction}`}${exponent ? exponent.join('') : ''}`);

/** Float32 values as clients print them: 17 digits of the double they become, or fewer. */
const float32Literal = fc
  .tuple(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 3 }))
  .map(([v, form]) => (form === 0 ? printed(v) : printed(Number(v.toPrecision(6 + 3 * form)))));

/** Literals within a hair of the middle between two float32s: where rounding to double, then float32, is closest to going the other way. */
const float32MidpointLiteral = fc
  .tuple(fc.float({ noNaN: true, noDefaultInfinity: true, min: 2 ** -149 }), fc.integer({ min: 16, max: 40 }), fc.integer({ min: -2, max: 2 }))
  .map(([f, precision, nudge]) => {
    const view = new Float32Array([f]);
    const bits = new Uint32Array(view.buffer);
    bits[0]! += 1;
    const middle = (f + view[0]!) / 2;
    // A few doubles either side of the exact middle, written with many digits.
    const nearby = middle + nudge * Number.EPSILON * middle;
    return Number.isFinite(nearby) ? nearby.toPrecision(precision) : printed(f);
  });

/** The exact decimal digits D and exponent k (value = D * 10^k) of the middle between a positive double and the next. */
function doubleMiddle(d: number): { digits: string; exponent: number } {
  const bits = new BigUint64Array(new Float64Array([d]).buffer)[0]!;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const significand = biased === 0 ? fraction : fraction | (1n << 52n);
  const power = (biased === 0 ? 1 : biased) - 1075 - 1;
  const odd = 2n * significand + 1n;
  return power >= 0 ? { digits: (odd << BigInt(power)).toString(), exponent: 0 } : { digits: (odd * 5n ** BigInt(-power)).toString(), exponent: power };
}

/**
 * Literals of 16 to 19 digits within a hair of the middle between two doubles,
 * and exact middles (ties, which round to even): where a conversion that is not
 * correctly rounded gives the other neighbour.
 */
const doubleMidpointLiteral = fc.oneof(
  fc.tuple(fc.double({ min: 1e-4, max: 1e20, noNaN: true }), fc.integer({ min: 16, max: 19 }), fc.integer({ min: -1, max: 1 })).map(([d, length, nudge]) => {
    const { digits, exponent } = doubleMiddle(d);
    const kept = BigInt(digits.slice(0, length)) + BigInt(nudge);
    return `${kept}e${digits.length - length + exponent}`;
  }),
  // Exact middles: integers between 2^53 and 10^19, and x.5, x.25, x.125 just below 2^53.
  fc.double({ min: 2 ** 53, max: 9e18, noNaN: true }).map((d) => doubleMiddle(d).digits),
  fc.bigInt({ min: 2n ** 52n, max: 2n ** 53n - 1n }).map((n) => `${n}.5`),
  fc.tuple(fc.bigInt({ min: 2n ** 51n, max: 2n ** 52n - 1n }), fc.constantFrom('25', '75')).map(([n, f]) => `${n}.${f}`),
  fc.tuple(fc.bigInt({ min: 2n ** 50n, max: 2n ** 51n - 1n }), fc.constantFrom('125', '375', '625', '875')).map(([n, f]) => `${n}.${f}`),
  fc.bigInt({ min: 10n ** 15n, max: 10n ** 19n - 1n }).map(String),
);

const doubleLiteral = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(printed),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e-300, max: 1e-300 }).map(printed),
  fc.integer({ min: -1000, max: 1000 }).map(String),
  anyLiteral,
  float32Literal,
  float32MidpointLiteral,
  doubleMidpointLiteral,
  fc.constantFrom('-0', '0.0', '-0.0e-5', '1e400', '-1e400', '1e-400', '5e-324', '2.4703282292062328e-324', '1.7976931348623157e308', '9007199254740993'),
);

const INTEGER_TYPES: Record<string, readonly [number, number]> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  INT64: [-(10 ** 15) + 1, 10 ** 15 - 1],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 2 ** 32 - 1],
  UINT64: [0, 10 ** 15 - 1],
};

function elementLiteral(datatype: string): fc.Arbitrary<string> {
  if (datatype === 'FP32' || datatype === 'FP64') return doubleLiteral;
  if (datatype === 'BOOL') return fc.constantFrom('true', 'false');
  const [min, max] = INTEGER_TYPES[datatype]!;
  return fc.oneof(fc.integer({ min, max }).map(String), fc.constantFrom('0', '-0', String(min), String(max)));
}

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** `literals` as `data`: flat, or nested exactly to the shape. */
function dataText(literals: readonly string[], shape: readonly number[], nested: boolean): string {
  if (!nested || shape.length < 2) return arrayText(literals);
  let k = 0;
  const level = (depth: number): string => {
    const items: string[] = [];
    for (let i = 0; i < shape[depth]!; i++) items.push(depth + 1 === shape.length ? literals[k++]! : level(depth + 1));
    return arrayText(items);
  };
  return level(0);
}

const DATATYPES = ['FP32', 'FP64', 'BOOL', ...Object.keys(INTEGER_TYPES)];
const shapes = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).filter((s) => elementCount(s) <= 24);

/** Swaps two keys of an order unless `first` already comes before `second`. */
const putBefore = (order: string[], first: string, second: string): string[] =>
  order.indexOf(first) < order.indexOf(second) ? order : order.map((k) => (k === first ? second : k === second ? first : k));

/** One input object's text. The datatype may come after numeric data; the shape never comes after the data. */
const inputText = fc
  .tuple(fc.constantFrom(...DATATYPES), shapes, plainString(1, 8), fc.boolean(), fc.shuffledSubarray(['name', 'datatype', 'shape', 'data'], { minLength: 4 }))
  .chain(([datatype, shape, name, nested, order]) =>
    fc.array(elementLiteral(datatype), { minLength: elementCount(shape), maxLength: elementCount(shape) }).map((literals) => {
      order = putBefore(order, 'shape', 'data');
      if (datatype === 'BOOL') order = putBefore(order, 'datatype', 'data');
      const values: Record<string, string> = {
        name: `"${name}"`,
        datatype: `"${datatype}"`,
        shape: arrayText(shape.map(String)),
        data: dataText(literals, shape, nested),
      };
      return objectText(order.map((k) => [k, values[k]!] as const));
    }),
  );

const parameterValue = fc.oneof(
  plainString(0, 8).map((s) => `"${s}"`),
  fc.constantFrom('true', 'false'),
  doubleLiteral,
);
const parametersText = fc
  .uniqueArray(fc.tuple(plainString(0, 6).filter((k) => k !== '__proto__'), parameterValue), { selector: ([k]) => k, maxLength: 4 })
  .map((members) => objectText(members));

const outputText = fc
  .tuple(plainString(1, 6), fc.option(parametersText, { nil: undefined }), fc.boolean())
  .map(([name, parameters, parametersFirst]) => {
    const members: [string, string][] = [['name', `"${name}"`]];
    if (parameters !== undefined) members[parametersFirst ? 'unshift' : 'push'](['parameters', parameters]);
    return objectText(members);
  });

const requestText = fc
  .tuple(
    fc.array(inputText, { minLength: 1, maxLength: 3 }),
    fc.option(plainString(0, 10), { nil: undefined }),
    fc.option(parametersText, { nil: undefined }),
    fc.option(fc.array(outputText, { maxLength: 2 }), { nil: undefined }),
    fc.integer({ min: 0, max: 23 }),
  )
  .map(([inputs, id, parameters, outputs, rotation]) => {
    const members: [string, string][] = [['inputs', arrayText(inputs)]];
    if (id !== undefined) members.push(['id', `"${id}"`]);
    if (parameters !== undefined) members.push(['parameters', parameters]);
    if (outputs !== undefined) members.push(['outputs', arrayText(outputs)]);
    const r = rotation % members.length;
    return objectText([...members.slice(r), ...members.slice(0, r)]);
  });

const requestBody = withWhitespace(requestText).map((text) => Buffer.from(text, 'latin1'));

// ---- Mutations of such requests ----

const GARBAGE = [
  ',', ']', '[', '{', '}', '"', '\\', '-', '.', 'e', 'E', '+', '0', '1', ' ', ':', '\u0000', 'null', 'true', '1e999', '01',
  '"__proto__":1,', '"x":1,', '"data":[1],', '"shape":[1],', '"parameters":{},', '"name":"x",', '"datatype":"FP32",', '\\u0061',
].map((s) => Buffer.from(s, 'latin1'));
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x22, 0x2c, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x2d, 0x2e, 0x65, 0xc3)) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), garbage: fc.constantFrom(...GARBAGE) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 24 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(body: Buffer, m: Mutation): Buffer {
  const at = m.at % (body.length + 1);
  switch (m.kind) {
    case 'truncate':
      return body.subarray(0, at);
    case 'flip': {
      const copy = Buffer.from(body);
      if (at < copy.length) copy[at] = m.byte;
      return copy;
    }
    case 'insert':
      return Buffer.concat([body.subarray(0, at), m.garbage, body.subarray(at)]);
    case 'delete':
      return Buffer.concat([body.subarray(0, at), body.subarray(at + m.length)]);
    case 'repeat':
      return Buffer.concat([body.subarray(0, at + m.length), body.subarray(at)]);
  }
}

describe('fast JSON request path, for random requests', () => {
  it('accepts every request in its grammar and decodes it exactly as the general decoder, within the budget estimate', () => {
    fc.assert(
      fc.property(requestBody, (body) => {
        expectSameAsGeneral(body);
        // The estimate the server reserves before decoding (the counted one, its lowest) covers the tensors made here.
        const tensorBytes = fast(body)!.inputs.reduce((sum, i) => sum + (i.data as ArrayBufferView).byteLength, 0);
        expect(tensorBytes).toBeLessThanOrEqual(estimateDecodedBytes(body, '', 0));
      }),
      { numRuns: 1500 },
    );
  });

  it('declines mutated requests, or decodes them exactly as the general decoder (never accepts a refused one)', () => {
    fc.assert(
      fc.property(requestBody, fc.array(mutation, { minLength: 1, maxLength: 3 }), (body, mutations) => {
        const mutated = mutations.reduce(mutate, body);
        expectDeclinedOrSame(mutated);
        // And the server's entry point answers with a request or a client error, nothing else.
        try {
          decodeInferRequest(mutated, target);
        } catch (error) {
          expect(error).toBeInstanceOf(ServingError);
          expect((error as ServingError).code).toBe('INVALID_ARGUMENT');
        }
      }),
      { numRuns: 4000 },
    );
  });

  it('reads literals near the middle between two doubles to the same bits as JSON.parse', () => {
    fc.assert(
      fc.property(fc.constantFrom('FP32', 'FP64'), fc.array(doubleMidpointLiteral, { minLength: 1, maxLength: 16 }), (datatype, literals) => {
        expectSameAsGeneral(tensorBody(datatype, `[${literals.length}]`, `[${literals.join(',')}]`));
      }),
      { numRuns: 3000 },
    );
  });

  it('reads float32 and double literals to the same bits as JSON.parse', () => {
    fc.assert(
      fc.property(fc.constantFrom('FP32', 'FP64'), fc.array(doubleLiteral, { minLength: 1, maxLength: 16 }), (datatype, literals) => {
        expectSameAsGeneral(tensorBody(datatype, `[${literals.length}]`, `[${literals.join(',')}]`));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('fast JSON request path, tricky literals', () => {
  it.each([
    // Zeros and signs.
    '0', '-0', '0.0', '-0.0', '-0e5', '0e-99999999999999999999', '-0.000e+400',
    // Clinger's fast path at its edges: 15 digits, 10^22, and past them.
    '123456789012345', '999999999999999', '1234567890123456', '9007199254740993', '9007199254740992.5',
    '1e22', '1e23', '1.5e22', '12345e25', '123456789012345e-22', '1e-22', '1e-23', '4.35e-23',
    // Correct rounding where a naive conversion slips.
    '0.1', '0.3', '0.30000000000000004', '2.2250738585072011e-308', '2.2250738585072012e-308', '2.225073858507201136057409796709131975934819546351645648e-308',
    '9007199254740993.0000000000000000001', '0.1000000000000000055511151231257827', '0.1000000000000000055511151231257828', '1.00000000000000011102230246251565404236316680908203125',
    // Subnormal doubles, underflow and overflow.
    '5e-324', '4.9406564584124654e-324', '2.4703282292062327e-324', '2.4703282292062328e-324', '1e-400', '-1e-400',
    '1.7976931348623157e308', '1.7976931348623158e308', '1.7976931348623159e308', '1e309', '-1e400', `1${'0'.repeat(400)}`,
    // Float32 edges: largest, overflow, smallest subnormal and half of it, and a tie to even.
    '3.4028234663852886e38', '3.4028235677973366e38', '3.4028235677973362e38', '1.401298464324817e-45', '7.006492321624085e-46', '7.006492321624086e-46',
    // Ties between two doubles, to even, in both directions, multiplied and divided.
    '9007199254740993', '9007199254740995', '18014398509481985', '18014398509481986', '18014398509481990', '9223372036854775808',
    '4503599627370496.5', '4503599627370497.5', '2251799813685248.25', '2251799813685248.75', '1125899906842624.125', '45035996273704965e-1', '4503599627370497.5e5',
    '16777217', '1.00000005960464477539062500', '1.0000000596046448', '1.0000000596046447', '0.42073549330234528',
    // Long mantissas and exponents.
    `0.${'3'.repeat(60)}`, `${'9'.repeat(30)}e-30`, '1E+2', '1e-0', '1e007', '12.5E-1',
    `0.${'0'.repeat(99990)}1e1000000`, `1e${'0'.repeat(50)}1`,
  ])('%s decodes as the general decoder does, as FP32 and as FP64', (literal) => {
    for (const datatype of ['FP32', 'FP64']) {
      const body = one(datatype, literal);
      expectSameAsGeneral(body);
      expectSameAsGeneral(tensorBody(datatype, '[1,1]', `[[${literal}]]`));
    }
  });

  it('keeps -0 as -0 in both widths', () => {
    expect(Object.is(fast(one('FP64', '-0'))!.inputs[0]!.data[0], -0)).toBe(true);
    expect(Object.is(fast(one('FP32', '-0.0'))!.inputs[0]!.data[0], -0)).toBe(true);
  });

  it.each(['01', '-01', '1.', '.5', '+1', '1e', '1e+', '-', '--1', '0x10', 'NaN', 'Infinity', '1.5.2', '1e5e5', '1 2', 'null', '"1"', 'true', '[1]', '1,'])(
    '%s is declined, and refused by the general decoder',
    (literal) => {
      const body = one('FP32', literal);
      expect(fast(body)).toBeUndefined();
      expect(general(body)).toBeUndefined();
    },
  );

  it.each([
    ['INT32', '2147483647', [2147483647]],
    ['INT32', '-2147483648', [-2147483648]],
    ['UINT8', '-0', [0]],
    ['INT64', '-0', [0n]],
    ['INT64', '999999999999999', [999999999999999n]],
    ['UINT64', '0', [0n]],
    ['BOOL', 'true', [1]],
  ] as const)('%s %s is read by the fast path, exactly', (datatype, literal, expected) => {
    const body = one(datatype, literal);
    expectSameAsGeneral(body);
    expect(Array.from(fast(body)!.inputs[0]!.data as ArrayLike<number | bigint>)).toEqual(expected);
  });

  it.each([
    // Outside the range: refused by the general decoder.
    ['INT32', '2147483648'],
    ['UINT8', '256'],
    ['UINT32', '-1'],
    ['BOOL', '1'],
    // Integers the general decoder reads from their text, exactly or not at all: left to it.
    ['INT64', '1234567890123456'],
    ['INT64', '9223372036854775807'],
    ['INT32', '1.0'],
    ['INT32', '1e3'],
    ['INT32', '1.5'],
    ['UINT8', '1e-400'],
  ])('%s %s is left to the general decoder', (datatype, literal) => {
    expectGeneralAnswer(one(datatype, literal));
  });
});

describe('fast JSON request path, what it leaves to the general decoder', () => {
  const input = '{"name":"x","datatype":"FP32","shape":[2],"data":[1,2]}';
  it.each([
    ['an escape in a string', '{"inputs":[{"name":"\\u0078","datatype":"FP32","shape":[2],"data":[1,2]}]}'],
    ['an escaped key', '{"inputs":[{"n\\u0061me":"x","datatype":"FP32","shape":[2],"data":[1,2]}]}'],
    ['a non-ASCII name', '{"inputs":[{"name":"xé","datatype":"FP32","shape":[2],"data":[1,2]}]}'],
    ['a repeated key', `{"inputs":[${input}],"inputs":[${input}]}`],
    ['a repeated input key', '{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[9,9],"data":[1,2]}]}'],
    ['a repeated parameter', `{"inputs":[${input}],"parameters":{"a":1,"a":2}}`],
    ['a __proto__ parameter', `{"inputs":[${input}],"parameters":{"__proto__":1}}`],
    ['an unknown top-level key', `{"inputs":[${input}],"extra":1}`],
    ['an unknown input key', '{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,2],"extra":1}]}'],
    ['input parameters', '{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,2],"parameters":{}}]}'],
    ['data before shape', '{"inputs":[{"name":"x","datatype":"FP32","data":[1,2],"shape":[2]}]}'],
    ['a dimension written 2.0', '{"inputs":[{"name":"x","datatype":"FP32","shape":[2.0],"data":[1,2]}]}'],
    ['a dimension written -0', '{"inputs":[{"name":"x","datatype":"FP32","shape":[-0],"data":[]}]}'],
    ['BYTES data', '{"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":["a"]}]}'],
    ['a null parameter', `{"inputs":[${input}],"parameters":{"a":null}}`],
    ['a nested parameter', `{"inputs":[${input}],"parameters":{"a":{"b":1}}}`],
    ['trailing garbage', `{"inputs":[${input}]}x`],
    ['a second object', `{"inputs":[${input}]}{}`],
    ['a trailing comma', `{"inputs":[${input},]}`],
    ['a control character in a string', `{"inputs":[${input}],"id":"a\tb"}`],
    ['no inputs', '{"id":"x"}'],
    ['an empty body', ''],
  ])('%s', (_, text) => {
    expectGeneralAnswer(Buffer.from(text, 'utf8'));
  });

  it('is not tried on a body with binary data', () => {
    const header = Buffer.from('{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}');
    expect(decodeCommonJsonRequest(header, { ...target, headerLength: String(header.length) })).toBeUndefined();
  });

  it('reads data nested to the shape, including empty dimensions, and declines other nesting', () => {
    expectSameAsGeneral(tensorBody('FP32', '[2,0]', '[[],[]]'));
    expectSameAsGeneral(tensorBody('FP32', '[0,2]', '[]'));
    expectSameAsGeneral(tensorBody('FP32', '[]', '[7]'));
    expectSameAsGeneral(tensorBody('FP32', '[2,2]', '[1,2,3,4]'));
    for (const [shape, data] of [['[2,2]', '[[1,2],[3]]'], ['[2,2]', '[[1,2],3,4]'], ['[2,2]', '[1,[2],3,4]'], ['[1,2]', '[[[1],[2]]]'], ['[]', '[[1]]'], ['[0]', '[[]]']]) {
      const body = tensorBody('FP32', shape!, data!);
      expect(fast(body), `${shape} ${data}`).toBeUndefined();
      expect(general(body), `${shape} ${data}`).toBeUndefined();
    }
  });

  it('reads the datatype after the data, converting as a direct store would', () => {
    for (const [datatype, shape, data] of [
      ['FP32', '[3]', '[0.1,-0,1e40]'],
      ['FP64', '[1,2]', '[[0.1,-0]]'],
      ['INT8', '[2]', '[-128,-0]'],
      ['INT64', '[2]', '[5,999999999999999]'],
      ['BOOL', '[0]', '[]'],
    ]) {
      expectSameAsGeneral(Buffer.from(`{"inputs":[{"shape":${shape},"data":${data},"name":"x","datatype":"${datatype}"}]}`));
    }
    expect(fast(Buffer.from('{"inputs":[{"shape":[1],"data":[1.5],"name":"x","datatype":"INT8"}]}'))).toBeUndefined();
    expect(fast(Buffer.from('{"inputs":[{"shape":[1],"data":[true],"name":"x","datatype":"BOOL"}]}'))).toBeUndefined();
  });

  it('declines a shape larger than the body before allocating for it, and nesting far deeper than any shape', () => {
    expect(fast(tensorBody('FP64', `[16,${2 ** 50}]`, '[1]'))).toBeUndefined();
    expect(fast(tensorBody('FP64', '[100000]', '[1]'))).toBeUndefined();
    const deep = Buffer.from(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":${'['.repeat(100000)}${']'.repeat(100000)}}]}`);
    expect(fast(deep)).toBeUndefined();
  });
});

describe('fast path allocation bound', () => {
  it('declines a shape the rest of the body cannot back, before allocating for it', () => {
    // 4M FP64 elements would be a 32 MB array; the body (4.5 MB, mostly spaces) lets the shape
    // pass the body-size check but backs one element.
    const shape = 4_000_000;
    const body = Buffer.from(`{"inputs":[{"name":"x","datatype":"FP64","shape":[${shape}],"data":[1]}]}` + ' '.repeat(4_500_000));
    const before = process.memoryUsage().arrayBuffers;
    expect(decodeCommonJsonRequest(body, { modelName: 'm', modelVersion: undefined, headerLength: '' })).toBeUndefined();
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});
