/**
 * A rollout as it is kept and shown: its spec, where it is, and every interval's verdict with
 * the figures behind it. Saved with the routes, in `<state dir>/rollouts.json` (atomic-file.ts),
 * so that a restart resumes it; a file that cannot be trusted is set aside, as routes.json is.
 *
 * States, and their number in `brisk_rollout_state`:
 *   1 progressing  judged every interval, the weight stepping up
 *   2 paused       the weight holds until someone resumes or aborts it (too many inconclusive intervals, or asked to)
 *   3 promoted     the target took 100%
 *   4 rolled_back  too many fails (or an error burst): the target's weight went to 0 in one step
 *   5 aborted      asked to (the weight went to 0), or the route was changed by hand (the change stands)
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { formatZodError } from '../config/zod-errors.js';
import { writeFileAtomically } from '../routing/atomic-file.js';
import type { Judgement } from './judge.js';
import { rolloutSpecSchema, type RolloutSpec } from './rollout-spec.js';

export const ROLLOUTS_FILE = 'rollouts.json';

export const ROLLOUT_STATES = ['progressing', 'paused', 'promoted', 'rolled_back', 'aborted'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** The gauge's number for each state (0: no rollout). */
export const stateNumber = (state: RolloutState): number => ROLLOUT_STATES.indexOf(state) + 1;

export const isFinished = (state: RolloutState): boolean => state === 'promoted' || state === 'rolled_back' || state === 'aborted';

/** Intervals kept per rollout: hours of one-minute intervals; older ones are dropped. */
export const INTERVALS_KEPT = 500;

export interface IntervalRecord extends Judgement {
  index: number;
  step: number;
  weight: number;
  /** Where the figures start: after an inconclusive interval they carry over, so this is the end of the last conclusive one or the last change of weight. */
  started_at: string;
  ended_at: string;
  /** Judged before the interval's end, on an error burst. */
  early: boolean;
}

export interface RolloutRecord {
  route: string;
  spec: RolloutSpec;
  /** The route's primary when the rollout started: the canary is compared with it and gets its weight back. */
  baseline: { model: string; version: string };
  state: RolloutState;
  /** 0: the target only shadows; k ≥ 1: it has steps[k-1] percent. */
  step: number;
  /** The target's weight the rollout wants in the route. */
  weight: number;
  fails: number;
  /** Inconclusive intervals in a row; a pass, a fail or a resume resets it. */
  inconclusive: number;
  intervals: IntervalRecord[];
  started_at: string;
  updated_at: string;
  started_by: string;
  /** Why it paused or ended. */
  reason: string | null;
  /** The route's revision after the rollout's last own change: a later one by anyone else aborts it. */
  route_revision: number;
  /** False from the moment the rollout decides a new weight until the route has it (and on a restart in between). */
  applied: boolean;
  /** True when a change by hand ended it: the route is left as that change made it. */
  superseded: boolean;
  /** Every request routed to the target and every error it answered with, since the start. */
  totals: { canary_requests: number; canary_errors: number };
}

const recordSchema = z.object({
  route: z.string(),
  spec: rolloutSpecSchema,
  baseline: z.object({ model: z.string(), version: z.string() }),
  state: z.enum(ROLLOUT_STATES),
  step: z.number().int().min(0),
  weight: z.number().int().min(0).max(100),
  fails: z.number().int().min(0),
  inconclusive: z.number().int().min(0),
  // Reports, written by this server: kept as they are.
  intervals: z.array(z.custom<IntervalRecord>((v) => typeof v === 'object' && v !== null)),
  started_at: z.string(),
  updated_at: z.string(),
  started_by: z.string(),
  reason: z.string().nullable(),
  route_revision: z.number().int().min(0),
  applied: z.boolean(),
  superseded: z.boolean(),
  totals: z.object({ canary_requests: z.number().int().min(0), canary_errors: z.number().int().min(0) }),
});

/** The saved rollouts by route; an empty map when there are none. Throws, naming the problem, when the file cannot be trusted. */
export function parseRolloutsText(text: string): Map<string, RolloutRecord> {
  const raw: unknown = JSON.parse(text);
  if (typeof raw !== 'object' || raw === null || (raw as Record<string, unknown>)['format'] !== 1) throw new Error('unknown format');
  const rollouts = (raw as Record<string, unknown>)['rollouts'];
  if (typeof rollouts !== 'object' || rollouts === null || Array.isArray(rollouts)) throw new Error('rollouts: not an object');
  const records = new Map<string, RolloutRecord>();
  for (const [route, value] of Object.entries(rollouts)) {
    const parsed = recordSchema.safeParse(value);
    if (!parsed.success) throw new Error(`rollouts.${route}: ${formatZodError(parsed.error)}`);
    if (parsed.data.route !== route) throw new Error(`rollouts.${route}: holds route ${JSON.stringify(parsed.data.route)}`);
    records.set(route, parsed.data as RolloutRecord);
  }
  return records;
}

/** The saved rollouts, or none; a file that cannot be trusted is renamed aside and `onCorrupt` told why. */
export function readRolloutsFile(stateDir: string, onCorrupt: (setAside: string, reason: string) => void): Map<string, RolloutRecord> {
  const file = path.join(stateDir, ROLLOUTS_FILE);
  if (!existsSync(file)) return new Map();
  try {
    return parseRolloutsText(readFileSync(file, 'utf8'));
  } catch (error) {
    const aside = `${file}.corrupt-${Date.now()}`;
    renameSync(file, aside);
    onCorrupt(aside, error instanceof Error ? error.message : String(error));
    return new Map();
  }
}

export function writeRolloutsFile(stateDir: string, records: ReadonlyMap<string, RolloutRecord>): Promise<void> {
  return writeFileAtomically(stateDir, ROLLOUTS_FILE, rolloutsText(records));
}

export function rolloutsText(records: ReadonlyMap<string, RolloutRecord>): string {
  // Object.fromEntries defines own properties: a route called `__proto__` is written like any other.
  return JSON.stringify({ format: 1, rollouts: Object.fromEntries(records) }, null, 1);
}

/** Where the rollouts are kept: the state directory by default, etcd with --route-store etcd. */
export interface RolloutRecordStore {
  read(onCorrupt: (setAside: string, reason: string) => void): Map<string, RolloutRecord>;
  write(records: ReadonlyMap<string, RolloutRecord>): Promise<void>;
}

export const rolloutFileStore = (stateDir: string): RolloutRecordStore => ({
  read: (onCorrupt) => readRolloutsFile(stateDir, onCorrupt),
  write: (records) => writeRolloutsFile(stateDir, records),
});
