/**
 * The rollout controller on its own, with a real RouteStore and state directory: outcomes are
 * fed through `onOutcome` as the serving core would, so that every race is played in a fixed order.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/modelgen/weights.js';
import { RolloutController } from '../../src/rollout/rollout-controller.js';
import { ROLLOUTS_FILE } from '../../src/rollout/rollout-record.js';
import { parseRouteSpec, type RouteSpec } from '../../src/routing/route.js';
import { FileRouteStore } from '../../src/routing/route-store.js';
import { ShadowStatsTable } from '../../src/routing/shadow-stats.js';
import { rejection, waitFor } from '../helpers/conditions.js';
import { tempDir } from '../helpers/repository.js';

const route = (raw: unknown): RouteSpec => parseRouteSpec(raw, () => undefined);
const primaryOnly = route({ targets: [{ model: 'm', version: '1', weight: 100 }] });

function controllerIn(dir: string, routes: Record<string, RouteSpec> = { r: primaryOnly }) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const store = new FileRouteStore(dir, log);
  store.load(routes);
  const controller = new RolloutController({
    store,
    shadowStats: new ShadowStatsTable(),
    servable: () => undefined,
    signature: () => undefined,
    stateDir: dir,
    log,
    random: seededRandom(7),
  });
  return { store, controller, lines };
}

/** The canary's outcomes, as the serving core reports them. */
const canary = (controller: RolloutController, outcome: string, count: number): void => {
  for (let i = 0; i < count; i++) controller.onOutcome('r', 'm', '2', 'canary', outcome, outcome === 'success' ? 0.002 : 0);
};
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('an error burst', () => {
  // Judged at failure_limit × min_requests = 20 canary requests with an error rate over 10%.
  const burstSpec = { target: { model: 'm', version: '2' }, interval_seconds: 3600, gates: { min_requests: 10, max_error_rate: 0.1, max_p99_ratio: null }, failure_limit: 2 };

  it('that has passed by the time it is judged neither steps the canary up nor ends its interval', async () => {
    const { controller, store } = controllerIn(tempDir('rollout-burst'));
    await controller.start('r', burstSpec, 'ops');
    canary(controller, 'success', 17);
    canary(controller, 'internal', 3);
    // In the same turn, before the burst is judged, 20 more answers: 3 errors in 40 is under the gate.
    canary(controller, 'success', 20);
    await turn();
    const view = controller.get('r')!;
    expect(view.intervals).toEqual([]);
    expect([view.state, view.step, view.weight]).toEqual(['progressing', 1, 5]);
    expect(view.current_interval!.canary_requests).toBe(40);
    // The interval goes on: a burst that holds is judged, early, and rolls back.
    canary(controller, 'internal', 20);
    await waitFor('the rollback', () => controller.get('r')!.state === 'rolled_back' && controller.get('r')!.applied);
    const done = controller.get('r')!;
    expect(done.intervals.map((i) => [i.verdict, i.early])).toEqual([['fail', true]]);
    expect(done.intervals[0]!.canary.errors).toBe(23);
    expect(store.get('r')!.spec.targets).toEqual(primaryOnly.targets);
    await controller.stop();
  });
});

describe('steps', () => {
  it('that start at 100% are refused unless the target is judged on its shadow first', async () => {
    const { controller, store } = controllerIn(tempDir('rollout-steps'), {
      r: primaryOnly,
      s: route({ targets: [{ model: 'm', version: '1', weight: 100 }], shadows: [{ model: 'm', version: '2', percent: 100 }] }),
    });
    const error = await rejection<Error & { code: string }>(controller.start('r', { target: { model: 'm', version: '2' }, steps: [100] }, 'ops'));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/steps \[100\] give m\/2 all the traffic before any interval is judged/);
    expect(controller.get('r')).toBeUndefined();
    expect(store.get('r')!.spec.targets).toEqual(primaryOnly.targets);
    const shadowed = await controller.start('s', { target: { model: 'm', version: '2' }, steps: [100], interval_seconds: 3600 }, 'ops');
    expect([shadowed.step, shadowed.weight]).toEqual([0, 0]);
    await controller.stop();
  });
});

describe('a saved rollout that cannot be resumed', () => {
  /** rollouts.json as a server saved it for route r at 95/5, then edited to name a primary the route does not have. */
  async function editedState(edit: (record: Record<string, unknown>) => void): Promise<string> {
    const dir = tempDir('rollout-edited');
    const first = controllerIn(dir);
    await first.controller.start('r', { target: { model: 'm', version: '2' }, interval_seconds: 3600 }, 'ops');
    await first.controller.stop();
    const file = path.join(dir, ROLLOUTS_FILE);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { rollouts: Record<string, Record<string, unknown>> };
    edit(saved.rollouts['r']!);
    writeFileSync(file, JSON.stringify(saved));
    return dir;
  }

  it('does not stop the server from starting: it is paused with the reason, and abort ends it', async () => {
    const dir = await editedState((record) => {
      record['baseline'] = { model: 'm', version: '7' };
      record['applied'] = false;
    });
    const { controller, store } = controllerIn(dir, {});
    await controller.load();
    const view = controller.get('r')!;
    expect(view.state).toBe('paused');
    expect(view.reason).toMatch(/could not be resumed after a restart: the route no longer has the rollout's primary m\/7/);
    expect(store.get('r')!.spec.targets).toEqual([{ model: 'm', version: '1', weight: 95 }, { model: 'm', version: '2', weight: 5 }]);
    // Its primary is gone: abort ends it and leaves the route as it is.
    const aborted = await controller.abort('r', 'ops');
    expect(aborted.state).toBe('aborted');
    expect(aborted.reason).toMatch(/aborted by ops; the route no longer has its primary m\/7 and is left as it is/);
    expect(store.get('r')!.spec.targets).toEqual([{ model: 'm', version: '1', weight: 95 }, { model: 'm', version: '2', weight: 5 }]);
    await controller.stop();
  });
});

describe('stop', () => {
  it('resolves once a decision under way has been applied and saved', async () => {
    const { controller, store } = controllerIn(tempDir('rollout-stop'));
    await controller.start('r', { target: { model: 'm', version: '2' }, interval_seconds: 3600, gates: { min_requests: 10, max_p99_ratio: null }, failure_limit: 1 }, 'ops');
    canary(controller, 'internal', 10);
    // The burst has been judged and its rollback is being written.
    await turn();
    expect(controller.get('r')!.state).toBe('rolled_back');
    await controller.stop();
    expect(controller.get('r')!.applied).toBe(true);
    expect(store.get('r')!.spec.targets).toEqual(primaryOnly.targets);
  });
});
