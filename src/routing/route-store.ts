/**
 * The routes in force, their history (for rollback) and the audit trail, saved
 * under the state directory (route-state-file.ts). Changes are serialized: one at
 * a time, each checked against the revision the caller saw (If-Match), and each
 * takes effect only once it is on disk. Saving runs off the I/O thread, so an
 * admin change never stalls serving. A watcher is told of every change once it
 * has taken effect: a progressive rollout aborts when someone else changes its route.
 */
import { renameSync } from 'node:fs';
import path from 'node:path';
import { ServingError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { primaryTarget, routeSlots, type RouteSpec } from './route.js';
import { readStateFile, STATE_FILE, writeStateFile, type AuditEntry, type RouteAction, type RouteState, type SavedRoutes } from './route-state-file.js';

export { STATE_FILE, type AuditEntry, type RouteAction, type RouteState };

/** Told of a change once it has taken effect (on disk and in force), in the order they were made. */
export type RouteChangeWatcher = (route: RouteState, action: RouteAction, token: string) => void;

/** Enough to roll back several steps and to read what happened today; older entries are dropped. */
const HISTORY_DEPTH = 20;
const AUDIT_LENGTH = 1000;

export class RouteStore {
  private state: SavedRoutes = { routes: new Map(), history: new Map(), audit: [] };
  private queue: Promise<unknown> = Promise.resolve();
  private readonly watchers: RouteChangeWatcher[] = [];

  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {}

  /** Restores the saved state, or starts from the configured routes when there is none or it cannot be trusted. */
  load(configured: Readonly<Record<string, RouteSpec>>): void {
    try {
      const saved = readStateFile(this.stateDir);
      if (saved) {
        this.state = saved;
        this.log.info({ routes: [...saved.routes.keys()] }, 'routes restored from the state directory');
        return;
      }
    } catch (error) {
      const file = path.join(this.stateDir, STATE_FILE);
      const aside = `${file}.corrupt-${Date.now()}`;
      renameSync(file, aside);
      this.log.error(
        { file, setAside: aside, reason: error instanceof Error ? error.message : String(error) },
        'route state file is corrupt: set aside, starting from the configured routes',
      );
    }
    const now = new Date().toISOString();
    const routes = new Map<string, RouteState>();
    for (const [name, spec] of Object.entries(configured)) routes.set(name, { name, spec, slots: routeSlots(spec), revision: 1, updatedAt: now });
    this.state = { routes, history: new Map(), audit: [] };
  }

  get(name: string): RouteState | undefined {
    return this.state.routes.get(name);
  }

  list(): RouteState[] {
    return [...this.state.routes.values()];
  }

  /** The first route that targets or shadows a model version, if any. */
  usedBy(model: string, version: string): string | undefined {
    const uses = (t: { model: string; version: string }): boolean => t.model === model && t.version === version;
    return this.list().find((r) => r.spec.targets.some(uses) || r.spec.shadows.some(uses))?.name;
  }

  audit(): readonly AuditEntry[] {
    return this.state.audit;
  }

  watch(watcher: RouteChangeWatcher): void {
    this.watchers.push(watcher);
  }

  /** Replaces a route (or creates it). */
  set(name: string, spec: RouteSpec, token: string, ifMatch?: number): Promise<RouteState> {
    return this.change(name, 'set', token, ifMatch, () => spec);
  }

  /** A rollout's own change of an existing route, with its reason in the audit trail. */
  setByRollout(name: string, spec: RouteSpec, token: string, ifMatch: number, reason: string): Promise<RouteState> {
    return this.change(name, 'rollout', token, ifMatch, () => spec, reason);
  }

  /** An audit entry for a rollout event that leaves the route as it is (started at step 0, paused, resumed, aborted by a change). */
  note(name: string, token: string, reason: string): Promise<void> {
    const run = async (): Promise<void> => {
      const current = this.state.routes.get(name);
      if (!current) throw new ServingError('NOT_FOUND', `no route ${name}`);
      const entry: AuditEntry = { at: new Date().toISOString(), token, route: name, action: 'rollout', before: current.spec, after: current.spec, revision: current.revision, reason };
      const candidate: SavedRoutes = { ...this.state, audit: [...this.state.audit, entry].slice(-AUDIT_LENGTH) };
      await this.persist(candidate);
      this.state = candidate;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** The highest version of the primary's own model takes all the traffic (not another model's, whatever its number). */
  promote(name: string, token: string, ifMatch?: number): Promise<RouteState> {
    return this.change(name, 'promote', token, ifMatch, (current) => {
      const { model } = primaryTarget(current!.spec);
      const newest = current!.spec.targets.filter((t) => t.model === model).reduce((a, b) => (Number(b.version) > Number(a.version) ? b : a));
      return { ...current!.spec, targets: [{ ...newest, weight: 100 }] };
    });
  }

  /** Back to the state before the last change of this route. */
  rollback(name: string, token: string, ifMatch?: number): Promise<RouteState> {
    return this.change(name, 'rollback', token, ifMatch, () => {
      const previous = this.state.history.get(name)?.at(-1);
      if (!previous) throw new ServingError('CONFLICT', `route ${name} has no earlier state to roll back to`);
      return previous.spec;
    });
  }

  /** `next` gets the route as it is; only `set` may be called on a route that does not exist. */
  private change(
    name: string,
    action: RouteAction,
    token: string,
    ifMatch: number | undefined,
    next: (current: RouteState | undefined) => RouteSpec,
    reason?: string,
  ): Promise<RouteState> {
    const run = async (): Promise<RouteState> => {
      const current = this.state.routes.get(name);
      // Before If-Match: a route that does not exist is not found, whatever revision the caller names.
      if (!current && action !== 'set') throw new ServingError('NOT_FOUND', `no route ${name}`);
      if (ifMatch !== undefined && ifMatch !== (current?.revision ?? 0)) {
        throw new ServingError('CONFLICT', `route ${name} is at revision ${current?.revision ?? 0}, not ${ifMatch}`);
      }
      const spec = next(current);
      const updated: RouteState = {
        name,
        spec,
        slots: routeSlots(spec, current?.slots),
        revision: (current?.revision ?? 0) + 1,
        updatedAt: new Date().toISOString(),
      };
      const history = new Map(this.state.history);
      const earlier = history.get(name) ?? [];
      if (action === 'rollback') history.set(name, earlier.slice(0, -1));
      else if (current) history.set(name, [...earlier, current].slice(-HISTORY_DEPTH));
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
      const candidate: SavedRoutes = {
        routes: new Map(this.state.routes).set(name, updated),
        history,
        audit: [...this.state.audit, entry].slice(-AUDIT_LENGTH),
      };
      await this.persist(candidate);
      // Only a state that reached the disk takes effect.
      this.state = candidate;
      this.log.info({ route: name, action, token, revision: updated.revision, targets: spec.targets, ...(reason === undefined ? {} : { reason }) }, 'route changed');
      for (const watcher of this.watchers) {
        // The change has taken effect: a watcher's failure is logged, not the caller's.
        try {
          watcher(updated, action, token);
        } catch (error) {
          this.log.error({ route: name, err: error }, 'route change watcher failed');
        }
      }
      return updated;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async persist(state: SavedRoutes): Promise<void> {
    try {
      await writeStateFile(this.stateDir, state);
    } catch (error) {
      this.log.error({ file: path.join(this.stateDir, STATE_FILE), reason: (error as NodeJS.ErrnoException).code ?? String(error) }, 'cannot save route state');
      throw new ServingError('INTERNAL', 'the route change could not be saved; nothing changed');
    }
  }
}
