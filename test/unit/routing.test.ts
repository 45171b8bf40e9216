import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { parseRouteSpec } from '../../src/routing/route.js';
import { FileRouteStore, STATE_FILE } from '../../src/routing/route-store.js';
import { compareOutputs } from '../../src/routing/shadow-compare.js';
import { ShadowRunner } from '../../src/routing/shadow-runner.js';
import { ShadowStatsTable } from '../../src/routing/shadow-stats.js';
import { assignSlots, keySlot, SLOT_COUNT } from '../../src/routing/slots.js';
import { tempDir } from '../helpers/repository.js';

const count = (slots: string[], id: string) => slots.filter((s) => s === id).length;
const log = createLogger('silent');
const anyModel = () => undefined;

describe('slot assignment', () => {
  it('gives each target as many slots as its weight', () => {
    const slots = assignSlots([{ id: 'a', weight: 90 }, { id: 'b', weight: 10 }]);
    expect(slots).toHaveLength(SLOT_COUNT);
    expect(count(slots, 'a')).toBe(90);
    expect(count(slots, 'b')).toBe(10);
  });

  it('moves only slots from targets that lost weight to targets that gained it', () => {
    const before = assignSlots([{ id: 'a', weight: 60 }, { id: 'b', weight: 30 }, { id: 'c', weight: 10 }]);
    const after = assignSlots([{ id: 'a', weight: 40 }, { id: 'b', weight: 30 }, { id: 'c', weight: 30 }], before);
    expect(count(after, 'c')).toBe(30);
    after.forEach((owner, slot) => {
      if (owner !== before[slot]) expect([before[slot], owner]).toEqual(['a', 'c']);
    });
  });

  it('hands the slots of a removed target to the others', () => {
    const before = assignSlots([{ id: 'a', weight: 50 }, { id: 'b', weight: 50 }]);
    const after = assignSlots([{ id: 'a', weight: 50 }, { id: 'c', weight: 50 }], before);
    after.forEach((owner, slot) => expect(owner).toBe(before[slot] === 'a' ? 'a' : 'c'));
  });

  it('hashes a key with 32-bit FNV-1a, so a key keeps its slot across releases', () => {
    // FNV-1a's published test vectors.
    expect(keySlot('')).toBe(0x811c9dc5 % SLOT_COUNT);
    expect(keySlot('a')).toBe(0xe40c292c % SLOT_COUNT);
    expect(keySlot('foo')).toBe(0xa9f37ed7 % SLOT_COUNT);
    expect(keySlot('foobar')).toBe(0xbf9cf968 % SLOT_COUNT);
    const spread = new Set(Array.from({ length: 1000 }, (_, i) => keySlot(`k${i}`)));
    expect(spread.size).toBeGreaterThan(90);
  });
});

describe('route validation', () => {
  const target = (weight: unknown, version: unknown = '1') => ({ model: 'm', version, weight });
  it.each([
    [{ targets: [target(90), target(20, '2')] }, /weights sum to 110, not 100/],
    [{ targets: [target(-10), target(110, '2')] }, /Too small|>=0/],
    [{ targets: [target(50.5), target(49.5, '2')] }, /int/],
    [{ targets: [target(50), target(50)] }, /listed twice/],
    [{ targets: [] }, /targets/],
    [{ targets: [target(100)], shadows: [{ model: 'm', version: '2', percent: 150 }] }, /percent/],
    [{ targets: [{ model: '../x', version: '1', weight: 100 }] }, /model name/],
    [{ targets: [target(100)], extra: 1 }, /extra/],
  ])('refuses %j', (spec, message) => {
    expect(() => parseRouteSpec(spec, anyModel)).toThrow(message);
  });

  it('refuses model versions that cannot serve', () => {
    expect(() => parseRouteSpec({ targets: [target(100, '7')] }, (_m, v) => (v === '7' ? 'is not in the model repository' : undefined))).toThrow(
      /m\/7 is not in the model repository/,
    );
  });
});

describe('shadow comparison', () => {
  const tensor = (data: number[], shape = [2, 2]) => ({ name: 'scores', datatype: 'FP32' as const, shape, data: Float32Array.from(data) });

  it('measures max and mean absolute difference and argmax agreement', () => {
    const c = compareOutputs([tensor([1, 0, 0, 1])], [tensor([1.5, 0, 0.5, 0.25])], ['scores']);
    expect(c.maxAbsDiff).toBeCloseTo(0.75);
    expect(c.meanAbsDiff).toBeCloseTo((0.5 + 0 + 0.5 + 0.75) / 4);
    expect(c.argmaxRows).toBe(2);
    expect(c.argmaxAgreed).toBe(1);
  });

  it('refuses outputs of another shape', () => {
    expect(() => compareOutputs([tensor([1, 2, 3, 4])], [tensor([1, 2], [1, 2])], [])).toThrow(/shape/);
  });
});

describe('shadow shedding', () => {
  const shadow = { model: 'm', version: '2', percent: 100, class_scores: [] };

  it('sheds copies while the I/O thread is busier than maxLoad, and counts them', () => {
    let load = 0.95;
    const stats = new ShadowStatsTable();
    const runner = new ShadowRunner({ maxInFlight: 10, timeoutUs: 1000, maxLoad: 0.8, load: () => load }, stats, async () => []);
    expect(runner.admit('r', shadow)).toBe(false);
    load = 0.5;
    expect(runner.admit('r', shadow)).toBe(true);
    expect(stats.for('r', 'm/2').dropped).toBe(1);
  });

  it('sheds copies past maxInFlight', () => {
    const stats = new ShadowStatsTable();
    const never = new Promise<never>(() => undefined);
    const runner = new ShadowRunner({ maxInFlight: 1, timeoutUs: 1000, maxLoad: 1, load: () => 1 }, stats, () => never);
    expect(runner.admit('r', shadow)).toBe(true);
    runner.run('r', shadow, { modelName: 'm', parameters: {}, inputs: [], protocol: 'rest' }, never);
    expect(runner.admit('r', shadow)).toBe(false);
    expect(stats.for('r', 'm/2').dropped).toBe(1);
  });
});

describe('route store', () => {
  const spec = (a: number) => parseRouteSpec({ targets: [{ model: 'm', version: '1', weight: a }, { model: 'm', version: '2', weight: 100 - a }] }, anyModel);

  it('refuses a change made against an old revision', async () => {
    const store = new FileRouteStore(tempDir('state'), log);
    store.load({});
    const first = await store.set('r', spec(90), 'ops');
    await store.set('r', spec(80), 'ops', first.revision);
    await expect(store.set('r', spec(70), 'ops', first.revision)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(store.get('r')!.spec.targets[0]!.weight).toBe(80);
  });

  it('survives a restart, and rolls back to the previous state', async () => {
    const dir = tempDir('state');
    const store = new FileRouteStore(dir, log);
    store.load({});
    await store.set('r', spec(90), 'ops');
    await store.set('r', spec(50), 'ops');
    const restored = new FileRouteStore(dir, log);
    restored.load({ r: spec(10) });
    expect(restored.get('r')!.spec.targets[0]!.weight).toBe(50);
    const back = await restored.rollback('r', 'ops');
    expect(back.spec.targets[0]!.weight).toBe(90);
    expect(restored.audit().map((e) => e.action)).toEqual(['set', 'set', 'rollback']);
  });

  it('promotes the highest version to all the traffic', async () => {
    const store = new FileRouteStore(tempDir('state'), log);
    store.load({ r: spec(90) });
    const promoted = await store.promote('r', 'ops');
    expect(promoted.spec.targets).toEqual([{ model: 'm', version: '2', weight: 100 }]);
  });

  it('keeps the previous state file and state when a write fails', async () => {
    const dir = tempDir('state');
    const store = new FileRouteStore(dir, log);
    store.load({});
    await store.set('r', spec(90), 'ops');
    const saved = readFileSync(path.join(dir, STATE_FILE), 'utf8');
    // A directory where the temporary file goes makes the write fail, even for root.
    mkdirSync(path.join(dir, `${STATE_FILE}.tmp`));
    await expect(store.set('r', spec(10), 'ops')).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(readFileSync(path.join(dir, STATE_FILE), 'utf8')).toBe(saved);
    expect(store.get('r')!.spec.targets[0]!.weight).toBe(90);
  });

  it('sets a corrupt state file aside and starts from the configured routes', () => {
    const dir = tempDir('state');
    writeFileSync(path.join(dir, STATE_FILE), '{ not json');
    const store = new FileRouteStore(dir, log);
    store.load({ r: spec(70) });
    expect(store.get('r')!.spec.targets[0]!.weight).toBe(70);
  });
});
