import { describe, expect, it } from 'vitest';
import { ServingError } from '../../src/errors.js';
import { decodeInferRequest } from '../../src/http/infer-request.js';
import { encodeBytesElements } from '../../src/tensor/bytes-elements.js';

const target = { modelName: 'm', headerLength: '' };
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const input = (fields: Record<string, unknown>) => ({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2], ...fields }] });

function binaryBody(header: unknown, ...parts: Uint8Array[]): { body: Buffer; headerLength: string } {
  const head = json(header);
  return { body: Buffer.concat([head, ...parts]), headerLength: String(head.length) };
}

function refusal(body: Buffer, headerLength = ''): string {
  try {
    decodeInferRequest(body, { ...target, headerLength });
  } catch (error) {
    expect(error).toBeInstanceOf(ServingError);
    expect((error as ServingError).code).toBe('INVALID_ARGUMENT');
    return (error as Error).message;
  }
  throw new Error('expected the request to be refused');
}

describe('decodeInferRequest', () => {
  it('decodes flat and nested JSON data to the same typed array', () => {
    const flat = decodeInferRequest(json(input({ shape: [2, 2], data: [1, 2, 3, 4] })), target);
    const nested = decodeInferRequest(json(input({ shape: [2, 2], data: [[1, 2], [3, 4]] })), target);
    expect(flat.inputs[0]!.data).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(nested.inputs[0]!.data).toEqual(new Float32Array([1, 2, 3, 4]));
  });

  it('keeps id, parameters and requested outputs', () => {
    const request = decodeInferRequest(
      json({ id: 'r1', parameters: { timeout: 5, tag: 'a' }, ...input({}), outputs: [{ name: 'y', parameters: { binary_data: true } }] }),
      target,
    );
    expect(request.id).toBe('r1');
    expect(request.parameters).toEqual({ timeout: 5, tag: 'a' });
    expect(request.outputs).toEqual([{ name: 'y', parameters: { binary_data: true } }]);
  });

  it('reads inputs from the binary part in order', () => {
    const a = new Float32Array([1.5, 2.5]);
    const b = encodeBytesElements(['hi', 'thére']);
    const { body, headerLength } = binaryBody(
      {
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } },
          { name: 'b', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: b.length } },
        ],
      },
      new Uint8Array(a.buffer),
      b,
    );
    const request = decodeInferRequest(body, { ...target, headerLength });
    expect(request.inputs[0]!.data).toEqual(a);
    expect(request.inputs[1]!.data).toEqual(['hi', 'thére']);
  });

  it.each([
    ['malformed JSON', Buffer.from('{"inputs": [')],
    ['an empty body', Buffer.alloc(0)],
    ['a JSON array', json([1])],
    ['no inputs', json({ inputs: [] })],
    ['an unknown datatype', json(input({ datatype: 'FP33' }))],
    ['a negative dimension', json(input({ shape: [-1, 2] }))],
    ['a fractional dimension', json(input({ shape: [1.5, 2] }))],
    ['a shape that disagrees with the data', json(input({ shape: [1, 3] }))],
    ['a string in numeric data', json(input({ data: [1, 'NaN'] }))],
    ['ragged nested data', json(input({ shape: [2, 2], data: [[1, 2, 3], [4]] }))],
    ['nesting that disagrees with the shape', json(input({ shape: [2, 2], data: [[1, 2], [3, [4]]] }))],
    ['an integer out of range', json({ inputs: [{ name: 'x', datatype: 'UINT8', shape: [1], data: [256] }] })],
    ['a boolean given as a number', json({ inputs: [{ name: 'x', datatype: 'BOOL', shape: [1], data: [1] }] })],
    ['FP16 as JSON', json({ inputs: [{ name: 'x', datatype: 'FP16', shape: [1], data: [1] }] })],
    ['both data and binary_data_size', json(input({ parameters: { binary_data_size: 8 } }))],
    ['neither data nor binary_data_size', json({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }] })],
    ['a nameless input', json({ inputs: [{ datatype: 'FP32', shape: [1], data: [1] }] })],
    ['a non-string id', json({ id: 5, ...input({}) })],
    ['an object parameter', json({ parameters: { a: { b: 1 } }, ...input({}) })],
    ['data nested deeper than the shape', json(input({ shape: [1, 2], data: [[[1], [2]]] }))],
    ['deeply nested data', Buffer.from(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":${'['.repeat(100000)}${']'.repeat(100000)}}]}`)],
    ['a shape of more than 32 dimensions', json(input({ shape: new Array(40).fill(1), data: [1] }))],
  ])('refuses %s with a clear message', (_, body) => {
    expect(refusal(body).length).toBeGreaterThan(10);
  });

  it('refuses a huge declared shape with a tiny body before allocating', () => {
    const message = refusal(json(input({ shape: [16, 2 ** 60], data: [1] })));
    expect(message).toMatch(/declares more elements/);
  });

  it('refuses a binary size that disagrees with the shape', () => {
    const { body, headerLength } = binaryBody(
      { inputs: [{ name: 'a', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 4 } }] },
      new Uint8Array(4),
    );
    expect(refusal(body, headerLength)).toMatch(/binary_data_size 4 does not match/);
  });

  it('refuses binary data that runs past the body, and bytes no input claims', () => {
    const short = binaryBody({ inputs: [{ name: 'a', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } }] }, new Uint8Array(4));
    expect(refusal(short.body, short.headerLength)).toMatch(/runs past the binary data/);
    const extra = binaryBody({ inputs: [{ name: 'a', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } }] }, new Uint8Array(6));
    expect(refusal(extra.body, extra.headerLength)).toMatch(/2 bytes of binary data that no input claims/);
  });

  it('refuses BYTES elements whose length prefix runs past the buffer', () => {
    const bad = Buffer.alloc(8);
    bad.writeUInt32LE(1000, 0);
    const { body, headerLength } = binaryBody({ inputs: [{ name: 's', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 8 } }] }, bad);
    expect(refusal(body, headerLength)).toMatch(/declares 1000 bytes but only 4 remain/);
  });

  it.each([['abc'], ['-1'], ['99999999'], ['1e3']])('refuses Inference-Header-Content-Length %s', (value) => {
    expect(refusal(json(input({})), value)).toMatch(/Inference-Header-Content-Length/);
  });
});

/**
 * Issue 12, item 4: JSON.parse rounds integers past 2^53 (and wraps them past 2^63 once
 * stored in a BigInt64Array), so the server computed on numbers the client never sent.
 * Request bodies here are written as text: JSON.stringify cannot hold such integers.
 */
describe('integer data in JSON is exact or refused', () => {
  const integerBody = (datatype: string, data: string, extra = ''): Buffer =>
    Buffer.from(`{${extra}"inputs":[{"name":"ids","datatype":"${datatype}","shape":[${data.split(',').length}],"data":[${data}]}]}`);
  const decoded = (body: Buffer): unknown[] => Array.from(decodeInferRequest(body, target).inputs[0]!.data as ArrayLike<unknown>);

  it.each([
    ['INT64', '9007199254740993,-9007199254740993', [2n ** 53n + 1n, -(2n ** 53n) - 1n]],
    ['INT64', '9223372036854775807,-9223372036854775808', [2n ** 63n - 1n, -(2n ** 63n)]],
    ['UINT64', '18446744073709551615,9223372036854775808,0', [2n ** 64n - 1n, 2n ** 63n, 0n]],
    ['INT64', '1e18,12345678901234567e2,1000.000000000000000000,-0', [10n ** 18n, 1234567890123456700n, 1000n, 0n]],
    ['UINT64', '10000e-4,4.2e1', [1n, 42n]],
  ])('%s data [%s] keeps every digit', (datatype, data, expected) => {
    expect(decoded(integerBody(datatype, data))).toEqual(expected);
  });

  it('finds a 16-digit literal at any offset in the body', () => {
    for (let pad = 0; pad < 40; pad++) {
      const body = Buffer.from(`{"inputs":[{"name":"ids","datatype":"INT64","shape":[1],"data":[${' '.repeat(pad)}9007199254740993]}]}`);
      expect(decoded(body), `padded by ${pad}`).toEqual([9007199254740993n]);
    }
  });

  it('reads the literals of the right input, past other inputs, strings, escapes and repeated names', () => {
    const body = Buffer.from(
      `{"id":"x 12345678901234567 \\" [1,2]","inputs":[` +
        `{"name":"f","datatype":"FP32","shape":[2],"data":[0.12345678901234567,-1e-7]},` +
        `{"name":"a","datatype":"INT64","shape":[2,1],"data":[1,2],"d\\u0061ta":[[9007199254740993],[-9007199254740995]],"extra":{"data":[5]}},` +
        `{"name":"b","datatype":"UINT64","shape":[1],"data":[18446744073709551614]}]}`,
    );
    const request = decodeInferRequest(body, target);
    expect(Array.from(request.inputs[1]!.data as BigInt64Array)).toEqual([9007199254740993n, -9007199254740995n]);
    expect(Array.from(request.inputs[2]!.data as BigUint64Array)).toEqual([18446744073709551614n]);
  });

  it.each([
    ['INT64 2^63', 'INT64', '9223372036854775808', 'data[0] must be an integer in [-9223372036854775808, 9223372036854775807], got 9223372036854775808'],
    ['INT64 -2^63-1', 'INT64', '1,-9223372036854775809', 'data[1] must be an integer in [-9223372036854775808, 9223372036854775807], got -9223372036854775809'],
    ['UINT64 2^64', 'UINT64', '18446744073709551616', 'got 18446744073709551616'],
    ['UINT64 -1', 'UINT64', '5,-1', 'data[1] must be an integer in [0, 18446744073709551615], got -1'],
    ['INT64 1.5', 'INT64', '1.5', 'data[0] must be an integer in [-9223372036854775808, 9223372036854775807], got 1.5'],
    ['INT64 1e400 (Infinity)', 'INT64', '1e400', 'got 1e400'],
    ['INT64 1e-400 (parsed as 0)', 'INT64', '1e-400', 'got 1e-400'],
    ['INT32 1.0000000000000000001 (parsed as 1)', 'INT32', '1.0000000000000000001', 'data[0] must be an integer in [-2147483648, 2147483647], got 1.0000000000000000001'],
    ['INT32 2147483647.00000000001', 'INT32', '2147483647.00000000001', 'got 2147483647.00000000001'],
    ['UINT8 1e-400 (parsed as 0)', 'UINT8', '0,1e-400', 'data[1] must be an integer in [0, 255], got 1e-400'],
    ['INT64 10^100000, cut short', 'INT64', `1${'0'.repeat(100000)}`, `got 1${'0'.repeat(39)}…`],
  ])('refuses %s naming the input, the index and the value', (_, datatype, data, message) => {
    const refused = refusal(integerBody(datatype, data));
    expect(refused).toContain(message);
    expect(refused).toMatch(/^input ids: data\[\d\]/);
  });
});
