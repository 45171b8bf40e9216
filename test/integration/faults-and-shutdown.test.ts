import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import { binaryRequest } from '../helpers/binary.js';
import { tempDir, writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';
import { EXIT_CODE, EXIT_TRIGGER, START_BLOCKER_ENV } from '../helpers/worker-exit-injector.js';

const heavy = BUNDLED_MODELS.find((e) => e.model === 'heavy_mlp')!;
const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;

describe('a batch past its time limit', () => {
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

      const started = performance.now();
      const failed = await request(url, { method: 'POST', body: big.body, headers: big.headers });
      expect(failed.status).toBe(500);
      expect(failed.json()['error']).toMatch(/ran past batch_timeout_ms 80; its requests are answered now/);
      // Answered at the limit, not when the run ended (a 4096-row batch takes far longer).
      expect(performance.now() - started).toBeLessThan(2000);

      // Another model is untouched, and the limited one serves again once its worker is free.
      const other = await postJson(`${server.url}/v2/models/tiny_classifier/infer`, {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0) }],
      });
      expect(other.status).toBe(200);
      let status = 0;
      for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
        status = (await request(url, { method: 'POST', body: small.body, headers: small.headers })).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      expect((await request(`${server.url}/v2/health/live`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

describe('a batch that fails inside ONNX Runtime', () => {
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

describe('worker threads that die', () => {
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
      // Answered at once, not at batch_timeout_ms (30 s) and not never.
      expect(performance.now() - started).toBeLessThan(5000);
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

describe('graceful shutdown', () => {
  it('turns readiness off at once, answers every request in flight, then exits 0', async () => {
    const repository = writeRepository([{ entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 16 } } }]);
    // Readiness is asked on a new connection: the listener must still be open then.
    const server = await startServer(repository, ['--drain-delay', '0.5']);
    const slow = () =>
      postJson(`${server.url}/v2/models/slow/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    const inFlight = [slow(), slow(), slow()];
    await new Promise((r) => setTimeout(r, 50));
    const exited = server.stop();
    await new Promise((r) => setTimeout(r, 20));
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(503);
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(await exited).toBe(0);
    expect(server.logs.some((l) => l['msg'] === 'stopped' && l['drained'] === true)).toBe(true);
  });
});

describe('shutdown past the drain timeout', () => {
  it('exits non-zero and logs what it abandoned; a second signal exits at once', async () => {
    const repository = writeRepository([{ entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 16 } } }]);
    const server = await startServer(repository, ['--drain-timeout', '0.1']);
    const slow = () =>
      postJson(`${server.url}/v2/models/slow/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }).catch(
        (error: Error) => error,
      );
    const inFlight = [slow(), slow(), slow(), slow()];
    await new Promise((r) => setTimeout(r, 50));
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
    const pending = [slowOnSecond(), slowOnSecond(), slowOnSecond(), slowOnSecond()];
    await new Promise((r) => setTimeout(r, 50));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => second.process.once('close', (_code, signal) => resolve(signal)));
    const started = performance.now();
    second.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 30));
    second.process.kill('SIGTERM');
    // Ended by the signal, not aborted (SIGABRT) by worker threads torn down mid-run.
    expect(await exited).toBe('SIGTERM');
    // Well before the queued batches (about half a second) could have finished.
    expect(performance.now() - started).toBeLessThan(400);
    expect(second.logs.map((l) => l['msg'])).toContain('second signal: exiting now');
    await Promise.all(pending);
  });
});

describe('bytes in flight', () => {
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
