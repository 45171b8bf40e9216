import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { ECHO_DATATYPES } from '../../src/modelgen/graphs.js';
import { encodeBytesElements } from '../../src/tensor/bytes-elements.js';
import { bytesOf, datatypeInfo, viewBytes, type Datatype, type TensorData } from '../../src/tensor/datatypes.js';
import { decodeBytesElements } from '../../src/tensor/bytes-elements.js';
import { binaryRequest, readOutputs } from '../helpers/binary.js';
import { waitFor } from '../helpers/conditions.js';
import { GrpcTestClient, reflectionClient } from '../helpers/grpc-client.js';
import { IN_FLIGHT, modelStats, queueDepth, waitForSeries } from '../helpers/observe.js';
import { writeRepository } from '../helpers/repository.js';
import { request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let client: GrpcTestClient;
const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;

beforeAll(async () => {
  const repository = writeRepository([
    { entry: TEST_MODELS.datatypeEcho, config: { max_batch_size: 16 } },
    { entry: TEST_MODELS.typedEcho, config: { max_batch_size: 16 } },
    { entry: tiny, config: { max_batch_size: 64, instances: 1 } },
    { entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 4 } } },
  ]);
  server = await startServer(repository, ['--grpc-max-message-bytes', String(256 * 1024)]);
  client = new GrpcTestClient(server.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

const grpcError = async (promise: Promise<unknown>): Promise<ServiceError> => {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail');
};

/** Two rows of three per datatype, as in the REST round-trip test. */
function sample(datatype: Datatype): TensorData {
  const values: Record<string, TensorData> = {
    BOOL: Uint8Array.from([1, 0, 1, 0, 0, 1]),
    UINT8: Uint8Array.from([0, 1, 2, 128, 254, 255]),
    UINT16: Uint16Array.from([0, 1, 2, 300, 65534, 65535]),
    UINT32: Uint32Array.from([0, 1, 2, 70000, 2 ** 32 - 2, 2 ** 32 - 1]),
    UINT64: BigUint64Array.from([0n, 1n, 2n, 2n ** 60n, 2n ** 64n - 2n, 2n ** 64n - 1n]),
    INT8: Int8Array.from([-128, -1, 0, 1, 2, 127]),
    INT16: Int16Array.from([-32768, -1, 0, 1, 2, 32767]),
    INT32: Int32Array.from([-(2 ** 31), -1, 0, 1, 2, 2 ** 31 - 1]),
    INT64: BigInt64Array.from([-(2n ** 63n), -1n, 0n, 1n, 2n ** 62n, 2n ** 63n - 1n]),
    FP16: Uint16Array.from([0x3c00, 0xbc00, 0, 0x7bff, 0x3555, 0xc000]),
    FP32: Float32Array.from([0, -1.5, 3.25, 1e-7, -65504, 0.5]),
    FP64: Float64Array.from([0, -1.5, Math.PI, 1e-300, -1e300, 0.1]),
    BYTES: ['', 'a', 'héllo', 'with space', '\u{1F600}', 'x'.repeat(50)],
  };
  return values[datatype]!;
}

const echoTensors = () =>
  ECHO_DATATYPES.map((datatype) => ({ name: `${datatype.toLowerCase()}_in`, datatype, shape: [2, 3], data: sample(datatype) }));

const rawOf = (data: TensorData): Buffer => (Array.isArray(data) ? encodeBytesElements(data) : Buffer.from(bytesOf(data)));

function typedContents(datatype: Datatype, data: TensorData): Record<string, unknown> {
  const list = Array.isArray(data) ? data : Array.from(data as ArrayLike<number | bigint>);
  switch (datatype) {
    case 'BOOL': return { bool_contents: list.map((v) => v === 1) };
    case 'INT8': case 'INT16': case 'INT32': return { int_contents: list };
    case 'INT64': return { int64_contents: list.map(String) };
    case 'UINT8': case 'UINT16': case 'UINT32': return { uint_contents: list };
    case 'UINT64': return { uint64_contents: list.map(String) };
    case 'FP32': return { fp32_contents: list };
    case 'FP64': return { fp64_contents: list };
    case 'BYTES': return { bytes_contents: (list as string[]).map((s) => Buffer.from(s)) };
    default: throw new Error(`${datatype} has no typed contents`);
  }
}

/** JSON with 64-bit integers written as exact literals: JSON.stringify has no BigInt, and a Number would round them. */
const exactJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `<bigint ${v}>` : v)).replace(/"<bigint (-?\d+)>"/g, '$1');

interface InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: Datatype; shape: string[] }[];
  raw_output_contents: Buffer[];
}

function outputsOf(response: InferResponse): Map<string, unknown[]> {
  return new Map(
    response.outputs.map((o, i) => {
      const bytes = new Uint8Array(response.raw_output_contents[i]!);
      const count = o.shape.reduce((a, b) => a * Number(b), 1);
      const data = o.datatype === 'BYTES' ? decodeBytesElements(bytes, count, o.name) : viewBytes(datatypeInfo(o.datatype), bytes);
      return [o.name, Array.isArray(data) ? data : Array.from(data as ArrayLike<unknown>)];
    }),
  );
}

describe('server and model RPCs', () => {
  it('answers ServerLive, ServerReady and ServerMetadata', async () => {
    expect(await client.call('ServerLive', {})).toEqual({ live: true });
    expect(await client.call('ServerReady', {})).toEqual({ ready: true });
    const meta = await client.call<{ name: string; extensions: string[] }>('ServerMetadata', {});
    expect(meta.name).toBe('brisk');
    expect(meta.extensions).toContain('binary_tensor_data');
  });

  it('answers ModelReady and ModelMetadata like REST does', async () => {
    expect(await client.call('ModelReady', { name: 'tiny_classifier', version: '' })).toEqual({ ready: true });
    const meta = await client.call('ModelMetadata', { name: 'tiny_classifier', version: '1' });
    const rest = (await request(`${server.url}/v2/models/tiny_classifier/versions/1`)).json<Record<string, unknown>>();
    expect(meta).toEqual({
      ...rest,
      inputs: [{ name: 'input', datatype: 'FP32', shape: ['-1', '64'] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: ['-1', '10'] }],
    });
  });

  it('answers NOT_FOUND for unknown models and INVALID_ARGUMENT for invalid names', async () => {
    expect((await grpcError(client.call('ModelMetadata', { name: 'nope', version: '' }))).code).toBe(status.NOT_FOUND);
    expect((await grpcError(client.call('ModelReady', { name: '../etc', version: '' }))).code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('ModelInfer', () => {
  it('round-trips every datatype through raw contents, equal to the REST answer', async () => {
    const tensors = echoTensors();
    const response = await client.call<InferResponse>('ModelInfer', {
      model_name: 'datatype_echo',
      id: 'raw-1',
      inputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
      raw_input_contents: tensors.map((t) => rawOf(t.data)),
    });
    expect(response.id).toBe('raw-1');
    const grpcOutputs = outputsOf(response);
    const { body, headers } = binaryRequest(tensors, { parameters: { binary_data_output: true } });
    const rest = await request(`${server.url}/v2/models/datatype_echo/infer`, { method: 'POST', body, headers });
    const restOutputs = readOutputs(rest.body, rest.headers.get('inference-header-content-length')).outputs;
    for (const t of tensors) {
      const name = t.name.replace('_in', '_out');
      const expected = Array.isArray(t.data) ? t.data : Array.from(t.data as ArrayLike<unknown>);
      expect(grpcOutputs.get(name), name).toEqual(expected);
      const restData = restOutputs.find((o) => o.name === name)!.data;
      expect(grpcOutputs.get(name), name).toEqual(Array.isArray(restData) ? restData : Array.from(restData as ArrayLike<unknown>));
    }
  });

  it('round-trips every datatype with typed contents, equal to the REST JSON answer', async () => {
    // FP16 has no typed field: it travels raw only, so this model has every other datatype.
    const tensors = echoTensors().filter((t) => t.datatype !== 'FP16');
    const response = await client.call<InferResponse>('ModelInfer', {
      model_name: 'typed_echo',
      inputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, contents: typedContents(t.datatype, t.data) })),
    });
    const grpcOutputs = outputsOf(response);
    const rest = await request(`${server.url}/v2/models/typed_echo/infer`, {
      method: 'POST',
      body: exactJson({
        inputs: tensors.map((t) => {
          const list = Array.isArray(t.data) ? t.data : Array.from(t.data as ArrayLike<number | bigint>);
          const data = t.datatype === 'BOOL' ? list.map((v) => v === 1) : list;
          return { name: t.name, datatype: t.datatype, shape: t.shape, data };
        }),
      }),
    });
    expect(rest.status).toBe(200);
    const restOutputs = rest.json<{ outputs: { name: string; data: unknown[] }[] }>().outputs;
    for (const t of tensors) {
      const name = t.name.replace('_in', '_out');
      const expected = Array.isArray(t.data) ? t.data : Array.from(t.data as ArrayLike<unknown>);
      expect(grpcOutputs.get(name), name).toEqual(expected);
      if (t.datatype === 'UINT64' || t.datatype === 'INT64') continue; // JSON numbers cannot hold every 64-bit value
      const restData = restOutputs.find((o) => o.name === name)!.data;
      const asGrpc = t.datatype === 'BOOL' ? restData.map((v) => (v ? 1 : 0)) : restData;
      expect(grpcOutputs.get(name), name).toEqual(asGrpc);
    }
  });

  it('returns the requested outputs only, and echoes the id', async () => {
    const response = await client.call<InferResponse>('ModelInfer', {
      model_name: 'tiny_classifier',
      id: 'abc',
      inputs: [{ name: 'input', datatype: 'FP32', shape: ['1', '64'], contents: { fp32_contents: new Array(64).fill(0.25) } }],
      outputs: [{ name: 'probabilities' }],
    });
    expect(response.id).toBe('abc');
    expect(response.model_version).toBe('1');
    const probabilities = outputsOf(response).get('probabilities') as number[];
    expect(probabilities).toHaveLength(10);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it.each([
    ['a wrong datatype', { datatype: 'FP64', contents: { fp64_contents: new Array(64).fill(0) } }, /datatype FP64 does not match/],
    ['contents shorter than the shape', { contents: { fp32_contents: [1, 2] } }, /fp32_contents has 2 elements but shape \[1, 64\] needs 64/],
    ['a negative dimension', { shape: ['-1', '64'] }, /shape\[0\] must be a non-negative integer/],
    ['raw bytes that disagree with the shape', { raw: Buffer.alloc(10) }, /10 bytes of data do not match shape \[1, 64\] of FP32 \(256 bytes\)/],
  ])('refuses %s with INVALID_ARGUMENT', async (_, change, message) => {
    const { raw, ...fields } = change as { raw?: Buffer };
    const error = await grpcError(
      client.call('ModelInfer', {
        model_name: 'tiny_classifier',
        inputs: [{ name: 'input', datatype: 'FP32', shape: ['1', '64'], contents: { fp32_contents: new Array(64).fill(0) }, ...fields }],
        ...(raw ? { raw_input_contents: [raw] } : {}),
      }),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(message);
  });

  it('answers NOT_FOUND for an unknown model', async () => {
    const error = await grpcError(client.call('ModelInfer', { model_name: 'nope', inputs: [{ name: 'x', datatype: 'FP32', shape: ['1'] }] }));
    expect(error.code).toBe(status.NOT_FOUND);
  });

  it('refuses a message over the size limit with RESOURCE_EXHAUSTED', async () => {
    const error = await grpcError(
      client.call('ModelInfer', {
        model_name: 'tiny_classifier',
        inputs: [{ name: 'input', datatype: 'FP32', shape: ['1024', '64'] }],
        raw_input_contents: [Buffer.alloc(1024 * 256)],
      }),
    );
    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
  });
});

describe('deadlines and cancellation', () => {
  const slow = { model_name: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: ['1', '4'], contents: { fp32_contents: [1, 2, 3, 4] } }] };
  const slowStats = () => modelStats(server.url, 'slow');

  it('fails with DEADLINE_EXCEEDED when the deadline passes while queued, and the request never runs', async () => {
    const before = await slowStats();
    // One runs and one waits: the call with a deadline is third, about a second from its turn.
    const ahead = [client.call('ModelInfer', slow), client.call('ModelInfer', slow)];
    await waitForSeries(server.url, { [IN_FLIGHT]: 2, [queueDepth('slow')]: 1 });
    const error = await grpcError(client.call('ModelInfer', slow, { deadlineMs: 200 }));
    // The client's own timer gives this code whatever the server does; what follows checks the server.
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    const dropped = (stats: Awaited<ReturnType<typeof slowStats>>) => stats.dropped.timedOut + stats.dropped.cancelled;
    await waitFor('the server to drop the call', async () => dropped(await slowStats()) === dropped(before) + 1);
    await Promise.all(ahead);
    // Queued after the dropped call: once it is answered, the dropped call would have run too.
    await client.call('ModelInfer', slow);
    const after = await slowStats();
    expect(dropped(after) - dropped(before)).toBe(1);
    expect(after.execution_count - before.execution_count).toBe(3);
    expect(after.inference_count - before.inference_count).toBe(3);
  });

  it('refuses calls past the queue limit with UNAVAILABLE at once', async () => {
    // One runs and four wait (max_queue_size 4); the rest are refused.
    const calls = Array.from({ length: 8 }, () => client.call('ModelInfer', slow).then(() => undefined, (error: ServiceError) => error));
    const outcomes = await Promise.all(calls);
    const refused = outcomes.filter((o): o is ServiceError => o !== undefined);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const error of refused) {
      expect(error.code).toBe(status.UNAVAILABLE);
      expect(error.details).toMatch(/max_queue_size 4/);
    }
  });

  it('drops a call cancelled while queued', async () => {
    const before = await slowStats();
    const busy = client.call('ModelInfer', slow);
    await waitForSeries(server.url, { [IN_FLIGHT]: 1, [queueDepth('slow')]: 0 });
    const call = client.inference['ModelInfer']!(slow, () => undefined);
    await waitForSeries(server.url, { [queueDepth('slow')]: 1 });
    call.cancel();
    await waitFor('the server to drop the call', async () => (await slowStats()).dropped.cancelled === before.dropped.cancelled + 1);
    await busy;
    // Queued after the cancelled call: once it is answered, the cancelled call would have run too.
    await client.call('ModelInfer', slow);
    const after = await slowStats();
    expect(after.dropped.cancelled - before.dropped.cancelled).toBe(1);
    expect(after.execution_count - before.execution_count).toBe(2);
  });
});

describe('ModelStreamInfer', () => {
  it('answers every request on the stream with its id, and keeps going after a bad one', async () => {
    const stream = client.inference['ModelStreamInfer']!();
    const answers: { error_message: string; infer_response: InferResponse | null }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: (typeof answers)[number]) => answers.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const count = 40;
    for (let i = 0; i < count; i++) {
      stream.write({
        model_name: 'tiny_classifier',
        id: `s${i}`,
        inputs: [{ name: 'input', datatype: 'FP32', shape: ['1', '64'], contents: { fp32_contents: new Array(64).fill(i / count) } }],
      });
      if (i === 10) stream.write({ model_name: 'tiny_classifier', id: 'bad', inputs: [{ name: 'input', datatype: 'FP32', shape: ['1', '3'] }] });
    }
    stream.end();
    await done;
    expect(answers).toHaveLength(count + 1);
    const bad = answers.find((a) => a.infer_response?.id === 'bad')!;
    expect(bad.error_message).toMatch(/shape/);
    const ids = answers.filter((a) => !a.error_message).map((a) => a.infer_response!.id);
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: count }, (_, i) => `s${i}`)));
  });
});

describe('operations', () => {
  it('reports serving status through grpc.health.v1', async () => {
    expect(await client.call('Check', { service: '' }, {}, client.health)).toEqual({ status: 'SERVING' });
    expect(await client.call('Check', { service: 'inference.GRPCInferenceService' }, {}, client.health)).toEqual({ status: 'SERVING' });
    expect((await grpcError(client.call('Check', { service: 'other' }, {}, client.health))).code).toBe(status.NOT_FOUND);
  });

  it('lists its services through server reflection', async () => {
    const reflection = reflectionClient(server.grpcAddress);
    const stream = reflection['ServerReflectionInfo']!();
    const answer = await new Promise<{ list_services_response: { service: { name: string }[] } }>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', reject);
      stream.write({ list_services: '' });
    });
    stream.end();
    reflection.close();
    const names = answer.list_services_response.service.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['inference.GRPCInferenceService', 'grpc.health.v1.Health']));
  });

  it('answers INVALID_ARGUMENT for a malformed protobuf message, and keeps serving', async () => {
    const error = await new Promise<ServiceError>((resolve) =>
      client.inference.makeUnaryRequest(
        '/inference.GRPCInferenceService/ModelInfer',
        (x: Buffer) => x,
        (x: Buffer) => x,
        // Field 5 (inputs) declares 100 bytes; two follow.
        Buffer.from([0x2a, 0x64, 0x01, 0x02]),
        (e) => resolve(e!),
      ),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/malformed request message/);
    expect(await client.call('ServerLive', {})).toEqual({ live: true });
  });

  it('answers UNIMPLEMENTED for an unknown method', async () => {
    const error = await new Promise<ServiceError>((resolve) =>
      client.inference.makeUnaryRequest(
        '/inference.GRPCInferenceService/NoSuchMethod',
        (x: Buffer) => x,
        (x: Buffer) => x,
        Buffer.alloc(0),
        (e) => resolve(e!),
      ),
    );
    expect(error.code).toBe(status.UNIMPLEMENTED);
  });
});
