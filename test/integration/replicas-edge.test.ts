/**
 * Edge cases of the etcd route store and the leader election (issue 16), on a real etcd:
 * an import that replaces what was there, a leader that stops acting before its lease can
 * expire in etcd, a new leader that takes the rollouts over from etcd rather than from a
 * watch that may lag, an ex-leader whose writes etcd refuses, a network that drops packets silently,
 * a write whose answer is lost, a full read that comes back after the watch brought something newer,
 * shutting down without waiting on etcd, and without a watch left behind; a server not ready
 * until it has read its routes.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingError } from '../../src/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { etcdClient } from '../../src/routing/etcd-client.js';
import { EtcdLeader } from '../../src/routing/etcd-leader.js';
import { EtcdRouteStore, FencedOutError } from '../../src/routing/etcd-route-store.js';
import { etcdRolloutRecords } from '../../src/routing/open-route-store.js';
import type { AuditEntry, RouteState } from '../../src/routing/route-state-file.js';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { parseRouteSpec } from '../../src/routing/route.js';
import { rejection, settledFlag, waitFor } from '../helpers/conditions.js';
import { etcdAvailable, startEtcd, startRelay, type TestEtcd } from '../helpers/etcd.js';
import { GrpcTestClient } from '../helpers/grpc-client.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer } from '../helpers/server.js';

const haveEtcd = etcdAvailable();
if (!haveEtcd && process.env['CI'] === 'true') throw new Error("etcd is not installed: .ci/run installs Debian's etcd-server");

const log = createLogger('silent');
const spec = (one: number) => parseRouteSpec({ targets: [{ model: 'm', version: '1', weight: one }, { model: 'm', version: '2', weight: 100 - one }] }, () => undefined);

let etcd: TestEtcd;
const opened: EtcdRouteStore[] = [];
const store = (prefix: string, endpoint = etcd.endpoint): EtcdRouteStore => {
  const s = new EtcdRouteStore(etcdClient({ endpoints: [endpoint] }), prefix, log);
  opened.push(s);
  return s;
};

describe.skipIf(!haveEtcd)('etcd route store edges', () => {
  beforeAll(async () => {
    etcd = await startEtcd();
  }, 30_000);

  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await etcd?.close();
  });

  it('an import replaces every route and audit entry under the prefix, and a replica started after it keeps the imported routes', async () => {
    // Before: a route the export does not have, and its audit entry.
    const before = store('/edge/import/');
    await before.load({});
    await before.set('gone', spec(50), 'ops');
    const exporter = store('/edge/export/');
    await exporter.load({});
    for (const weight of [30, 70, 40]) await exporter.set('r', spec(weight), 'ops');
    const routes = new Map<string, RouteState>(exporter.list().map((r) => [r.name, r]));
    await before.replaceAll(routes, exporter.histories(), exporter.audit(), new Map([['rollouts', '{"format":1,"rollouts":{}}']]));

    const after = store('/edge/import/');
    // Configured routes are seeded into an empty prefix only: an imported one is not replaced by them.
    await after.load({ r: spec(100) });
    expect(after.list().map((r) => r.name)).toEqual(['r']);
    expect(after.get('r')).toEqual(exporter.get('r'));
    expect(after.audit()).toEqual(exporter.audit());

    // Into a prefix no replica has used yet: the import counts as the seed.
    const fresh = store('/edge/import-fresh/');
    await fresh.replaceAll(routes, exporter.histories(), exporter.audit(), new Map());
    const started = store('/edge/import-fresh/');
    await started.load({ r: spec(100) });
    expect(started.get('r')).toEqual(exporter.get('r'));
    expect(started.audit().map((e: AuditEntry) => e.revision)).toEqual([1, 2, 3]);
  }, 30_000);

  it('a leader cut off from etcd stops acting before another replica can be elected', async () => {
    const relay = await startRelay(etcd.port);
    const events: string[] = [];
    const leaderOf = (name: string, endpoint: string): EtcdLeader =>
      new EtcdLeader(store('/edge/election/', endpoint).namespace, 'judge', name, 2, { elected: () => events.push(`${name} elected`), deposed: () => events.push(`${name} deposed`) }, log);
    const a = leaderOf('A', relay.endpoint);
    a.start();
    await waitFor('A to lead', () => a.isLeader, 10_000);
    const b = leaderOf('B', etcd.endpoint);
    b.start();
    try {
      relay.cut();
      // etcd expires A's lease 2 s after its last keepalive and elects B: A must have stopped by then.
      await waitFor('B to lead', () => b.isLeader, 15_000);
      expect(events).toEqual(['A elected', 'A deposed', 'B elected']);
    } finally {
      await b.stop();
      await a.stop();
      relay.close();
    }
  }, 30_000);

  it('a newly elected replica reads the rollouts from etcd, not from a watch that may lag behind', async () => {
    const s = store('/edge/docs/');
    await s.load({});
    const other = store('/edge/docs/');
    await other.load({});
    await other.putDocument('rollouts', 'first');
    await s.refreshDocument('rollouts');
    expect(s.document('rollouts')).toBe('first');
    // Written straight into etcd and read back at once: no waiting for the watch.
    await etcd.client.put('/edge/docs/doc/rollouts').value('second').exec();
    await s.refreshDocument('rollouts');
    expect(s.document('rollouts')).toBe('second');
    await etcd.client.delete().key('/edge/docs/doc/rollouts').exec();
    await s.refreshDocument('rollouts');
    expect(s.document('rollouts')).toBeUndefined();
  });

  it('an ex-leader whose lease was revoked cannot write the rollouts document, and steps down', async () => {
    const events: string[] = [];
    // A 30 s lease: keepalives every 10 s, so A cannot notice the revocation by itself during the test,
    // as a paused leader would not: only etcd's compare in the write stops it.
    const replica = async (name: string) => {
      const s = store('/edge/fence/');
      await s.load({});
      const leader = new EtcdLeader(s.namespace, 'judge', name, 30, { elected: () => events.push(`${name} elected`), deposed: () => events.push(`${name} deposed`) }, log);
      leader.start();
      return { s, leader, records: etcdRolloutRecords(s, log, () => leader) };
    };
    const a = await replica('A');
    const b = await replica('B');
    try {
      await waitFor('A to lead', () => a.leader.isLeader, 10_000);
      await a.records.write(new Map());
      expect(a.s.document('rollouts')).toBe('{\n "format": 1,\n "rollouts": {}\n}');
      const fence = a.leader.fence()!;
      // What etcd does to the lease of a leader that stopped answering: its election key goes with it.
      await etcd.client.leaseClient.leaseRevoke({ ID: fence.key.split('/').at(-1)! });
      await waitFor('B to lead', () => b.leader.isLeader, 10_000);
      await b.s.putDocument('rollouts', 'written by B', b.leader.fence());
      expect(a.leader.isLeader).toBe(true);

      // A write A had in flight, with the fence it held: refused by etcd, and A stops acting.
      await expect(a.records.write(new Map())).rejects.toThrow(/was not written: .*election\/judge\/.* is no longer in etcd .*so this replica no longer leads/);
      expect(a.leader.isLeader).toBe(false);
      expect(a.leader.fence()).toBeUndefined();
      await expect(a.s.putDocument('rollouts', 'stale', fence)).rejects.toBeInstanceOf(FencedOutError);
      await expect(a.records.write(new Map())).rejects.toThrow(/no longer leads/);
      const stored = await etcd.client.get('/edge/fence/doc/rollouts').string();
      expect(stored).toBe('written by B');
      expect(events).toEqual(['A elected', 'B elected', 'A deposed']);
    } finally {
      await a.leader.stop();
      await b.leader.stop();
    }
  }, 30_000);

  it('a silent network blackhole to etcd is noticed by the keepalive: brisk_route_store_connected drops, and comes back after', async () => {
    const relay = await startRelay(etcd.port);
    const registry = new Registry();
    // 5 s is the most often etcd takes pings (--grpc-keepalive-min-time); the server's default is 10 s.
    const s = new EtcdRouteStore(etcdClient({ endpoints: [relay.endpoint], keepaliveTimeMs: 5000, keepaliveTimeoutMs: 1000 }), '/edge/blackhole/', log, registry);
    opened.push(s);
    const gauge = async (): Promise<number | undefined> => (await registry.getSingleMetric('brisk_route_store_connected')?.get())?.values[0]?.value;
    try {
      await s.load({});
      expect(await gauge()).toBe(1);
      relay.blackhole();
      // Nothing is closed: without pings the watch would wait for ever, connected as far as it knows.
      await waitFor('the store to notice etcd is gone', async () => (await gauge()) === 0, 15_000);
      await expect(s.set('r', spec(10), 'ops')).rejects.toThrow(/route store \(etcd\) is unavailable/);
      relay.restore();
      await waitFor('the store to be back', async () => (await gauge()) === 1, 15_000);
    } finally {
      relay.close();
    }
  }, 40_000);

  it('a write whose answer never comes is answered 503 saying it may have been applied, and it was', async () => {
    const relay = await startRelay(etcd.port);
    const s = new EtcdRouteStore(etcdClient({ endpoints: [relay.endpoint], callTimeoutMs: 1000 }), '/edge/deadline/', log, undefined, 1000);
    opened.push(s);
    try {
      await s.load({});
      await s.set('r', spec(10), 'ops');
      // etcd gets the write and applies it; its answer is lost on the way back.
      relay.muteAnswers();
      const error = await rejection<ServingError>(s.note('r', 'ops', 'checked by hand'));
      expect(error.code).toBe('OVERLOADED');
      expect(error.message).toBe('etcd did not answer within 1 s; the change may have been applied: read the route before retrying');
      const audit = await etcd.client.getAll().prefix('/edge/deadline/audit/').strings();
      // Applied once: the client does not send it again on a new connection.
      expect(Object.values(audit).filter((text) => text.includes('checked by hand'))).toHaveLength(1);
      // A read that times out changed nothing and says only that etcd did not answer.
      await expect(s.set('r', spec(20), 'ops')).rejects.toThrow(/unavailable, so routes cannot change now: etcd did not answer: /);
    } finally {
      relay.close();
    }
  }, 30_000);

  it('a full read answered late does not undo a newer change the watch applied meanwhile, nor report a change twice', async () => {
    const s = store('/edge/readall/');
    await s.load({ r: spec(10) });
    const other = store('/edge/readall/');
    await other.load({});
    const told: number[] = [];
    s.watch((route) => told.push(route.spec.targets[0]!.weight));
    // The read's answer is held until another replica has changed the route and the watch has brought it here.
    const getAll = s.namespace.getAll.bind(s.namespace);
    s.namespace.getAll = () => {
      const builder = getAll();
      const exec = builder.exec.bind(builder);
      builder.exec = async () => {
        const answer = await exec();
        await other.set('r', spec(90), 'ops');
        await waitFor('the watch to bring the change', () => s.get('r')?.spec.targets[0]?.weight === 90, 10_000);
        return answer;
      };
      return builder;
    };
    await s.readAll();
    expect(s.get('r')?.spec.targets[0]?.weight).toBe(90);
    expect(s.get('r')?.revision).toBe(other.get('r')?.revision);
    expect(told).toEqual([90]);
  });

  it('a server is not ready while it cannot read its routes from etcd, though its models are loaded; once read, a route named as a model follows its weights', async () => {
    // A route `scorer` that sends everything to version 1: the model's own version policy picks 2.
    const repository = writeRepository(BUNDLED_MODELS.filter((e) => e.model === 'scorer').map((entry) => ({ entry, config: { version_policy: { all: {} } } })));
    writeFileSync(path.join(repository, 'routes.json'), JSON.stringify({ scorer: { targets: [{ model: 'scorer', version: '1', weight: 100 }] } }));
    const relay = await startRelay(etcd.port);
    // etcd gets the seed and the reads; its answers wait in the relay.
    relay.muteAnswers();
    const server = await startServer(repository, ['--route-store', 'etcd', '--etcd-endpoints', relay.endpoint, '--etcd-prefix', '/edge/ready/'], {}, (line) =>
      String(line['msg']).startsWith('models loaded; reading the routes'),
    );
    const grpc = new GrpcTestClient(server.grpcAddress);
    const versionServed = async (): Promise<string> => {
      const answer = await postJson(`${server.url}/v2/models/scorer/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: new Array(32).fill(0.5) }] });
      expect(answer.status, answer.body.toString()).toBe(200);
      return answer.json<{ model_version: string }>().model_version;
    };
    try {
      // Released well within the 3 s an etcd call may take before the start fails: these checks take milliseconds.
      const [model, ready, grpcReady, health] = await Promise.all([
        request(`${server.url}/v2/models/scorer/ready`),
        request(`${server.url}/v2/health/ready`),
        grpc.call('ServerReady', {}),
        grpc.call('Check', { service: '' }, {}, grpc.health),
      ]);
      expect(model.status).toBe(200);
      expect(ready.status).toBe(503);
      expect(ready.json()).toEqual({ ready: false, draining: false, routes: 'the routes have not been read from the route store (etcd) yet', not_ready: [] });
      expect(grpcReady).toEqual({ ready: false });
      expect(health).toEqual({ status: 'NOT_SERVING' });
      relay.restore();
      await waitFor('readiness once the routes are read', async () => (await request(`${server.url}/v2/health/ready`)).status === 200, 10_000);
      expect(await grpc.call('ServerReady', {})).toEqual({ ready: true });
      for (let i = 0; i < 5; i++) expect(await versionServed()).toBe('1');
    } finally {
      grpc.close();
      relay.restore();
      await server.stop();
      relay.close();
    }
  }, 30_000);

  it('close() does not wait for an unreachable etcd to confirm the end of the watch', async () => {
    const relay = await startRelay(etcd.port);
    const s = new EtcdRouteStore(etcdClient({ endpoints: [relay.endpoint] }), '/edge/close/', log);
    try {
      await s.load({});
      // Silent before the keepalive can notice (10 s): the watch still counts as connected.
      relay.blackhole();
      const closed = settledFlag(s.close());
      await waitFor('close() to return', closed, 3000);
      expect(s.connected).toBe(true);
    } finally {
      relay.close();
    }
  });

  it('a stopped leader ends its watch of who leads', async () => {
    const watchers = async (): Promise<number> => {
      const text = await (await fetch(`${etcd.endpoint}/metrics`)).text();
      return Number(/^etcd_debugging_mvcc_watcher_total (\d+)$/m.exec(text)?.[1]);
    };
    const before = await watchers();
    const client = etcdClient({ endpoints: [etcd.endpoint] });
    try {
      const leader = new EtcdLeader(client.namespace('/edge/observer/'), 'judge', 'A', 2, { elected: () => undefined, deposed: () => undefined }, log);
      leader.start();
      await waitFor('A to lead', () => leader.isLeader, 10_000);
      // The observer watches the leader's key.
      await waitFor('the observer to watch', async () => (await watchers()) > before, 10_000);
      await leader.stop();
      await waitFor('no watch left', async () => (await watchers()) === before, 5000);
    } finally {
      client.close();
    }
  });
});
