/**
 * Progressive rollouts on a real server, with real models built into a temporary repository
 * by the project's own builder: scorer 1 (the primary), 2 (healthy), 3 (fails every batch
 * whose size is not a multiple of 7: a Reshape) and 4 (the same answers, slowed by matrix
 * products). Intervals of about a second, under closed-loop load of real HTTP requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, ROLLOUT_TEST_MODELS } from '../../src/modelgen/catalog.js';
import type { RolloutView } from '../../src/rollout/rollout-controller.js';
import { adminClient, TEST_ADMIN_TOKEN } from '../helpers/admin.js';
import { closedLoop, type ClosedLoop } from '../helpers/closed-loop.js';
import { waitFor } from '../helpers/conditions.js';
import { scrape, seriesValue } from '../helpers/observe.js';
import { tempDir, writeRepository } from '../helpers/repository.js';
import { startServer, type TestServer } from '../helpers/server.js';

const config = { max_batch_size: 64, version_policy: { all: {} }, dynamic_batching: { max_queue_delay_us: 500 } };
const CONCURRENCY = 8;
let repository: string;
let stateDir: string;
let server: TestServer;
let admin: ReturnType<typeof adminClient>;

async function start(): Promise<void> {
  // Shadow copies are never shed for load here, so that step 0 gets its comparisons on a busy machine.
  server = await startServer(repository, ['--state-dir', stateDir, '--shadow-max-load', '1'], { ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  admin = adminClient(server);
}

beforeAll(async () => {
  repository = writeRepository(
    [...BUNDLED_MODELS.filter((e) => e.model === 'scorer'), ROLLOUT_TEST_MODELS.scorerFailing, ROLLOUT_TEST_MODELS.scorerSlow].map((entry) => ({ entry, config })),
  );
  stateDir = tempDir('rollout-state');
  await start();
});

afterAll(async () => {
  await server?.stop();
});

const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: Array.from({ length: 32 }, (_, i) => Math.sin(i)) }] });
const load = (route: string): ClosedLoop => closedLoop(`${server.url}/v2/models/${route}/infer`, body, CONCURRENCY);
const primaryOnly = { targets: [{ model: 'scorer', version: '1', weight: 100 }] };

async function route(name: string, spec: unknown = primaryOnly): Promise<void> {
  const answer = await admin('PUT', `/admin/routes/${name}`, spec);
  expect(answer.status, answer.body.toString()).toBe(200);
}

async function rollout(name: string, spec: Record<string, unknown>): Promise<RolloutView> {
  const answer = await admin('PUT', `/admin/routes/${name}/rollout`, spec);
  expect(answer.status, answer.body.toString()).toBe(200);
  return answer.json<RolloutView>();
}

const status = async (name: string): Promise<RolloutView> => (await admin('GET', `/admin/routes/${name}/rollout`)).json<RolloutView>();
const targets = async (name: string): Promise<unknown> => (await admin('GET', `/admin/routes/${name}`)).json()['targets'];
const reachState = (name: string, state: string, timeoutMs = 30_000): Promise<void> =>
  waitFor(
    `rollout of ${name} ${state}`,
    async () => {
      const now = await status(name);
      // Applied: the route carries the weight of that state.
      return now.state === state && now.applied;
    },
    timeoutMs,
    50,
  );

describe('the admin API of rollouts', () => {
  it('refuses what cannot be rolled out with 400, 404 or 409, and changes nothing', async () => {
    await route('checked');
    const put = (name: string, spec: unknown) => admin('PUT', `/admin/routes/${name}/rollout`, spec);
    const refusals: [string, unknown, number, RegExp][] = [
      ['checked', { target: { model: 'scorer', version: '2' }, steps: [25, 5] }, 400, /steps: must increase/],
      ['checked', { target: { model: 'scorer', version: '9' } }, 400, /scorer\/9/],
      ['checked', { target: { model: 'scorer', version: '1' } }, 400, /already the primary/],
      ['checked', { target: { model: 'scorer', version: '2' }, gates: { min_argmax_agreement: 0.9 } }, 400, /shadow gates need route checked to shadow scorer\/2/],
      ['checked', { target: { model: 'scorer', version: '2' }, gates: { min_requests: 0 } }, 400, /gates.min_requests/],
      ['checked', { target: { model: 'scorer', version: '2' }, interval_seconds: 'soon' }, 400, /interval_seconds/],
      ['nowhere', { target: { model: 'scorer', version: '2' } }, 404, /no route nowhere/],
      // Hostile bodies: prototype keys (own properties once parsed), unknown fields, absurd numbers and sizes.
      ['checked', JSON.parse('{"__proto__": {"failure_limit": 1}, "target": {"model": "scorer", "version": "2"}}'), 400, /Unrecognized key: "__proto__"/],
      ['checked', JSON.parse('{"target": {"model": "scorer", "version": "2"}, "gates": {"constructor": 1}}'), 400, /gates: Unrecognized key: "constructor"/],
      ['checked', { target: { model: 'scorer', version: '2', weight: 5 } }, 400, /target: Unrecognized key: "weight"/],
      ['checked', { target: { model: 'scorer', version: '2' }, interval_seconds: -1, failure_limit: 1.5 }, 400, /interval_seconds: .*failure_limit/],
      ['checked', { target: { model: 'scorer', version: '2' }, gates: { max_error_rate: 2, max_p99_ratio: 0 } }, 400, /gates.max_error_rate: .*gates.max_p99_ratio/],
      ['checked', { target: { model: 'scorer', version: 1e20 } }, 400, /target.version/],
      ['checked', { target: { model: 'scorer', version: '2' }, steps: Array.from({ length: 100_000 }, (_, i) => i) }, 400, /steps: Too big/],
      ['checked', { target: { model: 'scorer', version: '2' }, steps: [100] }, 400, /before any interval is judged/],
      ['checked', 'scorer/2', 400, /expected object/],
    ];
    for (const [name, spec, code, message] of refusals) {
      const answer = await put(name, spec);
      expect(answer.status, JSON.stringify(spec)).toBe(code);
      expect(answer.json()['error']).toMatch(message);
    }
    const adminPort = server.logs.find((l) => l['msg'] === 'serving')!['adminPort'] as number;
    const raw = (path: string, text: string) =>
      fetch(`http://127.0.0.1:${adminPort}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: text });
    const malformed = await raw('/admin/routes/checked/rollout', '{"target": {"model": "scorer", "version": "2"}');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: string }).error).toBe('body is not valid JSON');
    expect((await raw('/admin/routes/..%2Fchecked/rollout', '{}')).status).toBe(400);
    expect((await admin('GET', '/admin/routes/checked/rollout')).status).toBe(404);
    expect(await targets('checked')).toEqual(primaryOnly.targets);
    // Without the token, nothing is told or started.
    const anonymous = await fetch(`http://127.0.0.1:${adminPort}/admin/routes/checked/rollout`, {
      method: 'PUT',
      body: JSON.stringify({ target: { model: 'scorer', version: '2' } }),
    });
    expect(anonymous.status).toBe(401);
    // A second rollout while one runs is a conflict.
    await rollout('checked', { target: { model: 'scorer', version: '2' }, interval_seconds: 3600 });
    const second = await put('checked', { target: { model: 'scorer', version: '2' } });
    expect(second.status).toBe(409);
    expect((await admin('POST', '/admin/routes/checked/rollout/abort')).status).toBe(200);
    expect(await targets('checked')).toEqual(primaryOnly.targets);
  });
});

describe('a healthy version', () => {
  it('is promoted through every step', async () => {
    await route('healthy');
    const traffic = load('healthy');
    try {
      // The p99 gate is off here. At 5% the canary's p99 comes from a hundred samples or fewer,
      // i.e. one of their two largest: on a loaded 2-core machine one scheduling stall that lands
      // on a canary request puts it at 2 to 8 times the primary's, whose p99 from thousands of
      // samples does not move (with the gate at 2 this test failed 3 of 7 runs here). The p99
      // gate is tested where it must fail (ten times slower) and in the judge's unit tests.
      // Thin traffic only makes intervals inconclusive (they carry over).
      await rollout('healthy', { target: { model: 'scorer', version: '2' }, interval_seconds: 1, gates: { min_requests: 50, max_p99_ratio: null }, inconclusive_limit: 30 });
      await reachState('healthy', 'promoted');
    } finally {
      await traffic.stop();
    }
    const done = await status('healthy');
    const passes = done.intervals.filter((i) => i.verdict === 'pass');
    expect(passes.map((i) => i.weight)).toEqual([5, 25, 50]);
    const fails = done.intervals.filter((i) => i.verdict === 'fail');
    expect(fails.map((i) => i.reasons), 'no interval failed').toEqual([]);
    for (const pass of passes) expect(pass.canary.requests).toBeGreaterThanOrEqual(50);
    expect(done.weight).toBe(100);
    expect(await targets('healthy')).toEqual([{ model: 'scorer', version: '2', weight: 100 }]);
    expect(traffic.answered()).toBe(traffic.answeredWith(200));
    const { entries } = (await admin('GET', '/admin/audit')).json<{ entries: { route: string; action: string; reason?: string }[] }>();
    const reasons = entries.filter((e) => e.route === 'healthy' && e.action === 'rollout').map((e) => e.reason);
    expect(reasons.at(0)).toMatch(/started by ADMIN_TOKEN .*step 1, 5%/);
    expect(reasons.at(-1)).toMatch(/promoted: interval \d+ at step 3 passed/);
    const metrics = await scrape(server.url);
    expect(seriesValue(metrics, 'brisk_rollout_state{route="healthy"}')).toBe(3);
    expect(seriesValue(metrics, 'brisk_rollout_weight{route="healthy"}')).toBe(100);
    expect(seriesValue(metrics, 'brisk_rollout_verdicts_total{route="healthy",verdict="pass"}')).toBe(3);
  }, 45_000);
});

describe('a version that fails most batches', () => {
  it('is rolled back within failure_limit intervals, and every error it answered is counted', async () => {
    await route('failing');
    const traffic = load('failing');
    const started = performance.now();
    let seconds: number;
    try {
      await rollout('failing', { target: { model: 'scorer', version: '3' }, interval_seconds: 1, gates: { min_requests: 50 }, failure_limit: 2, inconclusive_limit: 30 });
      await reachState('failing', 'rolled_back');
      seconds = (performance.now() - started) / 1000;
    } finally {
      await traffic.stop();
    }
    const done = await status('failing');
    const judged = done.intervals.filter((i) => i.verdict !== 'inconclusive');
    expect(judged.length).toBeLessThanOrEqual(2);
    expect(judged.at(-1)!.verdict).toBe('fail');
    expect(judged.at(-1)!.reasons.join(' ')).toMatch(/canary error rate/);
    expect(done.reason).toMatch(/rolled back after/);
    expect(done.weight).toBe(0);
    // The target left the route: version 1 serves everything again.
    expect(await targets('failing')).toEqual(primaryOnly.targets);
    // What clients saw is what the server counted: every 500 came from the canary.
    const errors = traffic.answeredWith(500);
    expect(traffic.answered()).toBe(traffic.answeredWith(200) + errors);
    expect(errors).toBeGreaterThan(0);
    expect(done.totals.canary_errors).toBe(errors);
    // Judged at 50 or more at an interval's end (a fail, under the burst threshold of 2 × 50), then
    // caught as a burst at 50 more; plus what was in flight when the weight went to 0.
    expect(errors).toBeLessThanOrEqual(3 * 50 + 4 * CONCURRENCY);
    console.info(`failing canary: rolled back after ${seconds.toFixed(2)} s, ${errors} of ${traffic.answered()} requests answered with an error`);
    const { entries } = (await admin('GET', '/admin/audit')).json<{ entries: { route: string; reason?: string }[] }>();
    expect(entries.filter((e) => e.route === 'failing').at(-1)!.reason).toMatch(/rolled back at step 1 after .*canary error rate .*canary \d+ requests, \d+ errors/);
    expect(seriesValue(await scrape(server.url), 'brisk_rollout_state{route="failing"}')).toBe(4);
  }, 45_000);
});

describe('a version ten times slower', () => {
  it('is rolled back on the p99 gate', async () => {
    await route('slowed');
    const traffic = load('slowed');
    try {
      await rollout('slowed', { target: { model: 'scorer', version: '4' }, interval_seconds: 1, gates: { min_requests: 30 }, failure_limit: 2, inconclusive_limit: 30 });
      await reachState('slowed', 'rolled_back');
    } finally {
      await traffic.stop();
    }
    const done = await status('slowed');
    const fails = done.intervals.filter((i) => i.verdict === 'fail');
    expect(fails).toHaveLength(2);
    for (const fail of fails) {
      expect(fail.reasons.join(' ')).toMatch(/canary p99 .* over max_p99_ratio 1.5/);
      expect(fail.canary.p99_seconds! / fail.primary.p99_seconds!).toBeGreaterThan(1.5);
      expect(fail.canary.errors).toBe(0);
    }
    expect(traffic.answered()).toBe(traffic.answeredWith(200));
    expect(await targets('slowed')).toEqual(primaryOnly.targets);
  }, 45_000);
});

describe('a route with almost no traffic', () => {
  it('stays inconclusive, then pauses for a human; never promoted; abort gives the weight back', async () => {
    await route('quiet');
    await rollout('quiet', { target: { model: 'scorer', version: '2' }, interval_seconds: 0.3, gates: { min_requests: 50 }, inconclusive_limit: 3 });
    for (let i = 0; i < 5; i++) {
      const answer = await fetch(`${server.url}/v2/models/quiet/infer`, { method: 'POST', body });
      expect(answer.status).toBe(200);
    }
    await reachState('quiet', 'paused', 10_000);
    const paused = await status('quiet');
    expect(paused.intervals.map((i) => i.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
    expect(paused.reason).toMatch(/paused after 3 inconclusive intervals in a row: \d+ canary requests, fewer than min_requests 50/);
    expect(paused.weight).toBe(5);
    expect(await targets('quiet')).toEqual([{ model: 'scorer', version: '1', weight: 95 }, { model: 'scorer', version: '2', weight: 5 }]);
    // Paused means no more verdicts, whatever the time.
    const aborted = await admin('POST', '/admin/routes/quiet/rollout/abort');
    expect(aborted.json()['state']).toBe('aborted');
    expect(aborted.json()['intervals']).toHaveLength(3);
    expect(await targets('quiet')).toEqual(primaryOnly.targets);
    expect((await admin('POST', '/admin/routes/quiet/rollout/resume')).status).toBe(409);
  });
});

describe('a change to the route by hand', () => {
  it('aborts the rollout, and the change stands', async () => {
    await route('manual');
    await rollout('manual', { target: { model: 'scorer', version: '2' }, interval_seconds: 3600 });
    expect(await targets('manual')).toEqual([{ model: 'scorer', version: '1', weight: 95 }, { model: 'scorer', version: '2', weight: 5 }]);
    const byHand = { targets: [{ model: 'scorer', version: '1', weight: 70 }, { model: 'scorer', version: '2', weight: 30 }] };
    await route('manual', byHand);
    const done = await status('manual');
    expect(done.state).toBe('aborted');
    expect(done.reason).toMatch(/changed by hand \(set by ADMIN_TOKEN\)/);
    expect(await targets('manual')).toEqual(byHand.targets);
    await waitFor('the abort in the audit trail', async () => {
      const { entries } = (await admin('GET', '/admin/audit')).json<{ entries: { route: string; reason?: string }[] }>();
      return /aborted: the route was changed by hand/.test(entries.filter((e) => e.route === 'manual').at(-1)?.reason ?? '');
    });
    expect((await admin('POST', '/admin/routes/manual/rollout/pause')).status).toBe(409);
  });
});

describe('step 0, while the route only shadows the target', () => {
  const shadowed = {
    ...primaryOnly,
    shadows: [{ model: 'scorer', version: '2', percent: 100, class_scores: ['scores'] }],
  };

  it('judges the shadow comparison and, when it holds, gives the target its first step', async () => {
    await route('shadowed', shadowed);
    const traffic = load('shadowed');
    try {
      // Version 2 differs from 1 by 0.05 on one of four logits: a mean |difference| of 0.0125.
      const started = await rollout('shadowed', { target: { model: 'scorer', version: '2' }, interval_seconds: 0.5, gates: { min_requests: 30, max_shadow_mean_abs_difference: 0.02, min_argmax_agreement: 0.5 } });
      expect([started.step, started.weight]).toEqual([0, 0]);
      // Applied: the step is decided before the route carries its weight (a write to disk).
      await waitFor('step 1, applied', async () => {
        const now = await status('shadowed');
        return now.step === 1 && now.applied;
      }, 30_000, 50);
    } finally {
      await traffic.stop();
    }
    const passed = (await status('shadowed')).intervals.find((i) => i.verdict === 'pass')!;
    expect(passed.step).toBe(0);
    expect(passed.shadow!.compared).toBeGreaterThanOrEqual(30);
    expect(passed.shadow!.mean_abs_difference).toBeCloseTo(0.0125, 4);
    expect(await targets('shadowed')).toEqual([{ model: 'scorer', version: '1', weight: 95 }, { model: 'scorer', version: '2', weight: 5 }]);
    expect((await admin('POST', '/admin/routes/shadowed/rollout/abort')).status).toBe(200);
  }, 45_000);

  it('rolls back at step 0 when the shadow is too far from the primary, and the target never takes traffic', async () => {
    await route('too_far', shadowed);
    const traffic = load('too_far');
    try {
      await rollout('too_far', { target: { model: 'scorer', version: '2' }, interval_seconds: 0.5, gates: { min_requests: 30, max_shadow_mean_abs_difference: 0.001 } });
      await reachState('too_far', 'rolled_back');
    } finally {
      await traffic.stop();
    }
    const done = await status('too_far');
    expect(done.intervals.filter((i) => i.verdict === 'fail').map((i) => i.step)).toEqual([0, 0]);
    expect(done.intervals.at(-1)!.reasons[0]).toMatch(/shadow mean \|difference\| 0.0125 over max_shadow_mean_abs_difference 0.001/);
    expect(done.totals.canary_requests).toBe(0);
    expect(await targets('too_far')).toEqual(primaryOnly.targets);
  }, 45_000);
});

describe('a restart mid-rollout', () => {
  it('resumes at its step with a fresh interval, and goes on judging', async () => {
    await route('durable');
    let traffic = load('durable');
    try {
      // This one is about resuming, not the gates: small samples to reach step 2 quickly, and no p99
      // gate, which a scheduling stall on a 40-sample side can fail (see the healthy version's test).
      await rollout('durable', { target: { model: 'scorer', version: '2' }, interval_seconds: 1, gates: { min_requests: 40, max_p99_ratio: null }, inconclusive_limit: 50, failure_limit: 3 });
      await waitFor('the second step', async () => (await status('durable')).step >= 2, 30_000, 50);
    } finally {
      await traffic.stop();
    }
    // Without traffic, once an interval ending after it is inconclusive, every later one is: the step holds.
    const quietSince = Date.now();
    await waitFor('an inconclusive interval without traffic', async () => {
      const last = (await status('durable')).intervals.at(-1)!;
      return Date.parse(last.ended_at) >= quietSince && last.verdict === 'inconclusive';
    }, 10_000, 50);
    const before = await status('durable');
    expect(before.state).toBe('progressing');
    await server.stop();
    const restartedAt = Date.now();
    await start();
    const after = await status('durable');
    expect(after.state).toBe('progressing');
    expect(after.step).toBe(before.step);
    expect(after.weight).toBe(before.weight);
    expect(after.intervals.slice(0, before.intervals.length)).toEqual(before.intervals);
    expect(Date.parse(after.current_interval!.started_at)).toBeGreaterThanOrEqual(restartedAt);
    expect(await targets('durable')).toEqual([{ model: 'scorer', version: '1', weight: 100 - before.weight }, { model: 'scorer', version: '2', weight: before.weight }]);
    traffic = load('durable');
    try {
      await waitFor('the next step after the restart', async () => (await status('durable')).step > before.step, 30_000, 50);
    } finally {
      await traffic.stop();
    }
    const next = await status('durable');
    expect(next.intervals.at(-1)!.verdict === 'pass' || next.state === 'promoted').toBe(true);
  }, 90_000);
});
