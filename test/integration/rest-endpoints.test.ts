import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { addRawModel, bundledRepository } from '../helpers/repository.js';
import { postJson, rawRequest, request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
const scorerV1 = BUNDLED_MODELS.find((e) => e.model === 'scorer' && e.version === 1)!;

beforeAll(async () => {
  const repository = bundledRepository([
    // Prefers CUDA, which this machine lacks: must still serve, on the CPU.
    { entry: scorerV1, as: 'gpu_preferred', config: { max_batch_size: 8, execution_providers: ['cuda', 'cpu'] } },
    // CUDA only, on a machine without it: no worker can start a session.
    { entry: scorerV1, as: 'gpu_only', config: { max_batch_size: 8, execution_providers: ['cuda'] } },
  ]);
  addRawModel(repository, 'broken_config', { 'config.json': '{"max_batch_size": ', '1/model.onnx': 'x' });
  addRawModel(repository, 'corrupt_model', { '1/model.onnx': 'this is not a protobuf' });
  addRawModel(repository, 'bad_schema', { 'config.json': '{"max_batch_size": -3, "instances": "two"}', '1/model.onnx': 'x' });
  server = await startServer(repository);
});

afterAll(async () => {
  await server?.stop();
});

describe('health and metadata', () => {
  it('is live', async () => {
    const answer = await request(`${server.url}/v2/health/live`);
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
  });

  it('is not ready while some model is broken, and says which and why', async () => {
    const answer = await request(`${server.url}/v2/health/ready`);
    expect(answer.status).toBe(503);
    const report = answer.json<{ not_ready: { name: string; reason: string }[] }>();
    const reasons = Object.fromEntries(report.not_ready.map((m) => [m.name, m.reason]));
    expect(Object.keys(reasons).sort()).toEqual(['bad_schema', 'broken_config', 'corrupt_model', 'gpu_only']);
    expect(reasons['gpu_only']).toMatch(/no execution provider could load the model \(cuda unavailable/);
    expect(reasons['broken_config']).toMatch(/^broken_config\/config.json: not valid JSON/);
    expect(reasons['bad_schema']).toMatch(/max_batch_size/);
    expect(reasons['bad_schema']).toMatch(/instances/);
    expect(reasons['corrupt_model']).toMatch(/failed to load corrupt_model\/1/);
    // Clients never see the server's own paths.
    expect(JSON.stringify(report)).not.toContain(server.logs.length ? '/tmp/' : '/');
  });

  it('serves the healthy models beside the broken ones', async () => {
    const ready = await request(`${server.url}/v2/models/tiny_classifier/ready`);
    expect(ready.status).toBe(200);
    const broken = await request(`${server.url}/v2/models/corrupt_model/ready`);
    expect(broken.status).toBe(503);
    expect(broken.json()['error']).toMatch(/corrupt_model/);
  });

  it('describes the server', async () => {
    const meta = (await request(`${server.url}/v2`)).json();
    expect(meta).toMatchObject({ name: 'brisk', extensions: expect.arrayContaining(['binary_tensor_data']) });
  });

  it('describes a model from the ONNX file, with -1 for the batch dimension', async () => {
    const meta = (await request(`${server.url}/v2/models/tiny_classifier`)).json();
    expect(meta).toEqual({
      name: 'tiny_classifier',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 64] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }],
    });
  });

  it('lists every served version, and describes one by number', async () => {
    expect((await request(`${server.url}/v2/models/scorer`)).json()['versions']).toEqual(['2', '1']);
    const v1 = await request(`${server.url}/v2/models/scorer/versions/1`);
    expect(v1.json()['versions']).toEqual(['1']);
    expect((await request(`${server.url}/v2/models/scorer/versions/1/ready`)).status).toBe(200);
  });

  it('answers 404 for unknown models and versions', async () => {
    const unknownModel = await request(`${server.url}/v2/models/nope`);
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.json()['error']).toMatch(/unknown model "nope"/);
    expect((await request(`${server.url}/v2/models/scorer/versions/9`)).status).toBe(404);
    const infer = await postJson(`${server.url}/v2/models/nope/infer`, { inputs: [] });
    expect(infer.status).toBe(404);
  });

  it.each(['..', '..%2F..%2Fetc', '%2e%2e', 'a%2Fb', 'bad%00name'])('refuses model name %s as not a name', async (name) => {
    const answer = await rawRequest(server.httpPort, 'POST', `/v2/models/${name}/infer`, '{"inputs":[]}');
    expect(answer.status).toBe(400);
    expect(answer.json()['error']).toMatch(/model name .* is not valid/);
  });

  it.each(['0', '-1', '1.5', '..', 'latest'])('refuses version %s', async (version) => {
    const answer = await rawRequest(server.httpPort, 'GET', `/v2/models/scorer/versions/${version}`);
    expect(answer.status).toBe(400);
    expect(answer.json()['error']).toMatch(/version .* is not valid/);
  });

  it('answers 404 with a message for unknown routes', async () => {
    const answer = await request(`${server.url}/v3/whatever`);
    expect(answer.status).toBe(404);
    expect(answer.json()['error']).toMatch(/no route for GET \/v3\/whatever/);
  });

  it('lists every model version and its state in the repository index', async () => {
    const index = (await request(`${server.url}/v2/repository/index`, { method: 'POST' })).json<{ name: string; state: string }[]>();
    const states = Object.fromEntries(index.map((m) => [`${m.name}/${'version' in m ? m.version : ''}`, m.state]));
    expect(states['tiny_classifier/1']).toBe('READY');
    expect(states['corrupt_model/1']).toBe('UNAVAILABLE');
  });
});

describe('execution providers', () => {
  it('falls back to the CPU when CUDA is unavailable, and says so once in the log', async () => {
    const answer = await postJson(`${server.url}/v2/models/gpu_preferred/infer`, {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: new Array(32).fill(0.5) }],
    });
    expect(answer.status).toBe(200);
    const fallbacks = server.logs.filter((l) => l['model'] === 'gpu_preferred' && /fallback/.test(String(l['msg'])));
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toMatchObject({ executionProvider: 'cpu', reason: expect.stringMatching(/cuda unavailable/) });
  });
});

describe('auto-completed config', () => {
  it('batches a model with no config file when all its dimensions allow it', async () => {
    const meta = (await request(`${server.url}/v2/models/mixed_types`)).json<{ inputs: { shape: number[] }[] }>();
    expect(meta.inputs.every((i) => i.shape[0] === -1)).toBe(true);
    const answer = await postJson(`${server.url}/v2/models/mixed_types/infer`, {
      inputs: [
        { name: 'ids', datatype: 'INT64', shape: [65, 8], data: new Array(65 * 8).fill(1) },
        { name: 'features', datatype: 'FP32', shape: [65, 16], data: new Array(65 * 16).fill(0) },
        { name: 'mask', datatype: 'BOOL', shape: [65, 8], data: new Array(65 * 8).fill(true) },
        { name: 'tag', datatype: 'BYTES', shape: [65, 1], data: new Array(65).fill('t') },
      ],
    });
    // The default max_batch_size is 64.
    expect(answer.status).toBe(400);
    expect(answer.json()['error']).toMatch(/batch size 65 must be between 1 and max_batch_size 64/);
  });
});
