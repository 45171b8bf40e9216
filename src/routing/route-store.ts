/**
 * The routes in force, their history (for rollback) and the audit trail. `RouteStore` is what
 * the router, the admin API and the rollouts use; `FileRouteStore` keeps it under the state
 * directory (route-state-file.ts), `EtcdRouteStore` (etcd-route-store.ts) in etcd, shared by
 * every replica. In the file store, Changes are serialized: one at
 * a time, each checked against the revision the caller saw (If-Match), and each
 * takes effect only once it is on disk. Saving runs off the I/O thread, so an
 * admin change never stalls serving. A watcher is told of every change once it
 * has taken effect: a progressive rollout aborts when someone else changes its route.
 */
import { renameSync } from 'node:fs';
import path from 'node:path';
import { ServingError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { AUDIT_LENGTH, configuredRoutes, nextRouteState, noteEntry, promotedSpec, routeUsing } from './route-change.js';
import type { RouteSpec } from './route.js';
import { readStateFile, STATE_FILE, writeStateFile, type AuditEntry, type RouteAction, type RouteState, type SavedRoutes } from './route-state-file.js';

export { STATE_FILE, type AuditEntry, type RouteAction, type RouteState };

/** Told of a change once it has taken effect (on disk and in force), in the order they were made. */
export type RouteChangeWatcher = (route: RouteState, action: RouteAction, token: string) => void;

/** What every route store offers: reads from memory, changes that take effect once saved. */
export interface RouteStore {
  /** Restores the saved state, or starts from the configured routes when there is none. */
  load(configured: Readonly<Record<string, RouteSpec>>): Promise<void>;
  get(name: string): RouteState | undefined;
  list(): RouteState[];
  usedBy(model: string, version: string): string | undefined;
  audit(): readonly AuditEntry[];
  watch(watcher: RouteChangeWatcher): void;
  set(name: string, spec: RouteSpec, token: string, ifMatch?: number): Promise<RouteState>;
  setByRollout(name: string, spec: RouteSpec, token: string, ifMatch: number, reason: string): Promise<RouteState>;
  note(name: string, token: string, reason: string): Promise<void>;
  promote(name: string, token: string, ifMatch?: number): Promise<RouteState>;
  rollback(name: string, token: string, ifMatch?: number): Promise<RouteState>;
  /** Stops watching and lets go of connections; the state in memory stays readable. */
  close(): Promise<void>;
}

export class FileRouteStore implements RouteStore {
  private state: SavedRoutes = { routes: new Map(), history: new Map(), audit: [] };
  private queue: Promise<unknown> = Promise.resolve();
  private readonly watchers: RouteChangeWatcher[] = [];

  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {}

  /** Restores the saved state, or starts from the configured routes when there is none or it cannot be trusted. */
  async load(configured: Readonly<Record<string, RouteSpec>>): Promise<void> {
    this.loadNow(configured);
  }

  /** Synchronous, so that a caller that does not await still finds the routes loaded. */
  private loadNow(configured: Readonly<Record<string, RouteSpec>>): void {
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
    this.state = { routes: configuredRoutes(configured), history: new Map(), audit: [] };
  }

  async close(): Promise<void> {
    await this.queue;
  }

  get(name: string): RouteState | undefined {
    return this.state.routes.get(name);
  }

  list(): RouteState[] {
    return [...this.state.routes.values()];
  }

  /** The first route that targets or shadows a model version, if any. */
  usedBy(model: string, version: string): string | undefined {
    return routeUsing(this.list(), model, version);
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
      const entry = noteEntry(current, token, reason);
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
    return this.change(name, 'promote', token, ifMatch, (current) => promotedSpec(current!.spec));
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
      const { updated, history: routeHistory, entry } = nextRouteState(current, this.state.history.get(name) ?? [], name, action, next(current), token, reason);
      const spec = updated.spec;
      const candidate: SavedRoutes = {
        routes: new Map(this.state.routes).set(name, updated),
        history: new Map(this.state.history).set(name, routeHistory),
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
