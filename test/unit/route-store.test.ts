/**
 * Issue 12, items 1 and 5. A saved route state file was trusted as it was read: a
 * route whose weights did not sum to 100, or whose slots named a target it does
 * not have, was served as saved. Routes were kept in a plain object, so a route
 * called `constructor` could not be created. Promote and rollback of an unknown
 * route answered 409 where the route was not found, promote picked the highest
 * version across models, and the state file was written and fsynced on the I/O
 * thread.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseRouteSpec } from '../../src/routing/route.js';
import { FileRouteStore, STATE_FILE, type RouteStore } from '../../src/routing/route-store.js';
import { settledFlag } from '../helpers/conditions.js';
import { tempDir } from '../helpers/repository.js';

const anyModel = () => undefined;
const spec = (weight: number) =>
  parseRouteSpec({ targets: [{ model: 'm', version: '1', weight }, { model: 'm', version: '2', weight: 100 - weight }] }, anyModel);

/** A store with its log lines, parsed. */
function storeIn(dir: string): { store: RouteStore; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { store: new FileRouteStore(dir, log), lines };
}

type SavedJson = {
  routes: Record<string, { name: string; spec: { targets: { model: string; version: string; weight: number }[] }; slots: string[] }>;
  history: Record<string, { spec: { targets: { weight: number }[] } }[]>;
  audit: { action: string }[];
};

/** A state directory holding what a store saved: route `r` at 90/10, with one earlier state and two audit entries. */
async function savedState(): Promise<{ dir: string; saved: SavedJson }> {
  const dir = tempDir('state');
  const { store } = storeIn(dir);
  store.load({});
  await store.set('r', spec(80), 'ops');
  await store.set('r', spec(90), 'ops');
  return { dir, saved: JSON.parse(readFileSync(path.join(dir, STATE_FILE), 'utf8')) as SavedJson };
}

describe('the saved route state file', () => {
  it('keeps routes named after prototype keys across a restart', async () => {
    const dir = tempDir('state');
    const { store } = storeIn(dir);
    store.load({});
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) await store.set(name, spec(70), 'ops');
    await store.set('constructor', spec(60), 'ops');
    const { store: restored } = storeIn(dir);
    restored.load({});
    expect(restored.list().map((r) => r.name)).toEqual(['constructor', '__proto__', 'toString', 'hasOwnProperty']);
    expect(restored.get('__proto__')!.spec.targets[0]!.weight).toBe(70);
    expect((await restored.rollback('constructor', 'ops')).spec.targets[0]!.weight).toBe(70);
    expect(restored.get('valueOf')).toBeUndefined();
  });

  const corruptions: [string, (saved: SavedJson) => void, RegExp][] = [
    ['weights that do not sum to 100', (s) => void (s.routes['r']!.spec.targets[1]!.weight = 20), /routes\.r: spec\.targets: weights sum to 110/],
    ['slots that do not match the weights', (s) => void s.routes['r']!.slots.fill('m/1', 0, 95), /routes\.r\.slots: slot 90 belongs to "m\/1"/],
    ['a slot owned by a target the route does not have', (s) => void (s.routes['r']!.slots[0] = 'm/9'), /routes\.r\.slots: slot 0 belongs to "m\/9"/],
    ['slots missing', (s) => void s.routes['r']!.slots.pop(), /routes\.r: slots:/],
    ['a route saved under another name', (s) => void (s.routes['r']!.name = 'q'), /routes\.r: holds route "q"/],
    ['a route name that is a path', (s) => void (s.routes['a/b'] = { ...s.routes['r']!, name: 'a/b' }), /routes\.a\/b: name: must be a route name/],
    ['a target model name that is a path', (s) => void (s.routes['r']!.spec.targets[0]!.model = '../m'), /routes\.r: spec\.targets\.0\.model/],
    ['an earlier state that is not a route', (s) => void (s.history['r']![0]!.spec.targets[0]!.weight = 101), /history\.r\.0: spec\.targets\.0\.weight/],
    ['an audit entry with an unknown action', (s) => void (s.audit[0]!.action = 'drop'), /audit: 0\.action/],
    ['routes that are a list', (s) => void (s.routes = [] as never), /routes: not an object/],
  ];

  it.each(corruptions)('is set aside, with the reason logged, when it holds %s; the configured routes apply', async (_what, corrupt, reason) => {
    const { dir, saved } = await savedState();
    corrupt(saved);
    writeFileSync(path.join(dir, STATE_FILE), JSON.stringify(saved));
    const { store, lines } = storeIn(dir);
    store.load({ r: spec(70) });
    expect(store.get('r')!.spec.targets[0]!.weight).toBe(70);
    expect(store.list().map((r) => r.name)).toEqual(['r']);
    expect(existsSync(path.join(dir, STATE_FILE))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith(`${STATE_FILE}.corrupt-`))).toHaveLength(1);
    const setAside = lines.find((l) => l['msg'] === 'route state file is corrupt: set aside, starting from the configured routes');
    expect(setAside?.['reason']).toMatch(reason);
  });
});

describe('route changes', () => {
  it('promote gives all the traffic to the newest version of the primary model, not to a higher version of another model', async () => {
    const { store } = storeIn(tempDir('state'));
    const mixed = parseRouteSpec(
      { targets: [{ model: 'm', version: '1', weight: 80 }, { model: 'm', version: '2', weight: 10 }, { model: 'other', version: '7', weight: 10 }] },
      anyModel,
    );
    store.load({ r: mixed, s: parseRouteSpec({ targets: [{ model: 'other', version: '9', weight: 40 }, { model: 'm', version: '3', weight: 60 }] }, anyModel) });
    expect((await store.promote('r', 'ops')).spec.targets).toEqual([{ model: 'm', version: '2', weight: 100 }]);
    // The primary here is m/3 (the heavier), the only version of m: it stays, alone.
    expect((await store.promote('s', 'ops')).spec.targets).toEqual([{ model: 'm', version: '3', weight: 100 }]);
  });

  it('promote and rollback of a route that does not exist are NOT_FOUND, whatever If-Match says', async () => {
    const { store } = storeIn(tempDir('state'));
    store.load({ r: spec(90) });
    for (const ifMatch of [undefined, 0, 3]) {
      await expect(store.promote('nope', 'ops', ifMatch)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(store.rollback('nope', 'ops', ifMatch)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(store.promote('constructor', 'ops', ifMatch)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    // A route that exists but has never changed has nothing to roll back to: that is a conflict.
    await expect(store.rollback('r', 'ops')).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(store.audit()).toEqual([]);
  });

  it('are saved off the I/O thread: the event loop turns while the file is written, and changes still apply one at a time, in order', async () => {
    const dir = tempDir('state');
    const { store } = storeIn(dir);
    store.load({ r: spec(90) });
    const changes = [store.set('r', spec(80), 'ops'), store.set('r', spec(70), 'ops', 2), store.set('r', spec(60), 'ops', 2)];
    const settled = changes.map(settledFlag);
    // A write on the I/O thread (writeSync, fsyncSync) finished within the microtask that started it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled.map((done) => done())).toEqual([false, false, false]);
    // Only a state on disk takes effect.
    expect(store.get('r')!.spec.targets[0]!.weight).toBe(90);
    const [first, second] = await Promise.all(changes.slice(0, 2));
    expect([first!.revision, second!.revision]).toEqual([2, 3]);
    // The third named revision 2, which the second change had replaced.
    await expect(changes[2]).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(store.get('r')!.spec.targets[0]!.weight).toBe(70);
    const saved = JSON.parse(readFileSync(path.join(dir, STATE_FILE), 'utf8')) as SavedJson;
    expect(saved.routes['r']!.spec.targets[0]!.weight).toBe(70);
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
  });
});
