/**
 * What a change does to a route, whichever store keeps it: the new state with its slots moved
 * as little as possible, the route's history for rollback, and the audit entry. Pure, so that
 * the file store and the etcd store (which may compute it again after losing a race) agree.
 */
import { primaryTarget, routeSlots, type RouteSpec } from './route.js';
import type { AuditEntry, RouteAction, RouteState } from './route-state-file.js';

/** Enough to roll back several steps and to read what happened today; older entries are dropped. */
export const HISTORY_DEPTH = 20;
export const AUDIT_LENGTH = 1000;

export interface RouteChange {
  updated: RouteState;
  history: RouteState[];
  entry: AuditEntry;
}

export function nextRouteState(
  current: RouteState | undefined,
  earlier: readonly RouteState[],
  name: string,
  action: RouteAction,
  spec: RouteSpec,
  token: string,
  reason?: string,
): RouteChange {
  const updated: RouteState = {
    name,
    spec,
    slots: routeSlots(spec, current?.slots),
    revision: (current?.revision ?? 0) + 1,
    updatedAt: new Date().toISOString(),
  };
  let history = [...earlier];
  if (action === 'rollback') history = history.slice(0, -1);
  else if (current) history = [...history, current].slice(-HISTORY_DEPTH);
  const entry: AuditEntry = {
    at: updated.updatedAt,
    token,
    route: name,
    action,
    before: current?.spec ?? null,
    after: spec,
    revision: updated.revision,
    ...(reason === undefined ? {} : { reason }),
  };
  return { updated, history, entry };
}

/** An audit entry for a rollout event that leaves the route as it is. */
export const noteEntry = (current: RouteState, token: string, reason: string): AuditEntry => ({
  at: new Date().toISOString(),
  token,
  route: current.name,
  action: 'rollout',
  before: current.spec,
  after: current.spec,
  revision: current.revision,
  reason,
});

/** The highest version of the primary's own model takes all the traffic (not another model's, whatever its number). */
export function promotedSpec(spec: RouteSpec): RouteSpec {
  const { model } = primaryTarget(spec);
  const newest = spec.targets.filter((t) => t.model === model).reduce((a, b) => (Number(b.version) > Number(a.version) ? b : a));
  return { ...spec, targets: [{ ...newest, weight: 100 }] };
}

/** The configured routes as first states: revision 1, slots from their weights. */
export function configuredRoutes(configured: Readonly<Record<string, RouteSpec>>): Map<string, RouteState> {
  const now = new Date().toISOString();
  const routes = new Map<string, RouteState>();
  for (const [name, spec] of Object.entries(configured)) routes.set(name, { name, spec, slots: routeSlots(spec), revision: 1, updatedAt: now });
  return routes;
}

/** The first route that targets or shadows a model version, if any. */
export function routeUsing(routes: Iterable<RouteState>, model: string, version: string): string | undefined {
  const uses = (t: { model: string; version: string }): boolean => t.model === model && t.version === version;
  for (const r of routes) if (r.spec.targets.some(uses) || r.spec.shadows.some(uses)) return r.name;
  return undefined;
}
