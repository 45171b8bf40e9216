/**
 * Which model version serves a request. A request naming a version goes
 * there; a request naming a route is split by the route's slots (sticky on its
 * routing key, random otherwise); any other name is a model and its version
 * policy decides. Shadows are sampled here too.
 */
import type { RouteStore } from './route-store.js';
import { primaryTarget, targetId, type ShadowTarget } from './route.js';
import { pickSlot } from './slots.js';

export type TargetRole = 'primary' | 'canary';

export interface RouteDecision {
  route: string;
  model: string;
  version: string;
  /** The target with the largest weight is the primary; the others are canaries. */
  role: TargetRole;
  shadows: ShadowTarget[];
}

/**
 * Told, once per request a route sent to a target, how it ended: `outcome` is 'success' or the
 * error code in lower case ('internal', 'overloaded', …), `seconds` the time to the answer
 * (0 for errors). Positional, so that the hot path allocates nothing for it.
 */
export type RouteOutcomeListener = (route: string, model: string, version: string, role: TargetRole, outcome: string, seconds: number) => void;

export class Router {
  constructor(
    private readonly store: RouteStore,
    private readonly random: () => number = Math.random,
  ) {}

  /** Undefined when `name` is not a route; `name` is whatever a client sent, `constructor` included. */
  decide(name: string, version: string | undefined, routingKey: string | undefined): RouteDecision | undefined {
    if (version !== undefined && version !== '') return undefined;
    const route = this.store.get(name);
    if (!route) return undefined;
    const owner = route.slots[pickSlot(routingKey, this.random)]!;
    const target = route.spec.targets.find((t) => targetId(t) === owner)!;
    return {
      route: name,
      model: target.model,
      version: target.version,
      role: target === primaryTarget(route.spec) ? 'primary' : 'canary',
      shadows: route.spec.shadows.filter((s) => this.random() * 100 < s.percent),
    };
  }
}
