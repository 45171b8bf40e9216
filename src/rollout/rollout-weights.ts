/**
 * The route a rollout wants at a given weight of its target: pure. The target takes its weight
 * from the baseline (the primary when the rollout started); any other targets keep theirs.
 * At 100 the target is promoted and serves alone, as `POST .../promote` leaves a route; at 0 it
 * leaves the targets, so that its version can be unloaded once nothing else uses it.
 * The baseline is listed first, so that at equal weights it stays the primary.
 */
import { ServingError } from '../errors.js';
import { targetId, type RouteSpec } from '../routing/route.js';

export interface VersionRef {
  model: string;
  version: string;
}

const same = (a: VersionRef, b: VersionRef): boolean => a.model === b.model && a.version === b.version;

/** What the other targets (neither the rollout's target nor its baseline) hold in percent. */
export function othersWeight(spec: RouteSpec, target: VersionRef, baseline: VersionRef): number {
  return spec.targets.filter((t) => !same(t, target) && !same(t, baseline)).reduce((sum, t) => sum + t.weight, 0);
}

export function weightOfTarget(spec: RouteSpec, target: VersionRef): number {
  return spec.targets.find((t) => same(t, target))?.weight ?? 0;
}

export function shadowsTarget(spec: RouteSpec, target: VersionRef): boolean {
  return spec.shadows.some((s) => same(s, target));
}

/** Throws CONFLICT when the route no longer has the baseline or has no room for the weight. */
export function specWithWeight(spec: RouteSpec, target: VersionRef, baseline: VersionRef, weight: number): RouteSpec {
  if (weight >= 100) return { ...spec, targets: [{ model: target.model, version: target.version, weight: 100 }] };
  if (!spec.targets.some((t) => same(t, baseline))) {
    throw new ServingError('CONFLICT', `the route no longer has the rollout's primary ${targetId(baseline)}`);
  }
  const others = spec.targets.filter((t) => !same(t, target) && !same(t, baseline));
  const baselineWeight = 100 - weight - others.reduce((sum, t) => sum + t.weight, 0);
  if (baselineWeight < 1) throw new ServingError('CONFLICT', `the other targets leave no room for ${weight}% on ${targetId(target)}`);
  return {
    ...spec,
    targets: [
      { model: baseline.model, version: baseline.version, weight: baselineWeight },
      ...others,
      ...(weight > 0 ? [{ model: target.model, version: target.version, weight }] : []),
    ],
  };
}
