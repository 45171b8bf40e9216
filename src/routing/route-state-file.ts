/**
 * The saved routes, `<state dir>/routes.json`: the routes in force, their history
 * (for rollback) and the audit trail. A saved file is trusted only once every
 * route in it passes what an admin PUT passes (the route schema, a valid name)
 * and its slots, rebuilt from its weights, are the slots saved. It is written
 * off the I/O thread and atomically: a temporary file, fsynced, renamed over the
 * old one, then the folder fsynced, so a crash or a failed write leaves the
 * previous file whole (atomic-file.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { formatZodError } from '../config/zod-errors.js';
import { isModelName } from '../models/names.js';
import { writeFileAtomically } from './atomic-file.js';
import { routeSlots, routeSpecSchema, type RouteSpec } from './route.js';
import { SLOT_COUNT } from './slots.js';

export const STATE_FILE = 'routes.json';

export interface RouteState {
  name: string;
  spec: RouteSpec;
  /** Owner of each of the 100 slots; see slots.ts. */
  slots: string[];
  revision: number;
  updatedAt: string;
}

/** `rollout`: a change or an event of a progressive rollout (src/rollout), with its reason. */
export type RouteAction = 'set' | 'promote' | 'rollback' | 'rollout';

export interface AuditEntry {
  at: string;
  /** The name of the admin token that made the change. */
  token: string;
  route: string;
  action: RouteAction;
  before: RouteSpec | null;
  after: RouteSpec;
  revision: number;
  /** Why, for rollout entries: the verdict and its figures, or who paused, resumed or aborted. */
  reason?: string;
}

/** Keyed by route name in Maps: a route may be called `constructor` or `__proto__`. */
export interface SavedRoutes {
  routes: ReadonlyMap<string, RouteState>;
  history: ReadonlyMap<string, readonly RouteState[]>;
  audit: readonly AuditEntry[];
}

const routeStateSchema = z.object({
  name: z.string().refine(isModelName, 'must be a route name (letters, digits, _ . -)'),
  spec: routeSpecSchema,
  slots: z.array(z.string()).length(SLOT_COUNT),
  revision: z.number().int().min(1),
  updatedAt: z.string(),
});

const auditSchema = z.array(
  z.object({
    at: z.string(),
    token: z.string(),
    route: z.string(),
    action: z.enum(['set', 'promote', 'rollback', 'rollout']),
    before: routeSpecSchema.nullable(),
    after: routeSpecSchema,
    revision: z.number().int().min(1),
    reason: z.string().optional(),
  }),
);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A JSON object's own entries (never a zod record, which drops a `__proto__` key). */
function entriesOf(value: unknown, where: string): [string, unknown][] {
  if (!isObject(value)) throw new Error(`${where}: not an object`);
  return Object.entries(value);
}

/** A route state read from outside (a file, etcd, an import) that passes what an admin PUT passes. */
export function checkedRoute(name: string, value: unknown, where: string): RouteState {
  const parsed = routeStateSchema.safeParse(value);
  if (!parsed.success) throw new Error(`${where}: ${formatZodError(parsed.error)}`);
  const route = parsed.data;
  if (route.name !== name) throw new Error(`${where}: holds route ${JSON.stringify(route.name)}`);
  // Valid slots are a fixed point: rebuilding them from the weights moves none.
  const rebuilt = routeSlots(route.spec, route.slots);
  const moved = rebuilt.findIndex((owner, slot) => owner !== route.slots[slot]);
  if (moved !== -1) throw new Error(`${where}.slots: slot ${moved} belongs to ${JSON.stringify(route.slots[moved])}, which the weights do not give it`);
  return route;
}

/** The saved state, or undefined when there is none; throws, naming the first problem, when it cannot be trusted. */
export function readStateFile(stateDir: string): SavedRoutes | undefined {
  const file = path.join(stateDir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  return parseSavedRoutes(JSON.parse(readFileSync(file, 'utf8')));
}

/** One audit entry read from outside; throws, naming the problem, when it cannot be trusted. */
export function checkedAuditEntry(value: unknown, where: string): AuditEntry {
  const parsed = auditSchema.safeParse([value]);
  if (!parsed.success) throw new Error(`${where}: ${formatZodError(parsed.error)}`);
  return parsed.data[0]!;
}

/** The saved state in its JSON form (routes.json, `brisk routes export`); throws, naming the first problem. */
export function parseSavedRoutes(raw: unknown): SavedRoutes {
  if (!isObject(raw) || raw['format'] !== 1) throw new Error('unknown format');
  const routes = new Map<string, RouteState>();
  for (const [name, value] of entriesOf(raw['routes'], 'routes')) routes.set(name, checkedRoute(name, value, `routes.${name}`));
  const history = new Map<string, RouteState[]>();
  for (const [name, states] of entriesOf(raw['history'] ?? {}, 'history')) {
    if (!Array.isArray(states)) throw new Error(`history.${name}: not a list`);
    history.set(name, states.map((state: unknown, i) => checkedRoute(name, state, `history.${name}.${i}`)));
  }
  const audit = auditSchema.safeParse(raw['audit'] ?? []);
  if (!audit.success) throw new Error(`audit: ${formatZodError(audit.error)}`);
  return { routes, history, audit: audit.data };
}

/** Replaces the saved state atomically; rejects, leaving the previous file whole, when it cannot. */
export async function writeStateFile(stateDir: string, state: SavedRoutes): Promise<void> {
  await writeFileAtomically(stateDir, STATE_FILE, JSON.stringify(savedRoutesJson(state), null, 1));
}

export function savedRoutesJson(state: SavedRoutes): { format: 1; routes: object; history: object; audit: readonly AuditEntry[] } {
  // Object.fromEntries defines own properties, so a `__proto__` route is written like any other.
  return { format: 1, routes: Object.fromEntries(state.routes), history: Object.fromEntries(state.history), audit: state.audit };
}
