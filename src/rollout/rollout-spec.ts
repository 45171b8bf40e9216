/**
 * What `PUT /admin/routes/{route}/rollout` accepts: the target and how to move it.
 * Every field but `target` has a default. A gate set to null is off; a gate that is on and has
 * no figure in an interval makes the interval inconclusive, never a pass.
 */
import { z } from 'zod';
import { formatZodError } from '../config/zod-errors.js';
import { invalidArgument } from '../errors.js';
import { isModelName, isVersion } from '../models/names.js';

/** Shortest interval accepted: tests and benches use about a second; production minutes. */
export const MIN_INTERVAL_SECONDS = 0.1;

const ratio = z.number().min(0).max(1);

export const rolloutSpecSchema = z
  .object({
    target: z
      .object({
        model: z.string().refine(isModelName, 'must be a model name (letters, digits, _ . -)'),
        version: z.union([z.string(), z.number().int()]).transform(String).refine(isVersion, 'must be a positive integer'),
      })
      .strict(),
    /** Canary weights in percent, one per interval; after the last one passes the target takes 100%. */
    steps: z
      .array(z.number().int().min(1).max(100))
      .min(1)
      .max(100)
      .refine((steps) => steps.every((s, i) => i === 0 || s > steps[i - 1]!), 'must increase step by step')
      .default([5, 25, 50, 100]),
    interval_seconds: z.number().min(MIN_INTERVAL_SECONDS).max(86_400).default(60),
    gates: z
      .object({
        /** Canary requests (successes and the canary's own errors) an interval needs to be judged. */
        min_requests: z.number().int().min(1).max(10_000_000).default(200),
        max_error_rate: ratio.nullable().default(0.01),
        /** Canary p99 over the primary's p99 in the same interval. */
        max_p99_ratio: z.number().positive().max(1000).nullable().default(1.5),
        /** Step 0 only, while the route shadows the target: the mean absolute difference of its answers. */
        max_shadow_mean_abs_difference: z.number().min(0).nullable().default(null),
        /** Step 0 only: the share of class-score rows whose argmax agrees with the primary's. */
        min_argmax_agreement: ratio.nullable().default(null),
      })
      .strict()
      .prefault({}),
    /** Compares the canary's and the primary's latency samples too (Kayenta's judge). */
    latency_test: z.enum(['mann-whitney']).nullable().default(null),
    failure_limit: z.number().int().min(1).max(1000).default(2),
    inconclusive_limit: z.number().int().min(1).max(1000).default(5),
  })
  .strict();

export type RolloutSpec = z.output<typeof rolloutSpecSchema>;
export type RolloutGates = RolloutSpec['gates'];

export function parseRolloutSpec(raw: unknown): RolloutSpec {
  const parsed = rolloutSpecSchema.safeParse(raw);
  if (!parsed.success) throw invalidArgument(`invalid rollout: ${formatZodError(parsed.error)}`);
  return parsed.data;
}
