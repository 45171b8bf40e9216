/**
 * Issue 12, item 4: INT64 and UINT64 sent as JSON went through JSON.parse's doubles,
 * so 2^53+1 reached the model as 2^53 and 2^63 wrapped to -2^63, silently. Through a
 * real server and an Identity echo, every digit must come back, and integers the
 * datatype cannot hold must be refused with 400 naming the input, index and value.
 * Bodies are written and read as text: JSON.stringify and JSON.parse would round them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datatypeEcho } from '../../src/modelgen/graphs.js';
import { TEST_MODELS, writeRepository } from '../helpers/repository.js';
import { request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  const repository = writeRepository([
    // The datatype echo, cut down to the integer types so a request need not carry all thirteen.
    { entry: { ...TEST_MODELS.datatypeEcho, graph: () => datatypeEcho(['INT64', 'UINT64', 'INT32']) }, config: { max_batch_size: 16 } },
  ]);
  server = await startServer(repository);
});

afterAll(async () => {
  await server?.stop();
});

interface IntegerInputs {
  int64: readonly string[];
  uint64: readonly string[];
  int32: readonly string[];
}

/** One row per request; every list the same length. */
function post(inputs: IntegerInputs) {
  const input = (name: string, datatype: string, literals: readonly string[]) =>
    `{"name":"${name}","datatype":"${datatype}","shape":[1,${literals.length}],"data":[${literals.join(',')}]}`;
  const body = `{"inputs":[${input('int64_in', 'INT64', inputs.int64)},${input('uint64_in', 'UINT64', inputs.uint64)},${input('int32_in', 'INT32', inputs.int32)}]}`;
  return request(`${server.url}/v2/models/datatype_echo/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
}

/** An output's `data` as the literals the server wrote. */
function outputLiterals(body: string, name: string): string[] {
  const match = new RegExp(`"name":"${name}","datatype":"\\w+","shape":\\[[\\d,]*\\],"data":\\[([^\\]]*)\\]`).exec(body);
  if (!match) throw new Error(`no output ${name} in ${body.slice(0, 300)}`);
  return match[1]!.split(',');
}

describe('64-bit integers through JSON', () => {
  it('echo every digit: 2^53+1, 2^63-1, -2^63 as INT64 and 2^64-1, 2^63 as UINT64', async () => {
    const sent: IntegerInputs = {
      int64: ['9007199254740993', '9223372036854775807', '-9223372036854775808', '-9007199254740993'],
      uint64: ['18446744073709551615', '9223372036854775808', '9007199254740993', '0'],
      int32: ['2147483647', '-2147483648', '0', '1'],
    };
    const answer = await post(sent);
    const body = answer.body.toString();
    expect(answer.status, body).toBe(200);
    expect(outputLiterals(body, 'int64_out')).toEqual(sent.int64);
    expect(outputLiterals(body, 'uint64_out')).toEqual(sent.uint64);
    expect(outputLiterals(body, 'int32_out')).toEqual(sent.int32);
  });

  it('keep each request its own exact values when requests are batched together', async () => {
    const rows = Array.from({ length: 12 }, (_, k) => ({
      int64: [String(2n ** 62n + BigInt(k) * 2n + 1n), String(-(2n ** 53n) - BigInt(k) - 1n)],
      uint64: [String(2n ** 64n - 1n - BigInt(k)), String(2n ** 53n + BigInt(k) + 1n)],
      int32: [String(k), String(-k)],
    }));
    const answers = await Promise.all(rows.map(post));
    answers.forEach((answer, k) => {
      const body = answer.body.toString();
      expect(answer.status, body).toBe(200);
      expect(outputLiterals(body, 'int64_out')).toEqual(rows[k]!.int64);
      expect(outputLiterals(body, 'uint64_out')).toEqual(rows[k]!.uint64);
    });
  });

  it.each([
    ['2^63 as INT64', { int64: ['1', '9223372036854775808'] }, 'input int64_in: data[1] must be an integer in [-9223372036854775808, 9223372036854775807], got 9223372036854775808'],
    ['-1 as UINT64', { uint64: ['0', '-1'] }, 'input uint64_in: data[1] must be an integer in [0, 18446744073709551615], got -1'],
    ['1.5 as INT64', { int64: ['1.5', '2'] }, 'input int64_in: data[0] must be an integer in [-9223372036854775808, 9223372036854775807], got 1.5'],
    ['2^64 as UINT64', { uint64: ['18446744073709551616', '1'] }, 'input uint64_in: data[0] must be an integer in [0, 18446744073709551615], got 18446744073709551616'],
  ])('refuse %s with 400 naming the input, the index and the value', async (_, override, message) => {
    const answer = await post({ int64: ['1', '2'], uint64: ['1', '2'], int32: ['1', '2'], ...override });
    expect(answer.status).toBe(400);
    expect(answer.json()).toEqual({ error: message });
  });
});
