/**
 * A route: the name clients call, mapped to model versions with integer
 * weights that sum to 100, plus shadows that see a sampled copy of the traffic.
 * Validation is pure; which models exist is asked of the caller.
 */
import { z } from 'zod';
import { formatZodError } from '../config/zod-errors.js';
import { invalidArgument } from '../errors.js';
import { isModelName, isVersion } from '../models/names.js';
import { assignSlots } from './slots.js';

const modelName = z.string().refine(isModelName, 'must be a model name (letters, digits, _ . -)');
const version = z.union([z.string(), z.number().int()]).transform(String).refine(isVersion, 'must be a positive integer');

export const routeSpecSchema = z
  .object({
    targets: z
      .array(z.object({ model: modelName, version, weight: z.number().int().min(0).max(100) }).strict())
      .min(1),
    shadows: z
      .array(
        z
          .object({
            model: modelName,
            version,
            percent: z.number().min(0).max(100),
            /** Outputs holding class scores: their argmax is compared as well as their values. */
            class_scores: z.array(z.string().min(1)).default([]),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()
  .check((ctx) => {
    const { targets } = ctx.value;
    const total = targets.reduce((sum, t) => sum + t.weight, 0);
    if (total !== 100) ctx.issues.push({ code: 'custom', input: total, path: ['targets'], message: `weights sum to ${total}, not 100` });
    const seen = new Set<string>();
    targets.forEach((t, i) => {
      const id = targetId(t);
      if (seen.has(id)) ctx.issues.push({ code: 'custom', input: id, path: ['targets', i], message: `${id} is listed twice` });
      seen.add(id);
    });
  });

export type RouteSpec = z.output<typeof routeSpecSchema>;
export type RouteTarget = RouteSpec['targets'][number];
export type ShadowTarget = RouteSpec['shadows'][number];

export const targetId = (t: { model: string; version: string }): string => `${t.model}/${t.version}`;

/** The target with the largest weight (the first of equals): the others are canaries. */
export const primaryTarget = (spec: RouteSpec): RouteTarget => spec.targets.reduce((a, b) => (b.weight > a.weight ? b : a));

/** Slot owners for the route's weights, moving as few as possible from `previous` (see slots.ts). */
export const routeSlots = (spec: RouteSpec, previous?: readonly string[]): string[] =>
  assignSlots(spec.targets.map((t) => ({ id: targetId(t), weight: t.weight })), previous);

/** Parses and checks a route; `servable` says whether a model version exists and can serve. */
export function parseRouteSpec(raw: unknown, servable: (model: string, version: string) => string | undefined): RouteSpec {
  const parsed = routeSpecSchema.safeParse(raw);
  if (!parsed.success) throw invalidArgument(`invalid route: ${formatZodError(parsed.error)}`);
  for (const t of [...parsed.data.targets, ...parsed.data.shadows]) {
    const problem = servable(t.model, t.version);
    if (problem) throw invalidArgument(`invalid route: ${targetId(t)} ${problem}`);
  }
  return parsed.data;
}
