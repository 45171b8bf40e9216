/**
 * Three replicas sharing their routes in a real etcd (issue 16): a flip through one is served by
 * the others within a second, sticky keys land on the same version everywhere, concurrent
 * changes never mix, etcd's loss leaves them serving (fail static) and refusing changes, and
 * they converge when it is back, after a compaction too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { adminClient, TEST_ADMIN_TOKEN } from '../helpers/admin.js';
import { waitFor } from '../helpers/conditions.js';
import { etcdAvailable, startEtcd, startRelay, type TestEtcd } from '../helpers/etcd.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';
import { many } from '../helpers/closed-loop.js';

const haveEtcd = etcdAvailable();
if (!haveEtcd && process.env['CI'] === 'true') throw new Error('etcd is not installed: .ci/run installs Debian\'s etcd-server');
const describeEtcd = haveEtcd ? describe : describe.skip;
if (!haveEtcd) console.warn('skipping the replica tests: etcd is not installed (apt-get install etcd-server)');

const ROUTE = 'ranker';
const split = (one: number) => ({ targets: [{ model: 'scorer', version: '1', weight: one }, { model: 'scorer', version: '2', weight: 100 - one }] });
const features = Array.from({ length: 32 }, (_, i) => Math.sin(i));

let etcd: TestEtcd;
let relay: Awaited<ReturnType<typeof startRelay>>;
let replicas: TestServer[] = [];
let admins: ReturnType<typeof adminClient>[] = [];
let stopping = false;

async function served(server: TestServer, key: string): Promise<string> {
  const answer = await postJson(`${server.url}/v2/models/${ROUTE}/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: features }] }, { 'x-routing-key': key });
  if (answer.status !== 200) throw new Error(`infer answered ${answer.status}: ${answer.body.toString()}`);
  return answer.json<{ model_version: string }>().model_version;
}

const revisionOn = async (i: number): Promise<number> => (await admins[i]!('GET', `/admin/routes/${ROUTE}`)).json<{ revision: number }>().revision;


describeEtcd('replicas sharing their routes in etcd', () => {
  beforeAll(async () => {
    etcd = await startEtcd();
    relay = await startRelay(etcd.port);
    const repository = writeRepository(BUNDLED_MODELS.filter((e) => e.model === 'scorer').map((entry) => ({ entry, config: { max_batch_size: 16, version_policy: { all: {} } } })));
    // C reaches etcd through a relay, to be cut off alone.
    const endpoints = [etcd.endpoint, etcd.endpoint, relay.endpoint];
    replicas = await Promise.all(
      endpoints.map((endpoint, i) =>
        startServer(repository, ['--route-store', 'etcd', '--etcd-endpoints', endpoint, '--etcd-prefix', '/brisk/test/', '--replica-name', `replica-${'ABC'[i]}`], { ADMIN_TOKEN: TEST_ADMIN_TOKEN }),
      ),
    );
    admins = replicas.map((r) => adminClient(r));
    // A replica that dies says why.
    replicas.forEach((r, i) => {
      let stderr = '';
      r.process.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      r.process.once('exit', (code, signal) => {
        if (!stopping) console.error(`replica ${'ABC'[i]} exited (${code ?? signal}): ${stderr.slice(-3000)}`);
      });
    });
    expect((await admins[0]!('PUT', `/admin/routes/${ROUTE}`, split(100))).status).toBe(200);
    await waitFor('every replica to know the route', async () => (await Promise.all([0, 1, 2].map((i) => admins[i]!('GET', `/admin/routes/${ROUTE}`)))).every((a) => a.status === 200));
  }, 60_000);

  afterAll(async () => {
    stopping = true;
    if (process.env['REPLICA_LOGS']) for (const r of replicas) console.log(r.logs.filter((l) => (l['level'] as number) >= 40 || String(l['msg']).includes('route store')).map((l) => JSON.stringify(l)).join('\n'));
    await Promise.all(replicas.map((r) => r.stop()));
    relay?.close();
    await etcd?.close();
  });

  it('serves weights flipped through A on B and C within 1 s of the admin call returning', async () => {
    const flipped = await admins[0]!('PUT', `/admin/routes/${ROUTE}`, split(0));
    expect(flipped.status).toBe(200);
    const returnedAt = performance.now();
    const revision = flipped.json<{ revision: number }>().revision;
    const agreedAt = [0, 0];
    await Promise.all(
      [1, 2].map(async (i, j) => {
        await waitFor(`replica ${i} to serve the flip`, async () => (await served(replicas[i]!, 'flip-probe')) === '2' && (await revisionOn(i)) === revision, 5000, 5);
        agreedAt[j] = performance.now() - returnedAt;
      }),
    );
    console.log(`flip served by B after ${agreedAt[0]!.toFixed(0)} ms, by C after ${agreedAt[1]!.toFixed(0)} ms`);
    expect(Math.max(...agreedAt)).toBeLessThan(1000);
  });

  it('lands 1,000 routing keys on the same version on all three', async () => {
    const set = await admins[1]!('PUT', `/admin/routes/${ROUTE}`, split(50));
    const revision = set.json<{ revision: number }>().revision;
    await waitFor('all three at the new revision', async () => (await Promise.all([0, 1, 2].map(revisionOn))).every((r) => r === revision));
    const versions = await many(1000, 16, async (k) => Promise.all(replicas.map((r) => served(r, `user-${k}`))));
    const disagreeing = versions.filter((v) => v[0] !== v[1] || v[1] !== v[2]);
    expect(disagreeing).toEqual([]);
    // Both versions are in use, so agreement is not the trivial one.
    const ones = versions.filter((v) => v[0] === '1').length;
    expect(ones).toBeGreaterThan(300);
    expect(ones).toBeLessThan(700);
  }, 60_000);

  it('leaves one winner and a 409 when two replicas change the same revision at once', async () => {
    const revision = await revisionOn(0);
    await waitFor('B at the same revision', async () => (await revisionOn(1)) === revision);
    const headers = { 'if-match': `"${revision}"` };
    const answers = await Promise.all([admins[0]!('PUT', `/admin/routes/${ROUTE}`, split(10), headers), admins[1]!('PUT', `/admin/routes/${ROUTE}`, split(90), headers)]);
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 409]);
    const winner = answers.find((a) => a.status === 200)!.json<{ revision: number; targets: unknown }>();
    expect(winner.revision).toBe(revision + 1);
    await waitFor('all three on the winner', async () => (await Promise.all([0, 1, 2].map(revisionOn))).every((r) => r === winner.revision));
    for (const admin of admins) expect((await admin('GET', `/admin/routes/${ROUTE}`)).json<{ targets: unknown }>().targets).toEqual(winner.targets);
  });

  it('retries a lost race cleanly when no If-Match was sent: both changes apply, one after the other', async () => {
    const revision = await revisionOn(0);
    const answers = await Promise.all([admins[0]!('PUT', `/admin/routes/${ROUTE}`, split(20)), admins[1]!('PUT', `/admin/routes/${ROUTE}`, split(80))]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const revisions = answers.map((a) => a.json<{ revision: number }>().revision).sort();
    expect(revisions).toEqual([revision + 1, revision + 2]);
    const last = answers.find((a) => a.json<{ revision: number }>().revision === revision + 2)!.json<{ targets: unknown }>();
    await waitFor('all three on the last change', async () => (await Promise.all([0, 1, 2].map(revisionOn))).every((r) => r === revision + 2));
    expect((await admins[2]!('GET', `/admin/routes/${ROUTE}`)).json<{ targets: unknown }>().targets).toEqual(last.targets);
    const audit = (await admins[2]!('GET', '/admin/audit')).json<{ entries: { revision: number; route: string }[] }>().entries.filter((e) => e.route === ROUTE);
    expect(audit.map((e) => e.revision).slice(-2)).toEqual([revision + 1, revision + 2]);
  });

  it('re-reads everything on a replica whose watch revision was compacted while it was cut off', async () => {
    relay.cut();
    await waitFor('C to see etcd gone', async () => (await request(`${replicas[2]!.url}/metrics`)).body.toString().includes('brisk_route_store_connected 0'));
    const before = await served(replicas[2]!, 'compaction-probe');
    expect((await admins[2]!('PUT', `/admin/routes/${ROUTE}`, split(0))).status).toBe(503);
    // Two changes: a watch resumes from the revision after its last, which a compaction at the
    // latest revision would keep after one change alone.
    expect((await admins[0]!('PUT', `/admin/routes/${ROUTE}`, split(50))).status).toBe(200);
    const set = await admins[0]!('PUT', `/admin/routes/${ROUTE}`, split(before === '1' ? 0 : 100));
    const revision = set.json<{ revision: number }>().revision;
    const latest = await etcd.client.get('probe').exec();
    await etcd.client.kv.compact({ revision: latest.header.revision, physical: true });
    relay.restore();
    await waitFor('C to re-read after the compaction', () => replicas[2]!.logs.some((l) => l['msg'] === 'route store re-read everything and watches again'), 20_000);
    await waitFor('C at the new revision', async () => (await revisionOn(2)) === revision);
    expect(await served(replicas[2]!, 'compaction-probe')).toBe(before === '1' ? '2' : '1');
  }, 40_000);

  it('serves the last weights with 200 while etcd is down, refuses changes with 503, and converges when it is back', async () => {
    const set = await admins[0]!('PUT', `/admin/routes/${ROUTE}`, split(50));
    const revision = set.json<{ revision: number }>().revision;
    await waitFor('all three at the revision', async () => (await Promise.all([0, 1, 2].map(revisionOn))).every((r) => r === revision));
    const keys = Array.from({ length: 50 }, (_, k) => `down-${k}`);
    const expected = await Promise.all(keys.map((k) => served(replicas[0]!, k)));
    await etcd.stop();
    await waitFor('every replica to see etcd gone', async () =>
      (await Promise.all(replicas.map((r) => request(`${r.url}/metrics`)))).every((m) => m.body.toString().includes('brisk_route_store_connected 0')),
    );
    for (const replica of replicas) {
      expect((await request(`${replica.url}/v2/health/ready`)).status).toBe(200);
      expect(await Promise.all(keys.map((k) => served(replica, k)))).toEqual(expected);
    }
    const refused = await admins[1]!('PUT', `/admin/routes/${ROUTE}`, split(30));
    expect(refused.status).toBe(503);
    expect(refused.json<{ error: string }>().error).toMatch(/route store \(etcd\) is unavailable/);
    await etcd.start();
    await waitFor('every replica to reconnect', async () =>
      (await Promise.all(replicas.map((r) => request(`${r.url}/metrics`)))).every((m) => m.body.toString().includes('brisk_route_store_connected 1')),
    );
    const changed = await admins[1]!('PUT', `/admin/routes/${ROUTE}`, split(30));
    expect(changed.status).toBe(200);
    const next = changed.json<{ revision: number }>().revision;
    await waitFor('all three converged', async () => (await Promise.all([0, 1, 2].map(revisionOn))).every((r) => r === next));
  }, 60_000);
});
