/**
 * Versions brought in and out while the server serves: loads, reloads with a
 * changed config, unloads, failed loads, warmup, and the leases that keep a
 * version alive for the requests admitted to it. Every case runs against a real
 * server with real models, most under closed-loop load that must see no failure.
 */
import { cpSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { waitFor } from '../helpers/conditions.js';
import { addRawModel, tempDir, writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type HttpAnswer, type TestServer } from '../helpers/server.js';

const TOKEN = 'lifecycle-admin-token-0123456789';
const scorers = BUNDLED_MODELS.filter((e) => e.model === 'scorer');
const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;
const heavy = BUNDLED_MODELS.find((e) => e.model === 'heavy_mlp')!;

let repository: string;
let server: TestServer;
let adminUrl: string;

beforeAll(async () => {
  repository = writeRepository([
    ...scorers.map((entry) => ({ entry, config: { max_batch_size: 64, version_policy: { all: {} } } })),
    { entry: tiny, config: { max_batch_size: 64, instances: 1 } },
    { entry: TEST_MODELS.fast, config: { max_batch_size: 8 } },
  ]);
  server = await startServer(repository, [], { ADMIN_TOKEN: TOKEN });
  adminUrl = `http://127.0.0.1:${server.logs.find((l) => l['msg'] === 'serving')!['adminPort'] as number}`;
});

afterAll(async () => {
  await server?.stop();
});

const admin = (method: string, urlPath: string, body?: unknown): Promise<HttpAnswer> =>
  request(`${adminUrl}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const load = (model: string, config?: unknown) =>
  admin('POST', `/v2/repository/models/${model}/load`, config === undefined ? undefined : { parameters: { config: JSON.stringify(config) } });
const unload = (model: string) => admin('POST', `/v2/repository/models/${model}/unload`);

interface IndexEntry {
  name: string;
  version?: string;
  state: string;
  reason?: string;
}
const index = async (): Promise<IndexEntry[]> => (await admin('POST', '/v2/repository/index')).json<IndexEntry[]>();
const entryOf = async (model: string, version: string) => (await index()).find((e) => e.name === model && e.version === version);

const scorerBody = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: new Array(32).fill(0.25) }] };
const tinyBody = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0.5) }] };

/** Closed-loop clients on one URL until stopped; every answer's status and served version is kept. */
function closedLoop(url: string, body: unknown, clients = 8) {
  let running = true;
  const answers: { status: number; version?: string; error?: string }[] = [];
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const answer = await postJson(url, body);
        answers.push({ status: answer.status, ...(answer.status === 200 ? { version: answer.json()['model_version'] as string } : { error: answer.body.toString() }) });
      } catch (error) {
        answers.push({ status: 0, error: String(error) });
      }
    }
  });
  return {
    answers,
    async stop() {
      running = false;
      await Promise.all(loops);
      return answers;
    },
  };
}

const failures = (answers: { status: number }[]) => answers.filter((a) => a.status !== 200);

describe('loading a new version', () => {
  it('brings version 3 in under load: it warms up apart, then takes the unversioned traffic, and no request fails', async () => {
    const traffic = closedLoop(`${server.url}/v2/models/scorer/infer`, scorerBody);
    await waitFor('traffic on version 2', () => traffic.answers.length > 20);
    cpSync(path.join(repository, 'scorer', '2'), path.join(repository, 'scorer', '3'), { recursive: true });
    const loaded = await load('scorer');
    expect(loaded.status, loaded.body.toString()).toBe(200);
    expect(await entryOf('scorer', '3')).toMatchObject({ state: 'READY' });
    const before = traffic.answers.length;
    await waitFor('traffic after the load', () => traffic.answers.length > before + 20);
    const answers = await traffic.stop();
    expect(failures(answers)).toEqual([]);
    expect(answers[0]!.version).toBe('2');
    expect(answers.at(-1)!.version).toBe('3');
    // Versions already serving were not reloaded: their config and files did not change.
    const reloaded = server.logs.filter((l) => l['msg'] === 'model version ready' && l['model'] === 'scorer' && l['version'] !== '3');
    expect(reloaded).toHaveLength(2);
  });
});

describe('reloading with a changed config', () => {
  it('moves tiny_classifier from 1 to 2 instances in a new pool under load, drains the old one, and fails nothing', async () => {
    const traffic = closedLoop(`${server.url}/v2/models/tiny_classifier/infer`, tinyBody);
    await waitFor('traffic', () => traffic.answers.length > 20);
    writeFileSync(path.join(repository, 'tiny_classifier', 'config.json'), JSON.stringify({ max_batch_size: 64, instances: 2 }));
    const loaded = await load('tiny_classifier');
    expect(loaded.status, loaded.body.toString()).toBe(200);
    const before = traffic.answers.length;
    await waitFor('traffic after the reload', () => traffic.answers.length > before + 20);
    expect(failures(await traffic.stop())).toEqual([]);
    const ready = server.logs.filter((l) => l['msg'] === 'model version ready' && l['model'] === 'tiny_classifier');
    expect(ready.map((l) => l['instances'])).toEqual([1, 2]);
    await waitFor('the old pool to close', () =>
      server.logs.some((l) => l['msg'] === 'model version unloaded' && l['model'] === 'tiny_classifier' && l['replaced'] === true),
    );
    expect(await entryOf('tiny_classifier', '1')).toEqual({ name: 'tiny_classifier', version: '1', state: 'READY' });
  });

  it('takes a config given with the load in place of config.json', async () => {
    const loaded = await load('tiny_classifier', { max_batch_size: 16, instances: 1 });
    expect(loaded.status, loaded.body.toString()).toBe(200);
    const last = server.logs.filter((l) => l['msg'] === 'model version ready' && l['model'] === 'tiny_classifier').at(-1)!;
    expect(last).toMatchObject({ maxBatchSize: 16, instances: 1 });
    const tooMany = await postJson(`${server.url}/v2/models/tiny_classifier/infer`, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [17, 64], data: new Array(17 * 64).fill(0) }],
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json()['error']).toMatch(/16/);
  });
});

describe('a load that fails', () => {
  it('changes nothing that serves: the index shows the failed version and why, readiness stays 200', async () => {
    addRawModel(repository, 'scorer', { '4/model.onnx': 'not a protobuf' });
    const traffic = closedLoop(`${server.url}/v2/models/scorer/infer`, scorerBody, 4);
    const failed = await load('scorer');
    expect(failed.status).toBe(400);
    expect(failed.json()['error']).toMatch(/failed to load model scorer: version 4: failed to load scorer\/4/);
    expect(await entryOf('scorer', '4')).toMatchObject({ state: 'UNAVAILABLE', reason: expect.stringMatching(/failed to load scorer\/4/) });
    expect(await entryOf('scorer', '3')).toMatchObject({ state: 'READY' });
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(200);
    const answers = await traffic.stop();
    expect(failures(answers)).toEqual([]);
    expect(new Set(answers.map((a) => a.version))).toEqual(new Set(['3']));

    rmSync(path.join(repository, 'scorer', '4'), { recursive: true });
    expect((await load('scorer')).status).toBe(200);
    expect(await entryOf('scorer', '4')).toBeUndefined();
  });

  it('refuses a config that does not parse, and one that does not validate, naming what is wrong', async () => {
    const notJson = await admin('POST', '/v2/repository/models/tiny_classifier/load', { parameters: { config: '{"instances": ' } });
    expect(notJson.status).toBe(400);
    expect(notJson.json()['error']).toMatch(/not valid JSON/);
    const invalid = await load('tiny_classifier', { instances: 'two' });
    expect(invalid.status).toBe(400);
    expect(invalid.json()['error']).toMatch(/instances/);
    expect((await postJson(`${server.url}/v2/models/tiny_classifier/infer`, tinyBody)).status).toBe(200);
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(200);
  });

  it('fails on a warmup that cannot run, and the version in place serves on', async () => {
    const failed = await load('fast', {
      max_batch_size: 8,
      model_warmup: [{ name: 'wrong input', batch_size: 1, inputs: { nope: { data_type: 'TYPE_FP32', dims: [4], zero_data: true } } }],
    });
    expect(failed.status).toBe(400);
    expect(failed.json()['error']).toMatch(/warmup .*wrong input.* has no input nope/);
    const served = await postJson(`${server.url}/v2/models/fast/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    expect(served.status).toBe(200);
  });
});

describe('unloading', () => {
  it('refuses to unload a version a route uses, naming the route (409)', async () => {
    const route = await admin('PUT', '/admin/routes/ranking', { targets: [{ model: 'scorer', version: '3', weight: 100 }] });
    expect(route.status).toBe(200);
    const refused = await unload('scorer');
    expect(refused.status).toBe(409);
    expect(refused.json()['error']).toMatch(/route ranking/);
    expect(await entryOf('scorer', '3')).toMatchObject({ state: 'READY' });
  });

  it('answers a request admitted before the unload, keeps the version until then, and then unloads it', async () => {
    // Headers and half the body now: the request is admitted to fast/1; the rest comes after the unload.
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }));
    const admitted: { req?: ReturnType<typeof httpRequest>; written: boolean } = { written: false };
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: server.httpPort, method: 'POST', path: '/v2/models/fast/versions/1/infer', headers: { 'content-length': body.length } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, 10), () => (admitted.written = true));
      admitted.req = req;
    });
    // The admission happens when the headers arrive. Once they are in the server's socket, a
    // request on a new connection is read after them, so its answer means they were read.
    await waitFor('the half request to be sent', () => admitted.written);
    expect((await request(`${server.url}/v2/health/live`)).status).toBe(200);
    const unloaded = await unload('fast');
    expect(unloaded.status).toBe(200);
    expect(await entryOf('fast', '1')).toMatchObject({ state: 'UNLOADING' });
    // New requests are refused at once; the admitted one still holds the version.
    const refused = await postJson(`${server.url}/v2/models/fast/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    expect(refused.status).toBe(503);
    expect(await entryOf('fast', '1')).toMatchObject({ state: 'UNLOADING' });
    admitted.req!.end(body.subarray(10));
    const finished = await answer;
    expect(finished.status, finished.body).toBe(200);
    await waitFor('fast to be unloaded', async () => (await entryOf('fast', '1'))?.reason === 'unloaded');
    expect(await entryOf('fast', '1')).toEqual({ name: 'fast', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    // Unloaded on purpose: readiness does not count it.
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(200);

    expect((await load('fast')).status).toBe(200);
    expect((await postJson(`${server.url}/v2/models/fast/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] })).status).toBe(200);
  });

  it('unloads versions a load no longer serves, once their folders are gone', async () => {
    expect((await admin('PUT', '/admin/routes/ranking', { targets: [{ model: 'scorer', version: '3', weight: 100 }] })).status).toBe(200);
    rmSync(path.join(repository, 'scorer', '1'), { recursive: true });
    expect((await load('scorer')).status).toBe(200);
    await waitFor('scorer 1 to be unloaded', async () => (await entryOf('scorer', '1'))?.reason === 'unloaded');
    expect((await postJson(`${server.url}/v2/models/scorer/versions/1/infer`, scorerBody)).status).toBe(503);
    expect((await postJson(`${server.url}/v2/models/scorer/versions/2/infer`, scorerBody)).status).toBe(200);
  });
});

describe('the repository index', () => {
  it("lists only READY versions when asked {\"ready\": true}, as Triton does, and refuses a ready that is not a boolean", async () => {
    addRawModel(repository, 'unreadable', { '1/model.onnx': 'not a protobuf' });
    expect((await load('unreadable')).status).toBe(400);
    const all = await index();
    expect(all.find((e) => e.name === 'unreadable')).toMatchObject({ state: 'UNAVAILABLE' });
    const ask = (body: unknown) => request(`${server.url}/v2/repository/index`, { method: 'POST', body: JSON.stringify(body) });
    const ready = (await ask({ ready: true })).json<IndexEntry[]>();
    expect(ready).toEqual(all.filter((e) => e.state === 'READY'));
    expect((await ask({ ready: false })).json<IndexEntry[]>()).toEqual(all);
    const bad = await ask({ ready: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.json()['error']).toMatch(/ready must be true or false/);
  });
});

describe('warmup', () => {
  it('keeps a new version out of traffic until every instance has run its warmup, while readiness stays 200', async () => {
    const slowWarmup = {
      max_batch_size: 4,
      instances: 2,
      model_warmup: [{ name: 'slow rows', batch_size: 4, count: 3, inputs: { x: { data_type: 'TYPE_FP32', dims: [4], random_data: true } } }],
    };
    writeRepositoryModel('slow', TEST_MODELS.slow, slowWarmup);
    const loading = load('slow');
    await waitFor('slow to show as loading', async () => (await entryOf('slow', '1'))?.state === 'LOADING');
    expect((await request(`${server.url}/v2/models/slow/ready`)).status).toBe(503);
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(200);
    const loaded = await loading;
    expect(loaded.status, loaded.body.toString()).toBe(200);
    expect((await request(`${server.url}/v2/models/slow/ready`)).status).toBe(200);
    const ready = server.logs.find((l) => l['msg'] === 'model version ready' && l['model'] === 'slow')!;
    expect(ready).toMatchObject({ instances: 2, warmupSamples: 1 });
    // Each instance ran 3 batches of 4 rows of a deliberately slow model.
    expect(ready['warmupSeconds'] as number).toBeGreaterThan(0.1);
  });
});

describe('memory over repeated loads', () => {
  it('stays bounded over 20 loads and unloads of the heavy model', async () => {
    writeRepositoryModel('heavy', heavy, { max_batch_size: 8, instances: 2 });
    const rss = async (): Promise<number> => {
      const text = (await request(`${server.url}/metrics`)).body.toString();
      return Number(/^brisk_process_resident_memory_bytes (\S+)$/m.exec(text)![1]);
    };
    const cycle = async (): Promise<void> => {
      expect((await load('heavy')).status).toBe(200);
      expect((await unload('heavy')).status).toBe(200);
      await waitFor('heavy to be unloaded', async () => (await entryOf('heavy', '1'))?.reason === 'unloaded');
    };
    for (let i = 0; i < 5; i++) await cycle();
    const settled = await rss();
    for (let i = 0; i < 15; i++) await cycle();
    const after = await rss();
    // Each load maps ~20 MB of weights in two sessions; a leak of one load a cycle would show as 15 × 40 MB.
    expect(after - settled).toBeLessThan(150 * 1024 * 1024);
    // Unloaded, it leaves no gauge behind that would still say it queues or loaded.
    const text = (await request(`${server.url}/metrics`)).body.toString();
    expect(text).not.toMatch(/^brisk_(queue_depth|queue_capacity|model_load_seconds)\{[^}]*model="heavy"/m);
  }, 120_000);
});

function writeRepositoryModel(name: string, entry: (typeof BUNDLED_MODELS)[number], config: unknown, into = repository): void {
  const built = writeRepository([{ entry, as: name, config: config as Record<string, unknown> }]);
  cpSync(path.join(built, name), path.join(into, name), { recursive: true });
}

describe('polling the repository', () => {
  it('loads a version that appears, reloads a changed config, and unloads a version whose folder goes', async () => {
    const polled = writeRepository([...scorers.map((entry) => ({ entry, config: { max_batch_size: 64, version_policy: { all: {} } } }))]);
    const poller = await startServer(polled, ['--repository-poll-secs', '0.1']);
    const indexOf = async () => (await request(`${poller.url}/v2/repository/index`, { method: 'POST' })).json<IndexEntry[]>();
    const stateOf = async (version: string) => (await indexOf()).find((e) => e.name === 'scorer' && e.version === version);
    try {
      const traffic = closedLoop(`${poller.url}/v2/models/scorer/infer`, scorerBody, 4);
      // Each change lands in one step (a rename), so no scan can see it half made.
      const staging = tempDir('staging');
      cpSync(path.join(polled, 'scorer', '2'), path.join(staging, '3'), { recursive: true });
      renameSync(path.join(staging, '3'), path.join(polled, 'scorer', '3'));
      await waitFor('version 3 to serve', async () => (await stateOf('3'))?.state === 'READY');

      writeFileSync(path.join(staging, 'config.json'), JSON.stringify({ max_batch_size: 32, version_policy: { all: {} } }));
      renameSync(path.join(staging, 'config.json'), path.join(polled, 'scorer', 'config.json'));
      await waitFor('the reload with max_batch_size 32', () =>
        poller.logs.filter((l) => l['msg'] === 'model version ready' && l['maxBatchSize'] === 32).length === 3,
      );

      renameSync(path.join(polled, 'scorer', '1'), path.join(staging, '1'));
      await waitFor('version 1 to be unloaded', async () => (await stateOf('1'))?.reason === 'unloaded');
      const answers = await traffic.stop();
      expect(failures(answers)).toEqual([]);
      expect(answers.at(-1)!.version).toBe('3');
      expect(poller.logs.filter((l) => l['msg'] === 'repository changed').map((l) => l['model'])).toEqual(['scorer', 'scorer', 'scorer']);
    } finally {
      await poller.stop();
    }
  });
});

describe('loads that must change nothing', () => {
  it('keeps a load of several versions out of traffic until all are ready, and serves none of them when one fails', async () => {
    const multi = writeRepository([{ entry: tiny, as: 'multi', config: { max_batch_size: 64, version_policy: { all: {} } } }]);
    cpSync(path.join(multi, 'multi'), path.join(repository, 'multi'), { recursive: true });
    expect((await load('multi')).status).toBe(200);
    const traffic = closedLoop(`${server.url}/v2/models/multi/infer`, tinyBody, 8);
    await waitFor('traffic on version 1', () => traffic.answers.length > 20);
    cpSync(path.join(repository, 'multi', '1'), path.join(repository, 'multi', '2'), { recursive: true });
    addRawModel(repository, 'multi', { '3/model.onnx': 'not a protobuf' });
    const failed = await load('multi');
    expect(failed.status).toBe(400);
    const before = traffic.answers.length;
    await waitFor('traffic after the failed load', () => traffic.answers.length > before + 20);
    const answers = await traffic.stop();
    expect(failures(answers)).toEqual([]);
    // Version 2 loaded fine, but the load as a whole failed: it never took a request.
    expect(new Set(answers.map((a) => a.version))).toEqual(new Set(['1']));
    expect(await entryOf('multi', '2')).toMatchObject({ state: 'UNAVAILABLE', reason: expect.stringMatching(/^not loaded: version 3/) });
    expect(await entryOf('multi', '1')).toMatchObject({ state: 'READY', reason: expect.stringMatching(/the last load failed/) });
  });

  it('refuses (409) a load that would drop a version a route started to use while it loaded', async () => {
    const racer = writeRepository([{ entry: TEST_MODELS.slow, as: 'racer', config: { max_batch_size: 4 } }]);
    cpSync(path.join(racer, 'racer'), path.join(repository, 'racer'), { recursive: true });
    expect((await load('racer')).status).toBe(200);
    // Version 2 replaces version 1 (latest 1), after a warmup long enough to change the route meanwhile.
    cpSync(path.join(repository, 'racer', '1'), path.join(repository, 'racer', '2'), { recursive: true });
    const slowWarmup = {
      max_batch_size: 4,
      model_warmup: [{ name: 'slow', batch_size: 4, count: 3, inputs: { x: { data_type: 'TYPE_FP32', dims: [4], zero_data: true } } }],
    };
    const loading = load('racer', slowWarmup);
    await waitFor('version 2 to show as loading', async () => (await entryOf('racer', '2'))?.state === 'LOADING');
    expect((await admin('PUT', '/admin/routes/racing', { targets: [{ model: 'racer', version: '1', weight: 100 }] })).status).toBe(200);
    const refused = await loading;
    expect(refused.status).toBe(409);
    expect(refused.json()['error']).toMatch(/route racing/);
    expect(await entryOf('racer', '1')).toMatchObject({ state: 'READY' });
    expect((await postJson(`${server.url}/v2/models/racing/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] })).status).toBe(200);
  });
});

describe('loads and shutdown', () => {
  it('refuses loads once SIGTERM came, and a warmup under way does not stop a clean exit', async () => {
    const own = writeRepository([{ entry: TEST_MODELS.fast, config: { max_batch_size: 8 } }]);
    // A drain delay long enough for the unload below to come before the admin port closes, on a loaded machine.
    const stopping = await startServer(own, ['--drain-delay', '5'], { ADMIN_TOKEN: TOKEN });
    writeRepositoryModel('slow', TEST_MODELS.slow, { max_batch_size: 4 }, own);
    const url = `http://127.0.0.1:${stopping.logs.find((l) => l['msg'] === 'serving')!['adminPort'] as number}`;
    const post = (urlPath: string, body?: unknown) =>
      request(`${url}${urlPath}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const exited = new Promise<number | null>((resolve) => stopping.process.once('exit', (code) => resolve(code)));
    // A long warmup: its load is under way when the signal comes.
    const warming = post('/v2/repository/models/slow/load', {
      parameters: {
        config: JSON.stringify({
          max_batch_size: 4,
          model_warmup: [{ name: 'long', batch_size: 4, count: 1000, inputs: { x: { data_type: 'TYPE_FP32', dims: [4], zero_data: true } } }],
        }),
      },
    }).catch((error: unknown) => ({ status: 0, error }));
    await waitFor('the warmup to begin', async () => {
      const entries = (await post('/v2/repository/index')).json<IndexEntry[]>();
      return entries.some((e) => e.name === 'slow' && e.state === 'LOADING');
    });
    stopping.process.kill('SIGTERM');
    await waitFor('the drain to begin', () => stopping.logs.some((l) => l['msg'] === 'draining'));
    const refused = await post('/v2/repository/models/fast/unload');
    expect(refused.status).toBe(503);
    expect(refused.json()['error']).toMatch(/shutting down/);
    // The warmup is cancelled at its next run: the process ends by itself, cleanly.
    expect(await exited).toBe(0);
    await warming;
  }, 60_000);
});
