import { describe, expect, it } from 'vitest';
import { routeSpecSchema } from '../../src/routing/route.js';
import { specWithWeight } from '../../src/rollout/rollout-weights.js';

const v = (version: string) => ({ model: 'scorer', version });
const route = (targets: [string, number][], shadows: string[] = []) =>
  routeSpecSchema.parse({ targets: targets.map(([version, weight]) => ({ ...v(version), weight })), shadows: shadows.map((version) => ({ ...v(version), percent: 10 })) });

describe('the route a rollout wants', () => {
  it('takes the weight from the primary, keeps other canaries, and lists the primary first', () => {
    const spec = specWithWeight(route([['1', 90], ['5', 10]]), v('2'), v('1'), 25);
    expect(spec.targets).toEqual([{ ...v('1'), weight: 65 }, { ...v('5'), weight: 10 }, { ...v('2'), weight: 25 }]);
    expect(routeSpecSchema.safeParse(spec).success).toBe(true);
  });

  it('at 0 takes the target out, at 100 leaves it alone, and keeps the shadows', () => {
    const start = route([['1', 75], ['2', 25]], ['2']);
    expect(specWithWeight(start, v('2'), v('1'), 0)).toEqual({ targets: [{ ...v('1'), weight: 100 }], shadows: start.shadows });
    expect(specWithWeight(start, v('2'), v('1'), 100)).toEqual({ targets: [{ ...v('2'), weight: 100 }], shadows: start.shadows });
  });

  it('refuses when the primary is gone or there is no room left for it', () => {
    expect(() => specWithWeight(route([['3', 100]]), v('2'), v('1'), 5)).toThrow(/no longer has the rollout's primary scorer\/1/);
    expect(() => specWithWeight(route([['1', 50], ['5', 50]]), v('2'), v('1'), 50)).toThrow(/leave no room/);
  });
});
