/**
 * Issue 12, item 1: model names that are JavaScript prototype keys answered 500.
 * Routes lived in a plain object, and routing looked a name up before the model
 * registry checked it, so `constructor` found Object's constructor, and each such
 * gRPC call also logged an error. They are unknown models like any other: 404
 * and NOT_FOUND, and nothing logged. A route may be called by such a name.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS } from '../../src/modelgen/catalog.js';
import { adminClient, TEST_ADMIN_TOKEN } from '../helpers/admin.js';
import { waitFor } from '../helpers/conditions.js';
import { GrpcTestClient } from '../helpers/grpc-client.js';
import { tempDir, writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

const PROTOTYPE_KEYS = [
  'constructor',
  '__proto__',
  'toString',
  'toLocaleString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  '__defineGetter__',
  '__lookupSetter__',
];

let repository: string;
let stateDir: string;
let server: TestServer;
let client: GrpcTestClient;
let admin: ReturnType<typeof adminClient>;

async function start(): Promise<void> {
  server = await startServer(repository, ['--state-dir', stateDir], { ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  admin = adminClient(server);
  client = new GrpcTestClient(server.grpcAddress);
}

async function stop(): Promise<void> {
  client?.close();
  await server?.stop();
}

beforeAll(async () => {
  repository = writeRepository([{ entry: TEST_MODELS.fast }]);
  stateDir = tempDir('state');
  await start();
});

afterAll(stop);

const infer = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };
const grpcInfer = { model_name: '', inputs: [{ name: 'x', datatype: 'FP32', shape: ['1', '4'], contents: { fp32_contents: [1, 2, 3, 4] } }] };
const grpcCode = (call: Promise<unknown>): Promise<number> => call.then(() => status.OK, (error: ServiceError) => error.code);
const setRoute = (name: string) => admin('PUT', `/admin/routes/${name}`, { targets: [{ model: 'fast', version: '1', weight: 100 }] });

describe('model names that are prototype keys', () => {
  it('are unknown models: 404 on REST, NOT_FOUND on gRPC, and nothing logged', async () => {
    const logged = server.logs.length;
    for (const name of PROTOTYPE_KEYS) {
      const rest = await Promise.all([
        postJson(`${server.url}/v2/models/${name}/infer`, infer),
        postJson(`${server.url}/v2/models/${name}/versions/1/infer`, infer),
        request(`${server.url}/v2/models/${name}/ready`),
        request(`${server.url}/v2/models/${name}`),
        request(`${server.url}/v2/models/${name}/stats`),
      ]);
      expect(rest.map((a) => a.status), name).toEqual([404, 404, 404, 404, 404]);
      expect(rest[0]!.json()['error'], name).toMatch(/unknown model/);
      const grpc = await Promise.all([
        grpcCode(client.call('ModelInfer', { ...grpcInfer, model_name: name })),
        grpcCode(client.call('ModelReady', { name, version: '' })),
        grpcCode(client.call('ModelMetadata', { name, version: '' })),
        grpcCode(client.call('ModelStatistics', { name, version: '' })),
      ]);
      expect(grpc, name).toEqual([status.NOT_FOUND, status.NOT_FOUND, status.NOT_FOUND, status.NOT_FOUND]);
    }
    // A line the server must write: its log is one ordered stream, so anything the calls above logged is before it.
    expect((await setRoute('marker')).status).toBe(200);
    await waitFor('the marker route logged', () => server.logs.slice(logged).some((l) => l['msg'] === 'route changed'));
    expect(server.logs.slice(logged).filter((l) => (l['level'] as number) >= 40)).toEqual([]);
  });

  it('may name routes, which serve on REST and gRPC and are restored after a restart', async () => {
    for (const name of ['constructor', '__proto__', 'toString']) expect((await setRoute(name)).status, name).toBe(200);
    const check = async (): Promise<void> => {
      for (const name of ['constructor', '__proto__', 'toString']) {
        const answer = await postJson(`${server.url}/v2/models/${name}/infer`, infer);
        expect(answer.status, name).toBe(200);
        expect(answer.headers.get('x-served-by')).toBe('fast/1');
        expect(await grpcCode(client.call('ModelInfer', { ...grpcInfer, model_name: name })), name).toBe(status.OK);
      }
      expect((await request(`${server.url}/v2/models/hasOwnProperty/ready`)).status).toBe(404);
    };
    await check();
    await stop();
    await start();
    const restored = server.logs.find((l) => l['msg'] === 'routes restored from the state directory')?.['routes'];
    expect(restored).toEqual(expect.arrayContaining(['constructor', '__proto__', 'toString']));
    await check();
  });
});
