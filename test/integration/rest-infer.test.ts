import ort from 'onnxruntime-node';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ECHO_DATATYPES } from '../../src/modelgen/graphs.js';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { datatypeInfo, type Datatype, type TensorData } from '../../src/tensor/datatypes.js';
import { binaryRequest, readOutputs, type BinaryInput } from '../helpers/binary.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let repository: string;
const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;
const mixed = BUNDLED_MODELS.find((e) => e.model === 'mixed_types')!;

beforeAll(async () => {
  repository = writeRepository([
    { entry: TEST_MODELS.datatypeEcho, config: { max_batch_size: 16 } },
    { entry: tiny, config: { max_batch_size: 32 } },
    { entry: mixed },
  ]);
  server = await startServer(repository);
});

afterAll(async () => {
  await server?.stop();
});

const inferUrl = (model: string) => `${server.url}/v2/models/${model}/infer`;

/** Two rows of three elements per datatype, with values near each type's edges. */
function sampleData(datatype: Datatype): TensorData {
  switch (datatype) {
    case 'BOOL': return Uint8Array.from([1, 0, 1, 1, 0, 0]);
    case 'UINT8': return Uint8Array.from([0, 1, 127, 128, 254, 255]);
    case 'UINT16': return Uint16Array.from([0, 1, 300, 32768, 65534, 65535]);
    case 'UINT32': return Uint32Array.from([0, 1, 70000, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1]);
    case 'UINT64': return BigUint64Array.from([0n, 1n, 2n ** 40n, 2n ** 52n, 2n ** 53n - 1n, 12345n]);
    case 'INT8': return Int8Array.from([-128, -1, 0, 1, 100, 127]);
    case 'INT16': return Int16Array.from([-32768, -1, 0, 1, 1000, 32767]);
    case 'INT32': return Int32Array.from([-(2 ** 31), -1, 0, 1, 123456, 2 ** 31 - 1]);
    case 'INT64': return BigInt64Array.from([-(2n ** 53n) + 1n, -1n, 0n, 1n, 2n ** 40n, 2n ** 53n - 1n]);
    case 'FP16': return Uint16Array.from([0x3c00, 0xbc00, 0x0000, 0x7bff, 0x3555, 0xc000]);
    case 'FP32': return Float32Array.from([0, -1.5, 3.25, 1e-7, -65504, 0.1]);
    case 'FP64': return Float64Array.from([0, -1.5, Math.PI, 1e-300, -1e300, 0.1]);
    case 'BYTES': return ['', 'a', 'héllo', 'with space', '{"json": true}', 'x'.repeat(100)];
    case 'BF16': throw new Error('not an echo type');
  }
}

const jsonValues = (datatype: Datatype, data: TensorData): unknown[] => {
  if (Array.isArray(data)) return data;
  if (datatype === 'BOOL') return [...data].map((v) => v === 1);
  return Array.from(data as ArrayLike<number | bigint>).map((v) => (typeof v === 'bigint' ? Number(v) : v));
};

const echoInputs = (): BinaryInput[] =>
  ECHO_DATATYPES.map((datatype) => ({ name: `${datatype.toLowerCase()}_in`, datatype, shape: [2, 3], data: sampleData(datatype) }));

/** The same inputs run by onnxruntime-node in this process. */
async function directRun(model: string, inputs: BinaryInput[]): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(path.join(repository, model, '1', 'model.onnx'));
  const feeds = Object.fromEntries(
    inputs.map((i) => [i.name, new ort.Tensor(datatypeInfo(i.datatype).ortType!, i.data as ort.Tensor.DataType, i.shape)]),
  );
  const result = await session.run(feeds);
  await session.release();
  return result;
}

const plain = (data: unknown): unknown[] => (Array.isArray(data) ? data : Array.from(data as ArrayLike<unknown>));

describe('every datatype round-trips', () => {
  it('through the binary extension in both directions, equal to a direct ONNX Runtime run', async () => {
    const inputs = echoInputs();
    const { body, headers } = binaryRequest(inputs, { parameters: { binary_data_output: true } });
    const answer = await request(inferUrl('datatype_echo'), { method: 'POST', body, headers });
    expect(answer.status).toBe(200);
    const { outputs } = readOutputs(answer.body, answer.headers.get('inference-header-content-length'));
    const direct = await directRun('datatype_echo', inputs);
    for (const input of inputs) {
      const name = input.name.replace('_in', '_out');
      const output = outputs.find((o) => o.name === name)!;
      expect(output.datatype, name).toBe(input.datatype);
      expect(output.shape, name).toEqual([2, 3]);
      expect(plain(output.data), name).toEqual(plain(input.data));
      expect(plain(output.data), name).toEqual(plain(direct[name]!.data));
    }
  });

  it('through JSON, nested or flat, with FP16 returned binary since JSON cannot hold it', async () => {
    const inputs = echoInputs();
    const json = {
      inputs: inputs
        .filter((i) => i.datatype !== 'FP16')
        .map((i, k) => {
          const values = jsonValues(i.datatype, i.data);
          // Alternate flat and nested data.
          return { name: i.name, datatype: i.datatype, shape: i.shape, data: k % 2 ? values : [values.slice(0, 3), values.slice(3)] };
        }),
    };
    const fp16 = inputs.find((i) => i.datatype === 'FP16')!;
    const header = Buffer.from(
      JSON.stringify({ ...json, inputs: [...json.inputs, { name: fp16.name, datatype: 'FP16', shape: fp16.shape, parameters: { binary_data_size: 12 } }] }),
    );
    const answer = await request(inferUrl('datatype_echo'), {
      method: 'POST',
      body: Buffer.concat([header, Buffer.from((fp16.data as Uint16Array).buffer)]),
      headers: { 'inference-header-content-length': String(header.length) },
    });
    expect(answer.status).toBe(200);
    const { outputs } = readOutputs(answer.body, answer.headers.get('inference-header-content-length'));
    for (const input of inputs) {
      const output = outputs.find((o) => o.name === input.name.replace('_in', '_out'))!;
      const expected = input.datatype === 'FP16' ? plain(input.data) : jsonValues(input.datatype, input.data);
      if (input.datatype === 'FP32') {
        (output.data as number[]).forEach((v, i) => expect(v).toBeCloseTo(Math.fround(expected[i] as number), 12));
      } else {
        expect(plain(output.data), input.name).toEqual(expected);
      }
    }
  });
});

describe('inference', () => {
  const rows = (n: number) => Array.from({ length: n * 64 }, (_, i) => Math.sin(i) * 0.5);

  it('answers the tiny classifier as ONNX Runtime does, and echoes the id', async () => {
    const data = rows(3);
    const answer = await postJson(inferUrl('tiny_classifier'), {
      id: 'req-7',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 64], data }],
    });
    expect(answer.status).toBe(200);
    const body = answer.json<{ id: string; model_version: string; outputs: { data: number[]; shape: number[] }[] }>();
    expect(body.id).toBe('req-7');
    expect(body.model_version).toBe('1');
    expect(body.outputs[0]!.shape).toEqual([3, 10]);
    const direct = await directRun('tiny_classifier', [{ name: 'input', datatype: 'FP32', shape: [3, 64], data: Float32Array.from(data) }]);
    const expected = Array.from(direct['probabilities']!.data as Float32Array);
    body.outputs[0]!.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
  });

  it('returns only the requested outputs, in the order asked, binary where asked', async () => {
    const answer = await postJson(inferUrl('mixed_types'), {
      inputs: [
        { name: 'ids', datatype: 'INT64', shape: [1, 8], data: [1, 2, 3, 4, 5, 6, 7, 8] },
        { name: 'features', datatype: 'FP32', shape: [1, 16], data: new Array(16).fill(0.25) },
        { name: 'mask', datatype: 'BOOL', shape: [1, 8], data: [true, true, false, false, true, true, false, false] },
        { name: 'tag', datatype: 'BYTES', shape: [1, 1], data: ['ünïcode'] },
      ],
      outputs: [{ name: 'tag_echo', parameters: { binary_data: true } }, { name: 'id_sum' }],
    });
    expect(answer.status).toBe(200);
    const { outputs } = readOutputs(answer.body, answer.headers.get('inference-header-content-length'));
    expect(outputs.map((o) => o.name)).toEqual(['tag_echo', 'id_sum']);
    expect(outputs[0]!.data).toEqual(['ünïcode']);
    expect(outputs[1]!.data).toEqual([1 + 2 + 5 + 6]);
  });

  it('answers 400 for requested outputs the model does not have', async () => {
    const answer = await postJson(inferUrl('tiny_classifier'), {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: rows(1) }],
      outputs: [{ name: 'nope' }],
    });
    expect(answer.status).toBe(400);
    expect(answer.json()['error']).toMatch(/unknown output "nope"/);
  });
});
