/**
 * The model repository control API (Triton's repository extension) on every port:
 * index, load and unload on the admin port; load and unload on the REST and gRPC
 * data ports behind the admin token, index and statistics open; the CLI on top.
 * Two real servers: one with an admin token, one without.
 */
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectFile } from '../../src/project-files.js';
import type { IndexEntry } from '../../src/inference/service.js';
import { rejection, waitFor } from '../helpers/conditions.js';
import { GrpcTestClient } from '../helpers/grpc-client.js';
import { bundledRepository, tempDir, TEST_MODELS, writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type HttpAnswer, type TestServer } from '../helpers/server.js';

const TOKEN = 'repository-admin-token-0123456789';
const BEARER = { authorization: `Bearer ${TOKEN}` };
const TINY_CONFIG = JSON.parse(readFileSync(projectFile('models', 'tiny_classifier', 'config.json'), 'utf8')) as Record<string, unknown>;

let server: TestServer;
let adminUrl: string;
let grpc: GrpcTestClient;
let closed: TestServer;
let closedGrpc: GrpcTestClient;

beforeAll(async () => {
  const repository = bundledRepository();
  // The bundled routes: `scorer` serves scorer/1 and shadows scorer/2.
  cpSync(projectFile('models', 'routes.json'), path.join(repository, 'routes.json'));
  [server, closed] = await Promise.all([
    startServer(repository, [], { ADMIN_TOKEN: TOKEN }),
    startServer(writeRepository([{ entry: TEST_MODELS.fast, config: { max_batch_size: 8 } }]), [], { ADMIN_TOKEN: '' }),
  ]);
  adminUrl = `http://127.0.0.1:${server.logs.find((l) => l['msg'] === 'serving')!['adminPort'] as number}`;
  grpc = new GrpcTestClient(server.grpcAddress);
  closedGrpc = new GrpcTestClient(closed.grpcAddress);
});

afterAll(async () => {
  grpc?.close();
  closedGrpc?.close();
  await Promise.all([server?.stop(), closed?.stop()]);
});

const post = (url: string, body?: string, headers: Record<string, string> = BEARER): Promise<HttpAnswer> =>
  request(url, { method: 'POST', headers, ...(body === undefined ? {} : { body }) });
const load = (base: string, model: string, config?: unknown, headers?: Record<string, string>) =>
  post(`${base}/v2/repository/models/${model}/load`, config === undefined ? undefined : JSON.stringify({ parameters: { config: JSON.stringify(config) } }), headers);
const unload = (base: string, model: string, headers?: Record<string, string>) => post(`${base}/v2/repository/models/${model}/unload`, undefined, headers);
const index = async (base = adminUrl): Promise<IndexEntry[]> => {
  const answer = await post(`${base}/v2/repository/index`);
  expect(answer.status).toBe(200);
  return answer.json<IndexEntry[]>();
};
const entryOf = async (model: string, version: string) => (await index()).find((e) => e.name === model && e.version === version);

/** A POST whose path goes out exactly as written (fetch would normalise `..`), with headers. */
function rawPost(base: string, urlPath: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method: 'POST', path: urlPath, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const grpcError = (call: Promise<unknown>): Promise<ServiceError> => rejection<ServiceError>(call);

const readyLogs = (model: string) => server.logs.filter((l) => l['msg'] === 'model version ready' && l['model'] === model);
const changeLogs = () => server.logs.filter((l) => l['msg'] === 'repository change' || l['msg'] === 'repository change refused');

const channelBody = { inputs: [{ name: 'image', datatype: 'FP32', shape: [3, 8, 8], data: new Array(3 * 64).fill(1) }] };
const tinyInput = (rows: number) => ({ inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 64], data: new Array(rows * 64).fill(0.5) }] });

describe('admin port', () => {
  it('lists every model version with its state, as the data port does', async () => {
    const entries = await index();
    expect(entries).toEqual(
      expect.arrayContaining([
        { name: 'tiny_classifier', version: '1', state: 'READY' },
        { name: 'scorer', version: '1', state: 'READY' },
        { name: 'scorer', version: '2', state: 'READY' },
        { name: 'channel_stats', version: '1', state: 'READY' },
      ]),
    );
    const open = await request(`${server.url}/v2/repository/index`, { method: 'POST' });
    expect(open.json()).toEqual(entries);
  });

  it('unloads a model and loads it back, answering 200 with an empty body, and logs each change with the token name', async () => {
    const body = channelBody;
    expect((await postJson(`${server.url}/v2/models/channel_stats/infer`, body)).status).toBe(200);

    const unloaded = await unload(adminUrl, 'channel_stats');
    expect(unloaded.status, unloaded.body.toString()).toBe(200);
    expect(unloaded.body.length).toBe(0);
    await waitFor('channel_stats to be unloaded', async () => (await entryOf('channel_stats', '1'))?.reason === 'unloaded');
    expect(await entryOf('channel_stats', '1')).toEqual({ name: 'channel_stats', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    expect((await postJson(`${server.url}/v2/models/channel_stats/infer`, body)).status).toBe(503);

    const loaded = await load(adminUrl, 'channel_stats');
    expect(loaded.status, loaded.body.toString()).toBe(200);
    expect(loaded.body.length).toBe(0);
    expect(await entryOf('channel_stats', '1')).toEqual({ name: 'channel_stats', version: '1', state: 'READY' });
    expect((await postJson(`${server.url}/v2/models/channel_stats/infer`, body)).status).toBe(200);

    expect(changeLogs().filter((l) => l['model'] === 'channel_stats')).toEqual([
      expect.objectContaining({ msg: 'repository change', action: 'unload', model: 'channel_stats', token: 'ADMIN_TOKEN', via: 'admin' }),
      expect.objectContaining({ msg: 'repository change', action: 'load', model: 'channel_stats', token: 'ADMIN_TOKEN', via: 'admin', configGiven: false }),
    ]);
  });

  it('takes a config given with the load in place of config.json, for that load only', async () => {
    expect(readyLogs('tiny_classifier').at(-1)).toMatchObject({ instances: 2 });
    const overridden = await load(adminUrl, 'tiny_classifier', { ...TINY_CONFIG, instances: 1, max_batch_size: 16 });
    expect(overridden.status, overridden.body.toString()).toBe(200);
    expect(readyLogs('tiny_classifier').at(-1)).toMatchObject({ instances: 1, maxBatchSize: 16 });
    // The new config serves: 17 rows are over its max_batch_size.
    const tooMany = await postJson(`${server.url}/v2/models/tiny_classifier/infer`, tinyInput(17));
    expect(tooMany.status).toBe(400);
    expect(tooMany.json()['error']).toMatch(/max_batch_size 16/);

    // A load without one reads config.json again.
    expect((await load(adminUrl, 'tiny_classifier')).status).toBe(200);
    expect(readyLogs('tiny_classifier').at(-1)).toMatchObject({ instances: 2, maxBatchSize: 256 });
    expect((await postJson(`${server.url}/v2/models/tiny_classifier/infer`, tinyInput(17))).status).toBe(200);
    expect(changeLogs().filter((l) => l['model'] === 'tiny_classifier').map((l) => l['configGiven'])).toEqual([true, false]);
  });

  it('refuses calls without the token or with a wrong one (401), and from browsers (403), before changing anything', async () => {
    const before = changeLogs().length;
    const refused: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TOKEN }];
    for (const headers of refused) {
      for (const answer of [await post(`${adminUrl}/v2/repository/index`, undefined, headers), await unload(adminUrl, 'tiny_classifier', headers), await load(adminUrl, 'tiny_classifier', undefined, headers)]) {
        expect(answer.status).toBe(401);
        expect(answer.json()['error']).toMatch(/missing or wrong bearer token/);
      }
    }
    const browser = await unload(adminUrl, 'tiny_classifier', { ...BEARER, origin: 'https://example.com' });
    expect(browser.status).toBe(403);
    expect(changeLogs().length).toBe(before);
    expect(await entryOf('tiny_classifier', '1')).toMatchObject({ state: 'READY' });
  });

  it.each([
    ['not JSON', '{"parameters": ', /body is not valid JSON/],
    ['an array', '[]', /body must be a JSON object, not an array/],
    ['parameters not an object', '{"parameters": "config"}', /parameters must be an object, not string/],
    ['a config that is not a string', '{"parameters": {"config": {"instances": 1}}}', /parameters\.config must be a string .*not object/],
    ['a config that is a number', '{"parameters": {"config": 3}}', /parameters\.config must be a string .*not number/],
    ['a model file sent with the load', '{"parameters": {"config": "{}", "file:1/model.onnx": "AAAA"}}', /model files cannot be sent/],
  ])('answers 400 for a load body that is %s, and loads nothing', async (_what, body, message) => {
    const loads = readyLogs('tiny_classifier').length;
    const answer = await post(`${adminUrl}/v2/repository/models/tiny_classifier/load`, body);
    expect(answer.status).toBe(400);
    expect(answer.json()['error']).toMatch(message);
    expect(readyLogs('tiny_classifier').length).toBe(loads);
  });

  it('ignores parameters it does not know, as Triton does', async () => {
    const answer = await post(`${adminUrl}/v2/repository/models/channel_stats/load`, JSON.stringify({ parameters: { unload_dependents: true, other: 1 } }));
    expect(answer.status, answer.body.toString()).toBe(200);
    const unloadBody = await post(`${adminUrl}/v2/repository/models/nope/unload`, JSON.stringify({ parameters: { unload_dependents: true } }));
    expect(unloadBody.status).toBe(404);
    const badUnload = await post(`${adminUrl}/v2/repository/models/channel_stats/unload`, 'nope');
    expect(badUnload.status).toBe(400);
    expect(await entryOf('channel_stats', '1')).toMatchObject({ state: 'READY' });
  });

  it('refuses a body over the limit (413)', async () => {
    // Refused from its Content-Length, before it is read, and the connection closed: only the
    // headers are sent, so the client cannot race the close with a write (EPIPE).
    const length = String(JSON.stringify({ parameters: { config: 'x'.repeat(1024 * 1024 + 1) } }).length);
    const answer = await rawPost(adminUrl, '/v2/repository/models/tiny_classifier/load', { ...BEARER, 'content-length': length });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)['error']).toMatch(/over the limit of 1048576 bytes/);
  });

  it.each(['..', '%2e%2e', 'a%2Fb', '..%2F..%2Fetc'])('answers 400 for model name %s on load and unload', async (name) => {
    for (const action of ['load', 'unload']) {
      const answer = await rawPost(adminUrl, `/v2/repository/models/${name}/${action}`, BEARER);
      expect(answer.status, answer.body).toBe(400);
      expect(JSON.parse(answer.body)['error']).toMatch(/model name .* is not valid/);
    }
  });

  it.each(['nope', 'constructor', '__proto__', 'toString'])('answers 404 for %s, a model not in the repository', async (name) => {
    const loaded = await load(adminUrl, name);
    expect(loaded.status).toBe(404);
    expect(loaded.json()['error']).toMatch(/is not in the model repository/);
    const unloaded = await unload(adminUrl, name);
    expect(unloaded.status).toBe(404);
    expect(unloaded.json()['error']).toMatch(/unknown model/);
  });

  it('answers 409 when unloading a model a route uses, naming the route, and keeps serving it', async () => {
    const refused = await unload(adminUrl, 'scorer');
    expect(refused.status).toBe(409);
    expect(refused.json()['error']).toMatch(/model scorer version \d is used by route scorer/);
    expect(await entryOf('scorer', '1')).toEqual({ name: 'scorer', version: '1', state: 'READY' });
    expect(await entryOf('scorer', '2')).toEqual({ name: 'scorer', version: '2', state: 'READY' });
    expect(changeLogs().at(-1)).toMatchObject({ msg: 'repository change refused', action: 'unload', model: 'scorer', code: 'CONFLICT', token: 'ADMIN_TOKEN' });
  });
});

describe('REST data port', () => {
  it('loads and unloads with the admin token', async () => {
    expect((await unload(server.url, 'channel_stats')).status).toBe(200);
    await waitFor('channel_stats to be unloaded', async () => (await entryOf('channel_stats', '1'))?.reason === 'unloaded');
    const loaded = await load(server.url, 'channel_stats');
    expect(loaded.status, loaded.body.toString()).toBe(200);
    expect(loaded.body.length).toBe(0);
    expect(await entryOf('channel_stats', '1')).toEqual({ name: 'channel_stats', version: '1', state: 'READY' });
    expect(changeLogs().slice(-2)).toEqual([
      expect.objectContaining({ action: 'unload', model: 'channel_stats', token: 'ADMIN_TOKEN', via: 'rest' }),
      expect.objectContaining({ action: 'load', model: 'channel_stats', token: 'ADMIN_TOKEN', via: 'rest' }),
    ]);
  });

  it('refuses loads and unloads without the token or with a wrong one (401); the index stays open', async () => {
    const refused: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-0123456789' }];
    for (const headers of refused) {
      for (const answer of [await load(server.url, 'channel_stats', undefined, headers), await unload(server.url, 'channel_stats', headers)]) {
        expect(answer.status).toBe(401);
        expect(answer.json()['error']).toMatch(/missing or wrong bearer token/);
      }
    }
    expect((await post(`${server.url}/v2/repository/index`, undefined, {})).status).toBe(200);
    expect(await entryOf('channel_stats', '1')).toMatchObject({ state: 'READY' });
  });

  it('validates as the admin port does: config not a string 400, unknown model 404, route in use 409', async () => {
    const notString = await post(`${server.url}/v2/repository/models/tiny_classifier/load`, '{"parameters": {"config": true}}');
    expect(notString.status).toBe(400);
    expect(notString.json()['error']).toMatch(/parameters\.config must be a string/);
    expect((await load(server.url, 'nope')).status).toBe(404);
    const routed = await unload(server.url, 'scorer');
    expect(routed.status).toBe(409);
    expect(routed.json()['error']).toMatch(/route scorer/);
    const dots = await rawPost(server.url, '/v2/repository/models/../load', BEARER);
    expect(dots.status).toBe(400);
  });

  it('refuses repository control (403) when the server has no admin token, whatever is sent', async () => {
    for (const headers of [{}, BEARER]) {
      for (const answer of [await load(closed.url, 'fast', undefined, headers), await unload(closed.url, 'fast', headers)]) {
        expect(answer.status).toBe(403);
        expect(answer.json()['error']).toMatch(/repository control is disabled/);
      }
    }
    expect((await post(`${closed.url}/v2/repository/index`, undefined, {})).json()).toEqual([{ name: 'fast', version: '1', state: 'READY' }]);
    expect(closed.logs.some((l) => l['msg'] === 'admin API listening')).toBe(false);
  });
});

describe('gRPC data port', () => {
  const auth = { metadata: BEARER };

  it('RepositoryIndex carries name, version, state and reason for each version, as REST does', async () => {
    const { models } = await grpc.call<{ models: { name: string; version: string; state: string; reason: string }[] }>('RepositoryIndex', {});
    const rest = await index(server.url);
    expect(models).toEqual(rest.map((e) => ({ name: e.name, version: e.version ?? '', state: e.state, reason: e.reason ?? '' })));
    expect(models).toContainEqual({ name: 'scorer', version: '2', state: 'READY', reason: '' });
    expect(models.some((m) => m.reason === 'unloaded')).toBe(false);
  });

  it('RepositoryIndex with ready: true lists only versions that serve', async () => {
    expect((await grpc.call('RepositoryModelUnload', { model_name: 'channel_stats' }, auth))).toEqual({});
    await waitFor('channel_stats to be unloaded', async () => (await entryOf('channel_stats', '1'))?.reason === 'unloaded');
    const all = await grpc.call<{ models: { name: string; state: string; reason: string }[] }>('RepositoryIndex', {});
    expect(all.models).toContainEqual({ name: 'channel_stats', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    const ready = await grpc.call<{ models: { name: string; state: string }[] }>('RepositoryIndex', { ready: true });
    expect(ready.models.length).toBe(all.models.length - 1);
    expect(ready.models.every((m) => m.state === 'READY')).toBe(true);
    expect(ready.models.some((m) => m.name === 'channel_stats')).toBe(false);
    expect(changeLogs().at(-1)).toMatchObject({ msg: 'repository change', action: 'unload', model: 'channel_stats', via: 'grpc', token: 'ADMIN_TOKEN' });
  });

  it('RepositoryModelLoad takes the config in parameters["config"].string_param', async () => {
    const config = JSON.stringify({ ...TINY_CONFIG, instances: 1, max_batch_size: 8 });
    expect(await grpc.call('RepositoryModelLoad', { model_name: 'tiny_classifier', parameters: { config: { string_param: config } } }, auth)).toEqual({});
    expect(readyLogs('tiny_classifier').at(-1)).toMatchObject({ instances: 1, maxBatchSize: 8 });
    expect(changeLogs().at(-1)).toMatchObject({ action: 'load', model: 'tiny_classifier', via: 'grpc', configGiven: true });
    expect(await grpc.call('RepositoryModelLoad', { model_name: 'channel_stats' }, auth)).toEqual({});
    expect(await entryOf('channel_stats', '1')).toEqual({ name: 'channel_stats', version: '1', state: 'READY' });
    expect(await grpc.call('RepositoryModelLoad', { model_name: 'tiny_classifier' }, auth)).toEqual({});
    expect(readyLogs('tiny_classifier').at(-1)).toMatchObject({ instances: 2, maxBatchSize: 256 });
  });

  it('refuses loads and unloads without the token or with a wrong one (UNAUTHENTICATED)', async () => {
    const before = changeLogs().length;
    for (const options of [{}, { metadata: { authorization: 'Bearer wrong-token-0123456789' } }]) {
      for (const method of ['RepositoryModelLoad', 'RepositoryModelUnload']) {
        const error = await grpcError(grpc.call(method, { model_name: 'channel_stats' }, options));
        expect(error.code).toBe(status.UNAUTHENTICATED);
        expect(error.details).toMatch(/missing or wrong bearer token/);
      }
    }
    expect(changeLogs().length).toBe(before);
  });

  it('maps refusals to their status: bad config INVALID_ARGUMENT, unknown model NOT_FOUND, a route in use ABORTED naming it', async () => {
    const notString = await grpcError(grpc.call('RepositoryModelLoad', { model_name: 'tiny_classifier', parameters: { config: { int64_param: 2 } } }, auth));
    expect(notString.code).toBe(status.INVALID_ARGUMENT);
    expect(notString.details).toMatch(/parameters\["config"\] must be a string_param/);
    const badName = await grpcError(grpc.call('RepositoryModelLoad', { model_name: '../etc' }, auth));
    expect(badName.code).toBe(status.INVALID_ARGUMENT);
    expect((await grpcError(grpc.call('RepositoryModelLoad', { model_name: 'nope' }, auth))).code).toBe(status.NOT_FOUND);
    const routed = await grpcError(grpc.call('RepositoryModelUnload', { model_name: 'scorer' }, auth));
    expect(routed.code).toBe(status.ABORTED);
    expect(routed.details).toMatch(/route scorer/);
  });

  it('refuses repository control with PERMISSION_DENIED when the server has no admin token; the index stays open', async () => {
    for (const options of [{}, auth]) {
      for (const method of ['RepositoryModelLoad', 'RepositoryModelUnload']) {
        const error = await grpcError(closedGrpc.call(method, { model_name: 'fast' }, options));
        expect(error.code).toBe(status.PERMISSION_DENIED);
        expect(error.details).toMatch(/repository control is disabled/);
      }
    }
    expect(await closedGrpc.call('RepositoryIndex', {})).toEqual({ models: [{ name: 'fast', version: '1', state: 'READY', reason: '' }] });
  });

  it('ModelStatistics reports the figures the REST statistics endpoint reports', async () => {
    interface Duration {
      count: number | string;
      ns: number | string;
    }
    interface Stats {
      name: string;
      version: string;
      last_inference: number | string;
      inference_count: number | string;
      execution_count: number | string;
      inference_stats: Record<string, Duration>;
      batch_stats: { batch_size: number | string; compute_infer: Duration }[];
    }
    const restStats = async () => (await request(`${server.url}/v2/models/tiny_classifier/stats`)).json<{ model_stats: Stats[] }>().model_stats[0]!;
    const before = await restStats();
    for (const rows of [1, 1, 1, 2]) expect((await postJson(`${server.url}/v2/models/tiny_classifier/infer`, tinyInput(rows))).status).toBe(200);
    const rest = await restStats();
    expect(Number(rest.inference_count) - Number(before.inference_count)).toBe(5);

    const { model_stats } = await grpc.call<{ model_stats: Stats[] }>('ModelStatistics', { name: 'tiny_classifier', version: '1' });
    expect(model_stats).toHaveLength(1);
    const stats = model_stats[0]!;
    const numbers = (d: Duration) => ({ count: Number(d.count), ns: Number(d.ns) });
    expect({ name: stats.name, version: stats.version }).toEqual({ name: 'tiny_classifier', version: '1' });
    expect(Number(stats.inference_count)).toBe(rest.inference_count);
    expect(Number(stats.execution_count)).toBe(rest.execution_count);
    expect(Number(stats.last_inference)).toBe(rest.last_inference);
    for (const key of ['success', 'fail', 'queue', 'compute_infer'] as const) {
      expect(numbers(stats.inference_stats[key]!), key).toEqual(rest.inference_stats[key]);
    }
    // Figures brisk does not measure are zero, present as Triton sets them.
    for (const key of ['compute_input', 'compute_output', 'cache_hit', 'cache_miss']) {
      expect(numbers(stats.inference_stats[key]!), key).toEqual({ count: 0, ns: 0 });
    }
    expect(stats.batch_stats.map((b) => ({ batch_size: Number(b.batch_size), compute_infer: numbers(b.compute_infer) }))).toEqual(rest.batch_stats);
    expect(stats.batch_stats.length).toBeGreaterThan(0);

    // Without a name, every version of every model.
    const all = await grpc.call<{ model_stats: Stats[] }>('ModelStatistics', {});
    expect(all.model_stats.map((s) => `${s.name}/${s.version}`)).toEqual(expect.arrayContaining(['tiny_classifier/1', 'scorer/1', 'scorer/2']));
    expect((await grpcError(grpc.call('ModelStatistics', { name: 'nope' }))).code).toBe(status.NOT_FOUND);
  });
});

describe('CLI', () => {
  const brisk = (args: string[], env: NodeJS.ProcessEnv = { ADMIN_TOKEN: TOKEN }) =>
    promisify(execFile)(process.execPath, [projectFile('dist', 'src', 'cli.js'), ...args, '--admin-url', adminUrl], {
      env: { ...process.env, BRISK_ADMIN_URL: '', ...env },
    }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );
  const cli = (args: string[], env?: NodeJS.ProcessEnv) => brisk(['models', ...args], env);

  it('lists, unloads and loads models through the admin API', async () => {
    const list = await cli(['list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^scorer\s+1\s+READY$/m);
    expect(list.stdout).toMatch(/^tiny_classifier\s+1\s+READY$/m);

    const unloaded = await cli(['unload', 'channel_stats']);
    expect(unloaded.code, unloaded.stderr).toBe(0);
    expect(unloaded.stdout).toMatch(/^unloading channel_stats$/m);
    await waitFor('channel_stats to be unloaded', async () => (await entryOf('channel_stats', '1'))?.reason === 'unloaded');

    const loaded = await cli(['load', 'channel_stats']);
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.stdout).toMatch(/^channel_stats\s+1\s+READY$/m);
    expect(changeLogs().slice(-2).map((l) => [l['action'], l['via']])).toEqual([
      ['unload', 'admin'],
      ['load', 'admin'],
    ]);
  });

  it('loads with --config FILE, and reads the token from --token-file', async () => {
    const dir = tempDir('cli');
    const configFile = path.join(dir, 'tiny.json');
    writeFileSync(configFile, JSON.stringify({ ...TINY_CONFIG, instances: 1 }));
    const tokenFile = path.join(dir, 'tokens');
    writeFileSync(tokenFile, `# operators\nops ${TOKEN}\n`);
    const loaded = await cli(['load', 'tiny_classifier', '--config', configFile, '--token-file', tokenFile], { ADMIN_TOKEN: '' });
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.stdout).toMatch(/loaded tiny_classifier with .*tiny\.json/);
    expect(readyLogs('tiny_classifier').at(-1)).toMatchObject({ instances: 1 });
    expect(changeLogs().at(-1)).toMatchObject({ action: 'load', configGiven: true });
    expect((await load(adminUrl, 'tiny_classifier')).status).toBe(200);
    expect(readyLogs('tiny_classifier').at(-1)).toMatchObject({ instances: 2 });
  });

  it('reports refusals as one line with the status, and exits 2; `brisk routes` shares its client', async () => {
    const [wrong, routed, missing, routes, stale] = await Promise.all([
      cli(['list'], { ADMIN_TOKEN: 'wrong-token-0123456789' }),
      cli(['unload', 'scorer']),
      cli(['load', 'tiny_classifier', '--config', '/nonexistent/config.json']),
      brisk(['routes', 'show', 'scorer']),
      brisk(['routes', 'set', 'scorer', '1=50', '2=50', '--if-match', '999']),
    ]);
    expect(routes.code, routes.stderr).toBe(0);
    expect(routes.stdout).toMatch(/^scorer {2}revision 1 /);
    expect(routes.stdout).toMatch(/scorer\/1 +100%/);
    // The If-Match header still goes out: a stale revision is refused and nothing changes.
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/^brisk: 409: /);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim()).toBe('brisk: 401: missing or wrong bearer token');
    expect(routed.code).toBe(2);
    expect(routed.stderr).toMatch(/^brisk: 409: .*route scorer/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read --config .*ENOENT/);
    expect(await entryOf('scorer', '1')).toMatchObject({ state: 'READY' });
  });
});
