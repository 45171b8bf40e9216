/**
 * Issue 12, item 2: `priority` took any integer up to 2^31 - 1 and the queue
 * grouped requests by priority and shape, so clients sending distinct
 * priorities got batches of one. Priorities are now the model's levels
 * (Triton's priority_levels): anything else is refused, and a batch is filled
 * from the highest level first and topped up from the lower ones.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { slowModel } from '../../src/modelgen/graphs.js';
import { rejection } from '../helpers/conditions.js';
import { GrpcTestClient } from '../helpers/grpc-client.js';
import { IN_FLIGHT, modelStats, queueDepth, waitForSeries } from '../helpers/observe.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, startServer, type HttpAnswer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let client: GrpcTestClient;
const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;
const slower = { ...TEST_MODELS.slow, graph: () => slowModel(320) };

beforeAll(async () => {
  const repository = writeRepository([
    { entry: tiny, config: { max_batch_size: 64, dynamic_batching: { priority_levels: 4 } } },
    // One instance whose run takes about a second whatever the rows: requests pile up behind it, long enough to look at.
    { entry: slower, config: { max_batch_size: 64, dynamic_batching: { priority_levels: 4 } } },
    { entry: slower, as: 'slow_triples', config: { max_batch_size: 3, dynamic_batching: { priority_levels: 3 } } },
  ]);
  server = await startServer(repository);
  client = new GrpcTestClient(server.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

const RANGE_MESSAGE = /parameter priority must be an integer in \[0, 4\] for model tiny_classifier: a level from 1 \(the highest\) to its priority_levels 4, or 0 for its default level 1/;

const tinyRest = (priority: unknown) =>
  postJson(`${server.url}/v2/models/tiny_classifier/infer`, {
    parameters: { priority },
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0.5) }],
  });

const tinyGrpc = (priority: string) =>
  client.call('ModelInfer', {
    model_name: 'tiny_classifier',
    parameters: { priority: { int64_param: priority } },
    inputs: [{ name: 'input', datatype: 'FP32', shape: ['1', '64'], contents: { fp32_contents: new Array(64).fill(0.5) } }],
  });

const slowInfer = (model: string, priority?: number) =>
  postJson(`${server.url}/v2/models/${model}/infer`, {
    ...(priority === undefined ? {} : { parameters: { priority } }),
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }],
  });

/** Sends a request that keeps the model's one instance busy, and returns once it runs: what is sent next waits in the queue. */
async function occupy(model: string): Promise<{ blocker: Promise<HttpAnswer> }> {
  const blocker = slowInfer(model);
  await waitForSeries(server.url, { [IN_FLIGHT]: 1, [queueDepth(model)]: 0 });
  return { blocker };
}

describe('priority levels', () => {
  it('refuses a priority outside the levels with 400 over REST, naming the range', async () => {
    for (const priority of [5, 2 ** 31 - 1, -1, 'high']) {
      const answer = await tinyRest(priority);
      expect(answer.status).toBe(400);
      expect(answer.json<{ error: string }>().error).toMatch(RANGE_MESSAGE);
    }
    for (const priority of [0, 1, 4]) expect((await tinyRest(priority)).status).toBe(200);
  });

  it('refuses a priority outside the levels with INVALID_ARGUMENT over gRPC, naming the range', async () => {
    for (const priority of ['5', String(2 ** 31 - 1)]) {
      const error = await rejection<ServiceError>(tinyGrpc(priority));
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toMatch(RANGE_MESSAGE);
    }
    await expect(tinyGrpc('4')).resolves.toBeDefined();
  });

  it('batches requests of mixed priorities together', async () => {
    const before = await modelStats(server.url, 'slow');
    const { blocker } = await occupy('slow');
    const mixed = Array.from({ length: 16 }, (_, i) => slowInfer('slow', i % 5));
    await waitForSeries(server.url, { [queueDepth('slow')]: 16 });
    const answers = await Promise.all([blocker, ...mixed]);
    expect(answers.map((a) => a.status)).toEqual(new Array(17).fill(200));
    const after = await modelStats(server.url, 'slow');
    expect(after.inference_count - before.inference_count).toBe(17);
    // The blocker, then all sixteen at once; split by priority they made four batches (seven, three, three, three).
    expect(after.execution_count - before.execution_count).toBe(2);
    expect(after.batch_stats.find((b) => b.batch_size === 16)?.compute_infer.count).toBe(1);
  });

  it('runs the highest priority first when more than a batch waits, and tops its batch up from lower levels', async () => {
    const before = await modelStats(server.url, 'slow_triples');
    const { blocker } = await occupy('slow_triples');
    const answered: string[] = [];
    const send = (name: string, priority: number) => slowInfer('slow_triples', priority).then((a) => (answered.push(name), a));
    // The low ones arrive first, the high ones last: five requests, batches of three.
    const waiting = [send('low 1', 3), send('low 2', 3), send('middle', 2)];
    await waitForSeries(server.url, { [queueDepth('slow_triples')]: 3 });
    waiting.push(send('high 1', 1), send('high 2', 1));
    await waitForSeries(server.url, { [queueDepth('slow_triples')]: 5 });
    expect((await blocker).status).toBe(200);
    expect((await Promise.all(waiting)).map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    // Answers of one batch may arrive in any order; batches come one after the other.
    expect(new Set(answered.slice(0, 3))).toEqual(new Set(['high 1', 'high 2', 'middle']));
    expect(new Set(answered.slice(3))).toEqual(new Set(['low 1', 'low 2']));
    const after = await modelStats(server.url, 'slow_triples');
    expect(after.execution_count - before.execution_count).toBe(3);
  });
});
