import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import { binaryRequest } from '../helpers/binary.js';
import { waitFor } from '../helpers/conditions.js';
import { IN_FLIGHT, queueDepth, waitForSeries } from '../helpers/observe.js';
import { tempDir, writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';
import { EXIT_CODE, EXIT_TRIGGER, START_BLOCKER_ENV } from '../helpers/worker-exit-injector.js';

// Each test starts its own servers: seconds on an idle machine, far more on a loaded one. A guard, not a bound.
const OWN_SERVERS = { timeout: 120_000 };

const heavy = BUNDLED_MODELS.find((e) => e.model === 'heavy_mlp')!;
const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;

describe('a batch past its time limit', OWN_SERVERS, () => {
  it('is answered with 500 and a clear message on time, and the model serves again after the run', async () => {
    const repository = writeRepository([
      { entry: heavy, as: 'limited', config: { max_batch_size: 4096, instances: 1, batch_timeout_ms: 80 } },
      { entry: tiny },
    ]);
    const server = await startServer(repository);
    try {
      const rows = 4096;
      const big = binaryRequest([{ name: 'input', datatype: 'FP32', shape: [rows, 512], data: new Float32Array(rows * 512).fill(0.5) }]);
      const small = binaryRequest([{ name: 'input', datatype: 'FP32', shape: [1, 512], data: new Float32Array(512).fill(0.5) }]);
      const url = `${server.url}/v2/models/limited/infer`;

      const failed = await request(url, { method: 'POST', body: big.body, headers: big.headers });
      expect(failed.status).toBe(500);
      expect(failed.json()['error']).toMatch(/ran past batch_timeout_ms 80; its requests are answered now/);
      // Answered at the limit, not when the run ended (a 4096-row batch takes seconds): the worker
      // is still in that run, so the next batch also waits past the limit.
      const next = await request(url, { method: 'POST', body: small.body, headers: small.headers });
      expect(next.status).toBe(500);
      expect(next.json()['error']).toMatch(/ran past batch_timeout_ms 80/);

      // Another model is untouched, and the limited one serves again once its worker is free.
      const other = await postJson(`${server.url}/v2/models/tiny_classifier/infer`, {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0) }],
      });
      expect(other.status).toBe(200);
      await waitFor(
        'the limited model to serve again',
        async () => (await request(url, { method: 'POST', body: small.body, headers: small.headers })).status === 200,
        90_000,
      );
      expect((await request(`${server.url}/v2/health/live`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

describe('a batch that fails inside ONNX Runtime', OWN_SERVERS, () => {
  it('fails only its own requests with 500 and the reason, and the model keeps serving', async () => {
    const repository = writeRepository([{ entry: TEST_MODELS.gather, config: { max_batch_size: 8 } }]);
    const server = await startServer(repository);
    try {
      const gather = (index: number) =>
        postJson(`${server.url}/v2/models/gather/infer`, { inputs: [{ name: 'index', datatype: 'INT64', shape: [1, 1], data: [index] }] });
      const failed = await gather(10);
      expect(failed.status).toBe(500);
      expect(failed.json()['error']).toMatch(/failed to run a batch of 1: .*indices/i);
      expect(failed.json()['error']).not.toMatch(/\/tmp\//);
      const ok = await gather(2);
      expect(ok.status).toBe(200);
      expect(ok.json<{ outputs: { data: number[] }[] }>().outputs[0]!.data).toEqual([30]);
    } finally {
      await server.stop();
    }
  });
});

describe('worker threads that die', OWN_SERVERS, () => {
  const repository = () =>
    writeRepository([
      { entry: TEST_MODELS.fast, config: { max_batch_size: 1, instances: 1, dynamic_batching: { max_queue_size: 64 } } },
      { entry: tiny },
    ]);
  // The injector runs in every worker thread of the server; it kills threads on cue.
  const withInjector = (env: NodeJS.ProcessEnv = {}) => ({
    NODE_OPTIONS: `--import=${pathToFileURL(projectFile('dist', 'test', 'helpers', 'worker-exit-injector.js')).href}`,
    ...env,
  });
  const fastRequest = (server: TestServer, first: number) =>
    postJson(`${server.url}/v2/models/fast/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [first, 1, 2, 3] }] });
  const tinyRequest = (server: TestServer) =>
    postJson(`${server.url}/v2/models/tiny_classifier/infer`, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0) }],
    });

  it('a worker that exits fails only its own batch with 500, is replaced, and the queue behind it is served', async () => {
    const server = await startServer(repository(), [], withInjector());
    try {
      // One worker and batches of one: the requests sent with the fatal one queue behind it.
      const [fatal, ...queued] = await Promise.all([0, 1, 2, 3, 4].map((i) => fastRequest(server, i === 0 ? EXIT_TRIGGER : i)));
      expect(fatal!.status).toBe(500);
      expect(fatal!.json()['error']).toMatch(new RegExp(`model fast version 1 failed to run a batch of 1: .*exit.*${EXIT_CODE}`, 'i'));
      expect(queued.map((a) => a.status)).toEqual([200, 200, 200, 200]);

      expect((await tinyRequest(server)).status).toBe(200);
      // A second death is survived the same way: the replacement is itself replaceable.
      expect((await fastRequest(server, EXIT_TRIGGER)).status).toBe(500);
      expect((await fastRequest(server, 5)).status).toBe(200);
      expect((await request(`${server.url}/v2/health/ready`)).status).toBe(200);
      expect((await request(`${server.url}/metrics`)).body.toString()).toMatch(/^brisk_worker_exits_total\{model="fast",version="1"\} 2$/m);
      expect(server.logs.filter((l) => l['msg'] === 'worker thread exited; its batch failed and a replacement is loading the model' && l['model'] === 'fast')).toHaveLength(2);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('a pool whose replacement cannot start: every request is answered, the model turns unavailable with the reason, the rest serve', async () => {
    const blocker = path.join(tempDir('blocker'), 'block-worker-start');
    const server = await startServer(repository(), [], withInjector({ [START_BLOCKER_ENV]: blocker }));
    try {
      writeFileSync(blocker, '');
      const started = performance.now();
      const [fatal, ...queued] = await Promise.all([0, 1, 2, 3].map((i) => fastRequest(server, i === 0 ? EXIT_TRIGGER : i)));
      // Not at batch_timeout_ms (30 s), and not never: a guard far from both.
      expect(performance.now() - started).toBeLessThan(15_000);
      expect(fatal!.status).toBe(500);
      for (const answer of queued) {
        expect([500, 503]).toContain(answer.status);
        expect(answer.json()['error']).toMatch(/worker threads died while starting/);
      }

      const ready = await request(`${server.url}/v2/health/ready`);
      expect(ready.status).toBe(503);
      expect(JSON.stringify(ready.json()['not_ready'])).toMatch(/fast.*worker threads died while starting/);
      expect((await request(`${server.url}/v2/models/fast/ready`)).status).toBe(503);
      const refused = await fastRequest(server, 1);
      expect(refused.status).toBe(503);
      expect(refused.json()['error']).toMatch(/model fast has no ready version: its worker threads died while starting/);
      expect((await tinyRequest(server)).status).toBe(200);
      expect(server.logs.some((l) => l['msg'] === 'worker pool lost' && l['model'] === 'fast')).toBe(true);
    } finally {
      // Nothing is left running on the lost pool to hold shutdown up.
      expect(await server.stop()).toBe(0);
    }
  });

  it('a pool that cannot start at all: the server still starts, and readiness says why', async () => {
    const blocker = path.join(tempDir('blocker'), 'block-worker-start');
    writeFileSync(blocker, '');
    const server = await startServer(repository(), [], withInjector({ [START_BLOCKER_ENV]: blocker }));
    try {
      const ready = await request(`${server.url}/v2/health/ready`);
      expect(ready.status).toBe(503);
      const notReady = ready.json<{ not_ready: { name: string; reason: string }[] }>().not_ready;
      expect(notReady.map((m) => m.name).sort()).toEqual(['fast', 'tiny_classifier']);
      for (const model of notReady) expect(model.reason).toMatch(new RegExp(`^failed to load ${model.name}/1: worker exited with code: ${EXIT_CODE}$`));
      expect((await fastRequest(server, 1)).status).toBe(503);
      expect((await request(`${server.url}/v2/health/live`)).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('graceful shutdown', OWN_SERVERS, () => {
  it('turns readiness off at once, answers every request in flight, then exits 0', async () => {
    const repository = writeRepository([{ entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 16 } } }]);
    // Readiness is asked on a new connection: the listener must still be open then, so the delay is generous.
    const server = await startServer(repository, ['--drain-delay', '2']);
    const slow = () =>
      postJson(`${server.url}/v2/models/slow/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    const inFlight = [slow(), slow(), slow()];
    await waitForSeries(server.url, { [IN_FLIGHT]: 3 });
    const exited = server.stop();
    // Readiness turns off when the signal is handled, and the listener stays open for the drain delay.
    await waitFor('the server to handle SIGTERM', () => server.logs.some((l) => l['msg'] === 'draining'));
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(503);
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(await exited).toBe(0);
    expect(server.logs.some((l) => l['msg'] === 'stopped' && l['drained'] === true)).toBe(true);
  });
});

describe('shutdown past the drain timeout', OWN_SERVERS, () => {
  it('exits non-zero and logs what it abandoned; a second signal exits at once', async () => {
    const repository = writeRepository([{ entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 16 } } }]);
    const server = await startServer(repository, ['--drain-timeout', '0.1']);
    const slow = () =>
      postJson(`${server.url}/v2/models/slow/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }).catch(
        (error: Error) => error,
      );
    const inFlight = [slow(), slow(), slow(), slow()];
    await waitForSeries(server.url, { [IN_FLIGHT]: 4 });
    const code = await server.stop();
    expect(code).toBe(1);
    expect(server.logs.find((l) => l['msg'] === 'drain timeout: abandoning in-flight requests')?.['abandoned']).toBeGreaterThan(0);
    await Promise.all(inFlight);

    // Two instances, so that batches are inside ONNX Runtime when the second signal comes.
    const twoWorkers = writeRepository([{ entry: TEST_MODELS.slow, config: { max_batch_size: 1, instances: 2, dynamic_batching: { max_queue_size: 16 } } }]);
    const second = await startServer(twoWorkers, ['--drain-timeout', '30']);
    const slowOnSecond = () =>
      postJson(`${second.url}/v2/models/slow/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }).catch(
        () => undefined,
      );
    // Two run and two wait: draining them all would take two slow runs, about a second.
    const pending = [slowOnSecond(), slowOnSecond(), slowOnSecond(), slowOnSecond()];
    await waitForSeries(second.url, { [IN_FLIGHT]: 4, [queueDepth('slow')]: 2 });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => second.process.once('close', (_code, signal) => resolve(signal)));
    second.process.kill('SIGTERM');
    await waitFor('the server to start draining', () => second.logs.some((l) => l['msg'] === 'draining'));
    second.process.kill('SIGTERM');
    // Ended by the signal, not aborted (SIGABRT) by worker threads torn down mid-run.
    expect(await exited).toBe('SIGTERM');
    expect(second.logs.map((l) => l['msg'])).toContain('second signal: exiting now');
    // Exited before the batches it was running could finish: no request got an answer.
    expect(await Promise.all(pending)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('bytes in flight', OWN_SERVERS, () => {
  it('refuses requests past --max-inflight-bytes with 503, and frees the budget as answers go out', async () => {
    const repository = writeRepository([{ entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 100 } } }]);
    const server = await startServer(repository, ['--max-inflight-bytes', String(64 * 1024)]);
    try {
      // About 16 KiB each, most of it a long id: four fit in the budget at once.
      const big = () =>
        postJson(`${server.url}/v2/models/slow/infer`, {
          id: 'x'.repeat(16_000),
          inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }],
        });
      const answers = await Promise.all(Array.from({ length: 10 }, big));
      const refused = answers.filter((a) => a.status === 503);
      expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]!.json()['error']).toMatch(/--max-inflight-bytes 65536/);
      expect(refused[0]!.headers.get('retry-after')).toBe('1');
      // Everything was released: the next request fits again.
      expect((await big()).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
