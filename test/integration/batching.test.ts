import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { slowModel } from '../../src/modelgen/graphs.js';
import { settledFlag, waitFor } from '../helpers/conditions.js';
import { IN_FLIGHT, modelStats, queueDepth, scrape, waitForSeries } from '../helpers/observe.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;

beforeAll(async () => {
  const repository = writeRepository([
    { entry: tiny, config: { max_batch_size: 64, dynamic_batching: { max_queue_delay_us: 2000 } } },
    // One instance, one row per batch, room for two waiting requests: a worker kept busy for a long time.
    { entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 2 } } },
    { entry: TEST_MODELS.slow, as: 'slow_cancel', config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 4 } } },
    // About 0.75 s a request: a full queue that stays full long enough to look at.
    { entry: { ...TEST_MODELS.slow, graph: () => slowModel(160) }, as: 'slower', config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 2 } } },
  ]);
  server = await startServer(repository);
});

afterAll(async () => {
  await server?.stop();
});

const stats = (model: string) => modelStats(server.url, model);

const row = (seed: number): number[] => Array.from({ length: 64 }, (_, i) => Math.cos(seed * 64 + i));
const tinyInfer = (data: number[], rows = 1) =>
  postJson(`${server.url}/v2/models/tiny_classifier/infer`, { inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 64], data }] });
const slowInfer = (model = 'slow', parameters: Record<string, unknown> = {}, signal?: AbortSignal) =>
  fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    body: JSON.stringify({ parameters, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }),
    ...(signal ? { signal } : {}),
  });

describe('dynamic batching', () => {
  it('merges concurrent requests into batches, and their answers equal unbatched ones', async () => {
    const count = 48;
    // One at a time: every request runs alone.
    const alone: number[][] = [];
    for (let i = 0; i < count; i++) {
      const answer = await tinyInfer(row(i));
      alone.push(answer.json<{ outputs: { data: number[] }[] }>().outputs[0]!.data);
    }
    const before = await stats('tiny_classifier');
    expect(before.execution_count).toBe(count);

    const together = await Promise.all(Array.from({ length: count }, (_, i) => tinyInfer(row(i))));
    const after = await stats('tiny_classifier');
    const executions = after.execution_count - before.execution_count;
    expect(after.inference_count - before.inference_count).toBe(count);
    expect(executions).toBeLessThan(count);
    expect(Math.max(...after.batch_stats.map((b) => b.batch_size))).toBeGreaterThan(1);

    together.forEach((answer, i) => {
      expect(answer.status).toBe(200);
      const data = answer.json<{ outputs: { data: number[] }[] }>().outputs[0]!.data;
      data.forEach((v, k) => expect(v).toBeCloseTo(alone[i]![k]!, 6));
    });
  });

  it('counts a request of k rows as k inferences in one execution', async () => {
    const before = await stats('tiny_classifier');
    const answer = await tinyInfer([...row(1), ...row(2), ...row(3)], 3);
    expect(answer.status).toBe(200);
    const after = await stats('tiny_classifier');
    expect(after.inference_count - before.inference_count).toBe(3);
    expect(after.execution_count - before.execution_count).toBe(1);
  });
});

/** A POST through `agent`, telling whether it went out on a connection used before. */
const rawPost = (agent: Agent, path: string, body: string) =>
  new Promise<{ status: number; body: string; reusedSocket: boolean }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.httpPort, method: 'POST', path, agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, reusedSocket: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end(body);
  });

describe('overload, deadlines and cancellation', () => {
  it('refuses requests past the queue limit at once with 503 and Retry-After, and serves the rest', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => slowInfer()));
    const statuses = answers.map((a) => a.status);
    const refused = answers.filter((a) => a.status === 503);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    // One runs and at most two wait; every other request is refused.
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    for (const answer of refused) {
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(((await answer.json()) as { error: string }).error).toMatch(/max_queue_size 2/);
    }
  });

  it('refuses a full model before reading the body: a malformed one gets 503, on a connection that stays open', async () => {
    const slowBody = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    const fillingAgent = new Agent({ keepAlive: false, maxSockets: 3 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    // One runs, then two wait. The first is sent alone: requests arriving in one event-loop
    // turn all wait for the batcher's decision, and a third would find the queue full.
    const filling = [rawPost(fillingAgent, '/v2/models/slower/infer', slowBody)];
    try {
      await waitForSeries(server.url, { [IN_FLIGHT]: 1, [queueDepth('slower')]: 0 });
      filling.push(rawPost(fillingAgent, '/v2/models/slower/infer', slowBody), rawPost(fillingAgent, '/v2/models/slower/infer', slowBody));
      await waitForSeries(server.url, { [queueDepth('slower')]: 2 });
      const before = await stats('slower');
      // Not JSON at all: a 400 would mean the body was decoded before the queue was checked.
      const refused = await rawPost(agent, '/v2/models/slower/infer', 'not json'.repeat(1000));
      expect(refused.status).toBe(503);
      expect(refused.body).toMatch(/max_queue_size 2/);
      const next = await rawPost(agent, '/v2/models/tiny_classifier/infer', JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: row(1) }] }));
      expect(next.status).toBe(200);
      expect(next.reusedSocket).toBe(true);
      expect((await stats('slower')).dropped.rejected).toBe(before.dropped.rejected + 1);
      expect(await scrape(server.url)).toMatch(/^brisk_requests_total\{model="slower",version="1",protocol="rest",role="primary",outcome="overloaded"\} [1-9]/m);
    } finally {
      agent.destroy();
      expect((await Promise.all(filling)).map((f) => f.status)).toEqual([200, 200, 200]);
    }
  });

  it('fails a request with 504 when it would wait longer than its timeout', async () => {
    const before = await stats('slow');
    const busy = slowInfer();
    const busyAnswered = settledFlag(busy);
    // The first request runs before the second arrives, so the second has to wait.
    await waitForSeries(server.url, { [IN_FLIGHT]: 1, [queueDepth('slow')]: 0 });
    const late = await slowInfer('slow', { timeout: 1000 });
    expect(late.status).toBe(504);
    expect(((await late.json()) as { error: string }).error).toMatch(/timed out after waiting 1000 µs/);
    // Answered at its timeout, not when the worker came free (a slow run takes about half a second).
    expect(busyAnswered()).toBe(false);
    expect((await busy).status).toBe(200);
    // Queued after the late one: once it is answered, the late one would have run too.
    expect((await slowInfer()).status).toBe(200);
    const after = await stats('slow');
    expect(after.dropped.timedOut - before.dropped.timedOut).toBe(1);
    expect(after.execution_count - before.execution_count).toBe(2);
  });

  it('drops a queued request whose client disconnected, without running it', async () => {
    const before = await stats('slow_cancel');
    const busy = slowInfer('slow_cancel');
    await waitForSeries(server.url, { [IN_FLIGHT]: 1, [queueDepth('slow_cancel')]: 0 });
    const controller = new AbortController();
    const abandoned = slowInfer('slow_cancel', {}, controller.signal).catch((e: Error) => e);
    await waitForSeries(server.url, { [queueDepth('slow_cancel')]: 1 });
    controller.abort();
    expect(await abandoned).toBeInstanceOf(Error);
    await waitFor('the abandoned request to be dropped', async () => (await stats('slow_cancel')).dropped.cancelled === before.dropped.cancelled + 1);
    expect((await busy).status).toBe(200);
    // Queued after the abandoned one: once it is answered, the abandoned one would have run too.
    expect((await slowInfer('slow_cancel')).status).toBe(200);
    const after = await stats('slow_cancel');
    expect(after.dropped.cancelled - before.dropped.cancelled).toBe(1);
    expect(after.execution_count - before.execution_count).toBe(2);
    expect(after.inference_count - before.inference_count).toBe(2);
  });
});
