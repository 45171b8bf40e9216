import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { waitFor } from '../helpers/conditions.js';
import { IN_FLIGHT, scrape, seriesValue } from '../helpers/observe.js';
import { tempDir, writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';
import { many } from '../helpers/closed-loop.js';

const TOKEN = 'test-admin-token-0123456789';
const scorers = BUNDLED_MODELS.filter((e) => e.model === 'scorer');
let repository: string;
let stateDir: string;
let server: TestServer;
let adminUrl: string;

async function start(): Promise<TestServer> {
  // Shadows are never shed for load here, so comparison counts are exact (shedding has its unit test).
  const started = await startServer(repository, ['--state-dir', stateDir, '--shadow-max-load', '1'], { ADMIN_TOKEN: TOKEN });
  adminUrl = `http://127.0.0.1:${started.logs.find((l) => l['msg'] === 'serving')!['adminPort'] as number}`;
  return started;
}

beforeAll(async () => {
  repository = writeRepository([
    ...scorers.map((entry) => ({ entry, config: { max_batch_size: 64, version_policy: { all: {} } } })),
    { entry: TEST_MODELS.fast, config: { max_batch_size: 64 } },
    { entry: TEST_MODELS.slow, config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 4 } } },
  ]);
  stateDir = tempDir('state');
  server = await start();
});

afterAll(async () => {
  await server?.stop();
});

const admin = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  request(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const features = (seed: number) => Array.from({ length: 32 }, (_, i) => Math.sin(seed + i));
const score = (route: string, seed: number, key?: string) =>
  postJson(`${server.url}/v2/models/${route}/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: features(seed) }] }, key ? { 'x-routing-key': key } : {});


const setRoute = (name: string, spec: unknown, headers?: Record<string, string>) => admin('PUT', `/admin/routes/${name}`, spec, headers);
const split = (a: number) => ({ targets: [{ model: 'scorer', version: '1', weight: a }, { model: 'scorer', version: '2', weight: 100 - a }] });

describe('overload on a route', () => {
  it('is refused at the target routing picked, and counted under that target and its role', async () => {
    // fast is the primary (first of equal weights), slow the canary: one runs and four wait.
    await setRoute('half_slow', { targets: [{ model: 'fast', version: '1', weight: 50 }, { model: 'slow', version: '1', weight: 50 }] });
    const call = (i: number) =>
      postJson(`${server.url}/v2/models/half_slow/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }, { 'x-routing-key': `key-${i}` });
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => call(i)));
    const refused = answers.filter((a) => a.status === 503);
    expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) expect(answer.json()['error']).toMatch(/model slow version 1 is overloaded/);
    const metrics = (await request(`${server.url}/metrics`)).body.toString();
    const overloaded = (role: string) =>
      Number(new RegExp(`^brisk_requests_total\\{model="slow",version="1",protocol="rest",role="${role}",outcome="overloaded"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(overloaded('canary')).toBe(refused.length);
    expect(overloaded('primary')).toBe(0);
  });
});

describe('traffic split', () => {
  // Seconds on an idle machine; the timeout is a guard for a loaded one.
  it('sends 90/10 of 10,000 requests within a binomial bound, and says who served each', { timeout: 120_000 }, async () => {
    expect((await setRoute('split', split(90))).status).toBe(200);
    const servedBy = await many(10_000, 64, async (i) => (await score('split', i)).headers.get('x-served-by'));
    const toV2 = servedBy.filter((s) => s === 'scorer/2').length;
    expect(servedBy.filter((s) => s === 'scorer/1').length + toV2).toBe(10_000);
    // p = 0.1, n = 10,000: sd = 30; 5 sd either side.
    expect(Math.abs(toV2 - 1000)).toBeLessThan(150);
  });

  it('answers with the serving version in model_version, and a named version bypasses the split', async () => {
    await setRoute('split', split(0));
    const answer = await score('split', 1);
    expect(answer.json()['model_version']).toBe('2');
    expect(answer.json()['model_name']).toBe('split');
    const pinned = await postJson(`${server.url}/v2/models/scorer/versions/1/infer`, {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: features(1) }],
    });
    expect(pinned.json()['model_version']).toBe('1');
  });

  it('keeps a routing key on its target, and moving weight moves keys only from the shrinking target', async () => {
    await setRoute('sticky', split(70));
    const keys = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const first = await many(keys.length, 32, async (i) => (await score('sticky', i, keys[i])).headers.get('x-served-by'));
    const again = await many(keys.length, 32, async (i) => (await score('sticky', i, keys[i])).headers.get('x-served-by'));
    expect(again).toEqual(first);
    await setRoute('sticky', split(40));
    const moved = await many(keys.length, 32, async (i) => (await score('sticky', i, keys[i])).headers.get('x-served-by'));
    moved.forEach((target, i) => {
      if (target !== first[i]) expect([first[i], target]).toEqual(['scorer/1', 'scorer/2']);
    });
    expect(moved.filter((t) => t === 'scorer/2').length).toBeGreaterThan(first.filter((t) => t === 'scorer/2').length);
  });
});

describe('canary flips under load', () => {
  it('moves weights, promotes and rolls back while requests flow, and fails none of them', async () => {
    await setRoute('flipping', split(90));
    let stop = false;
    const statuses: number[] = [];
    const servedBy = new Set<string>();
    const load = Promise.all(
      Array.from({ length: 16 }, async (_, worker) => {
        for (let i = 0; !stop; i++) {
          const answer = await score('flipping', worker * 10_000 + i);
          statuses.push(answer.status);
          servedBy.add(answer.headers.get('x-served-by') ?? '');
        }
      }),
    );
    // Each state of the route serves some traffic before the next change.
    const flowing = async (what: string) => {
      const answered = statuses.length;
      await waitFor(`requests answered after ${what}`, () => statuses.length >= answered + 32);
    };
    for (const weight of [50, 10, 0, 100, 30]) {
      expect((await setRoute('flipping', split(weight))).status).toBe(200);
      await flowing(`weight ${weight}`);
    }
    expect((await admin('POST', '/admin/routes/flipping/promote')).status).toBe(200);
    await flowing('promote');
    expect((await admin('POST', '/admin/routes/flipping/rollback')).status).toBe(200);
    await flowing('rollback');
    stop = true;
    await load;
    expect(statuses.length).toBeGreaterThanOrEqual(7 * 32);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(servedBy).toEqual(new Set(['scorer/1', 'scorer/2']));
  });
});

describe('shadows', () => {
  it('compares a shadow with the primary: version 2 differs by exactly 0.05 on one class', async () => {
    await setRoute('compare', {
      targets: [{ model: 'scorer', version: '1', weight: 100 }],
      shadows: [{ model: 'scorer', version: '2', percent: 100, class_scores: ['scores'] }],
    });
    await many(50, 8, (i) => score('compare', i));
    const shadowStats = async () => (await admin('GET', '/admin/routes/compare')).json<{ shadow_stats: Record<string, number>[] }>().shadow_stats[0]!;
    // Shadow copies finish after the primary answers.
    await waitFor('50 shadow comparisons', async () => (await shadowStats())['compared']! >= 50);
    const stats = await shadowStats();
    expect(stats['compared']).toBe(50);
    expect(stats['errors']).toBe(0);
    expect(stats['max_abs_diff']).toBeCloseTo(0.05, 5);
    // One of four logits moves by 0.05 in every row.
    expect(stats['mean_abs_diff']).toBeCloseTo(0.05 / 4, 5);
    expect(stats['argmax_agreement']).toBeGreaterThan(0);
    expect(stats['argmax_agreement']).toBeLessThanOrEqual(1);
    // The same figures reach Prometheus, labelled by route and shadow target.
    const metrics = (await request(`${server.url}/metrics`)).body.toString();
    expect(metrics).toContain('brisk_shadow_compared_total{route="compare",shadow="scorer/2"} 50');
    const maxDiff = Number(/brisk_shadow_max_abs_difference\{route="compare",shadow="scorer\/2"\} (\S+)/.exec(metrics)?.[1]);
    expect(maxDiff).toBeCloseTo(0.05, 5);
    expect(metrics).toMatch(/brisk_requests_total\{model="scorer",version="2",protocol="rest",role="shadow",outcome="success"\} \d+/);
  });

  it('never changes or delays the primary answer, also when the shadow is slow or fails', async () => {
    const input = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };
    const direct = await postJson(`${server.url}/v2/models/fast/infer`, input);
    await setRoute('guarded', {
      targets: [{ model: 'fast', version: '1', weight: 100 }],
      // slow takes hundreds of ms; scorer refuses these inputs (other names): an error every time.
      shadows: [{ model: 'slow', version: '1', percent: 100 }, { model: 'scorer', version: '1', percent: 100 }],
    });
    const answers = await many(8, 8, () => postJson(`${server.url}/v2/models/guarded/infer`, input));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.json()['outputs']).toEqual(direct.json()['outputs']);
    }
    const shadowStats = async (shadow: string) =>
      (await admin('GET', '/admin/routes/guarded')).json<{ shadow_stats: { shadow: string; compared: number; errors: number }[] }>()
        .shadow_stats.find((s) => s.shadow === shadow);
    // Shadow copies are no client's requests: with every primary answered, none is in flight
    // (a drain at shutdown waits on this count), though the slow copies still run.
    const inFlight = seriesValue(await scrape(server.url), IN_FLIGHT);
    // A slow run takes about half a second: every primary was answered before the first slow copy finished.
    expect((await shadowStats('slow/1'))?.compared ?? 0).toBe(0);
    expect(inFlight).toBe(0);
    await waitFor('a slow shadow copy to finish', async () => ((await shadowStats('slow/1'))?.compared ?? 0) >= 1);
    await waitFor('the failing shadow copies to be counted', async () => ((await shadowStats('scorer/1'))?.errors ?? 0) >= 8);
    expect((await shadowStats('scorer/1'))!.errors).toBe(8);
  });
});

describe('admin API', () => {
  it('refuses calls without a token, or with a wrong one, and changes nothing', async () => {
    await setRoute('locked', split(50));
    const before = (await admin('GET', '/admin/routes/locked')).json()['revision'];
    const none = await request(`${adminUrl}/admin/routes/locked`, { method: 'PUT', body: JSON.stringify(split(10)) });
    const wrong = await request(`${adminUrl}/admin/routes/locked`, {
      method: 'PUT',
      body: JSON.stringify(split(10)),
      headers: { authorization: 'Bearer not-the-token-at-all' },
    });
    expect([none.status, wrong.status]).toEqual([401, 401]);
    expect((await admin('GET', '/admin/routes/locked')).json()['revision']).toBe(before);
  });

  it('refuses browsers', async () => {
    expect((await admin('GET', '/admin/routes', undefined, { origin: 'https://example.com' })).status).toBe(403);
  });

  it('refuses invalid routes with 400 and keeps the old one', async () => {
    await setRoute('valid', split(50));
    for (const bad of [split(120), { targets: [{ model: 'scorer', version: '9', weight: 100 }] }, { targets: [{ model: 'nope', version: '1', weight: 100 }] }]) {
      const answer = await setRoute('valid', bad);
      expect(answer.status).toBe(400);
      expect(answer.json()['error']).toMatch(/invalid route/);
    }
    expect((await admin('GET', '/admin/routes/valid')).json()['targets']).toEqual(split(50).targets);
  });

  it('refuses a change against a stale revision with 409, and shows the revision as ETag', async () => {
    const current = await setRoute('versioned', split(50));
    const etag = current.headers.get('etag')!;
    expect(etag).toBe(`"${current.json()['revision']}"`);
    expect((await setRoute('versioned', split(60), { 'if-match': etag })).status).toBe(200);
    const stale = await setRoute('versioned', split(70), { 'if-match': etag });
    expect(stale.status).toBe(409);
    expect((await admin('GET', '/admin/routes/versioned')).json()['targets']).toEqual(split(60).targets);
  });

  it('records every change in the audit trail, with the token name', async () => {
    const { entries } = (await admin('GET', '/admin/audit')).json<{ entries: { route: string; token: string; action: string }[] }>();
    expect(entries.filter((e) => e.route === 'versioned').map((e) => e.action)).toEqual(['set', 'set']);
    expect(entries.every((e) => e.token === 'ADMIN_TOKEN')).toBe(true);
  });

  it('keeps routes across a restart', async () => {
    await setRoute('durable', split(30));
    await server.stop();
    server = await start();
    const route = (await admin('GET', '/admin/routes/durable')).json();
    expect(route['targets']).toEqual(split(30).targets);
  });
});
