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
