/**
 * ModelInfer and ModelStreamInfer through the hand-written codec, end to end: any
 * valid encoding of a request is served as the usual one is, broken messages are
 * INVALID_ARGUMENT with a message naming the problem (counted under no model,
 * before the model is looked up), and answers of every size decode in a stock
 * grpc-js client.
 */
import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { adminClient, TEST_ADMIN_TOKEN } from '../helpers/admin.js';
import { GrpcTestClient } from '../helpers/grpc-client.js';
import { modelInfer, modelStreamInfer } from '../helpers/grpc-reference.js';
import { scrape, seriesValue } from '../helpers/observe.js';
import { emitFields, messageField, parseFields, unknownField, unpack, type WireField } from '../helpers/protobuf-wire.js';
import { writeRepository } from '../helpers/repository.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let client: GrpcTestClient;

beforeAll(async () => {
  const repository = writeRepository([
    { entry: BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!, config: { max_batch_size: 16, instances: 1 } },
    { entry: TEST_MODELS.floatEcho, config: { max_batch_size: 4 } },
  ]);
  server = await startServer(repository, [], { ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  client = new GrpcTestClient(server.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

const METHOD = '/inference.GRPCInferenceService/ModelInfer';

interface Answer {
  error: ServiceError | null;
  response: Record<string, unknown> | undefined;
  trailers: Metadata | undefined;
}

/** One ModelInfer call carrying exactly these bytes, answered as a grpc-js client decodes it. */
function callWithBytes(bytes: Buffer, metadata = new Metadata()): Promise<Answer> {
  return new Promise((resolve) => {
    let trailers: Metadata | undefined;
    const call = client.inference.makeUnaryRequest(
      METHOD,
      (x: Buffer) => x,
      (x: Buffer) => modelInfer.responseDeserialize(x) as Record<string, unknown>,
      bytes,
      metadata,
      (error: ServiceError | null, response?: Record<string, unknown>) => setImmediate(() => resolve({ error, response, trailers })),
    );
    call.on('status', (s: StatusObject) => (trailers = s.metadata));
  });
}

const rowValues = Array.from({ length: 64 }, (_, i) => Math.cos(i) / 2);
const tinyRequest = {
  model_name: 'tiny_classifier',
  id: 'r-1',
  parameters: { priority: { int64_param: '1' } },
  inputs: [{ name: 'input', datatype: 'FP32', shape: ['1', '64'], contents: { fp32_contents: rowValues } }],
  outputs: [{ name: 'probabilities', parameters: { binary_data: { bool_param: true } } }],
};

const invalidArgumentsOfNoModel = async (): Promise<number> => {
  const series = 'brisk_requests_total{model="",version="",protocol="grpc",role="primary",outcome="invalid_argument"}';
  const text = await scrape(server.url);
  return text.includes(`${series} `) ? seriesValue(text, series) : 0;
};

describe('ModelInfer requests', () => {
  it('serves any valid encoding as the usual one: fields out of order, repeated fields unpacked, unknown fields and groups', async () => {
    const usual = modelInfer.requestSerialize(tinyRequest);
    const expected = await callWithBytes(usual);
    expect(expected.error).toBeNull();
    // The same request as another encoder may write it.
    const input = (f: WireField): WireField[] => {
      if (f.number === 3) return unpack(f, 0);
      if (f.number === 5) return [messageField(5, [unknownField(77, 2, Buffer.from('x')), ...parseFields(f.value).flatMap((c) => (c.number === 6 ? unpack(c, 5) : [c]))])];
      return [f];
    };
    // The input's contents first; fields of one number keep their order (the shape's dimensions).
    const inputFields = (bytes: Buffer): WireField[] => {
      const all = parseFields(bytes).flatMap(input);
      return [...all.filter((f) => f.number === 5), ...all.filter((f) => f.number !== 5)];
    };
    const fields = parseFields(usual).flatMap((f) => (f.number === 5 ? [messageField(5, inputFields(f.value))] : [f]));
    const other = emitFields([unknownField(1000, 4, Buffer.from([1, 2, 3])), ...fields.reverse(), unknownField(9, 1, Buffer.alloc(8))]);
    expect(other.equals(usual)).toBe(false);
    const answer = await callWithBytes(other);
    expect(answer.error).toBeNull();
    expect(answer.response).toEqual(expected.response);
    expect(answer.response!['id']).toBe('r-1');
  });

  it.each([
    ['a length past the end', Buffer.from([0x2a, 0x64, 0x01, 0x02]), /^malformed request message: inputs declares 100 bytes but 2 remain \(at byte 1\)$/],
    ['a known field with the wrong wire type', Buffer.from([0x0a, 0x01, 0x61, 0x10, 0x01]), /^malformed request message: model_version is varint, expected length-delimited \(at byte 3\)$/],
    ['a varint cut short', Buffer.from([0x48, 0xff, 0xff]), /ends inside a varint/],
    ['a field numbered 0', Buffer.from([0x00, 0x00]), /field numbered 0/],
  ])('refuses %s with INVALID_ARGUMENT, counted under no model, and keeps serving', async (_, bytes, message) => {
    const before = await invalidArgumentsOfNoModel();
    const answer = await callWithBytes(bytes);
    expect(answer.error?.code).toBe(status.INVALID_ARGUMENT);
    expect(answer.error?.details).toMatch(message);
    expect(await invalidArgumentsOfNoModel()).toBe(before + 1);
    expect((await callWithBytes(modelInfer.requestSerialize(tinyRequest))).error).toBeNull();
  });

  it('looks the model up before decoding tensors: an unknown model is NOT_FOUND whatever its tensors, a known one INVALID_ARGUMENT', async () => {
    const badTensor = { inputs: [{ name: 'input', datatype: 'FP32', shape: ['1', '64'], contents: { fp32_contents: [1] } }] };
    const unknown = await callWithBytes(modelInfer.requestSerialize({ ...badTensor, model_name: 'no_such_model' }));
    expect(unknown.error?.code).toBe(status.NOT_FOUND);
    const known = await callWithBytes(modelInfer.requestSerialize({ ...badTensor, model_name: 'tiny_classifier' }));
    expect(known.error?.code).toBe(status.INVALID_ARGUMENT);
    expect(known.error?.details).toBe('input input: fp32_contents has 1 elements but shape [1, 64] needs 64');
  });
});

describe('ModelInfer answers', () => {
  const echo = (n: number) => ({
    model_name: 'float_echo',
    id: `e${n}`,
    inputs: [{ name: 'fp32_in', datatype: 'FP32', shape: ['1', String(n)] }],
    raw_input_contents: [Buffer.from(new Float32Array(n).map((_, i) => i / 7).buffer)],
  });

  it('come whole at every size, unary and on a stream (length prefixes of one to three bytes)', async () => {
    const sizes = [1, 31, 32, 5000, 100_000];
    for (const n of sizes) {
      const answer = await client.call<{ id: string; outputs: { shape: string[] }[]; raw_output_contents: Buffer[] }>('ModelInfer', echo(n));
      expect(answer.id).toBe(`e${n}`);
      expect(answer.outputs[0]!.shape).toEqual(['1', String(n)]);
      expect(answer.raw_output_contents[0]!.equals(echo(n).raw_input_contents[0]!)).toBe(true);
    }
    const stream = client.inference['ModelStreamInfer']!();
    const answers: { error_message: string; infer_response: { id: string; raw_output_contents: Buffer[] } }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: (typeof answers)[number]) => answers.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    for (const n of sizes) stream.write(echo(n));
    stream.end();
    await done;
    expect(answers.map((a) => a.error_message)).toEqual(sizes.map(() => ''));
    for (const n of sizes) {
      const answer = answers.find((a) => a.infer_response.id === `e${n}`)!;
      expect(answer.infer_response.raw_output_contents[0]!.equals(echo(n).raw_input_contents[0]!)).toBe(true);
    }
  });

  it('on a stream, a broken message is answered with its error and the stream goes on', async () => {
    const stream = client.inference.makeBidiStreamRequest('/inference.GRPCInferenceService/ModelStreamInfer', (x: Buffer) => x, (x: Buffer) => x);
    const answers: Buffer[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: Buffer) => answers.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.write(Buffer.from([0x2a, 0x64, 0x01, 0x02]));
    stream.write(modelInfer.requestSerialize(echo(3)));
    stream.end();
    await done;
    const decoded = answers.map((a) => modelStreamInfer.responseDeserialize(a) as { error_message: string; infer_response: { id: string } | null });
    expect(decoded.map((d) => d.error_message).sort()).toEqual(['', 'malformed request message: inputs declares 100 bytes but 2 remain (at byte 1)']);
    expect(decoded.find((d) => d.error_message)!.infer_response).toMatchObject({ id: '' });
    expect(decoded.find((d) => !d.error_message)!.infer_response).toMatchObject({ id: 'e3' });
  });

  it('carry the target a route chose in the trailers, and no such trailer without a route', async () => {
    const admin = adminClient(server);
    expect((await admin('PUT', '/admin/routes/classifier', { targets: [{ model: 'tiny_classifier', version: '1', weight: 100 }] })).status).toBe(200);
    const routed = await callWithBytes(modelInfer.requestSerialize({ ...tinyRequest, model_name: 'classifier' }));
    expect(routed.error).toBeNull();
    expect(routed.trailers?.get('x-served-by')).toEqual(['tiny_classifier/1']);
    const direct = await callWithBytes(modelInfer.requestSerialize(tinyRequest));
    expect(direct.error).toBeNull();
    expect(direct.trailers?.get('x-served-by')).toEqual([]);
  });
});
