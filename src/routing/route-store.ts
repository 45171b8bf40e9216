/**
 * The routes in force, their history (for rollback) and the audit trail,
 * persisted atomically under the state directory: written to a temporary file,
 * fsynced, then renamed over the old one, so a crash or a failed write leaves
 * the previous state file whole. Changes are serialized: one at a time, each
 * checked against the revision the caller saw (If-Match).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ServingError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { RouteSpec } from './route.js';
import { targetId } from './route.js';
import { assignSlots } from './slots.js';

export interface RouteState {
  name: string;
  spec: RouteSpec;
  /** Owner of each of the 100 slots; see slots.ts. */
  slots: string[];
  revision: number;
  updatedAt: string;
}

export type RouteAction = 'set' | 'promote' | 'rollback';

export interface AuditEntry {
  at: string;
  /** The name of the admin token that made the change. */
  token: string;
  route: string;
  action: RouteAction;
  before: RouteSpec | null;
  after: RouteSpec;
  revision: number;
}

interface PersistedState {
  format: 1;
  routes: Record<string, RouteState>;
  history: Record<string, RouteState[]>;
  audit: AuditEntry[];
}

export const STATE_FILE = 'routes.json';
/** Enough to roll back several steps and to read what happened today; older entries are dropped. */
const HISTORY_DEPTH = 20;
const AUDIT_LENGTH = 1000;

export class RouteStore {
  private state: PersistedState = { format: 1, routes: {}, history: {}, audit: [] };
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {}

  private get file(): string {
    return path.join(this.stateDir, STATE_FILE);
  }

  /** Restores the saved state, or starts from the configured routes when there is none or it is corrupt. */
  load(configured: Record<string, RouteSpec>): void {
    if (existsSync(this.file)) {
      try {
        const saved = JSON.parse(readFileSync(this.file, 'utf8')) as PersistedState;
        if (saved.format !== 1 || typeof saved.routes !== 'object') throw new Error('unknown format');
        this.state = { format: 1, routes: saved.routes, history: saved.history ?? {}, audit: saved.audit ?? [] };
        this.log.info({ routes: Object.keys(this.state.routes) }, 'routes restored from the state directory');
        return;
      } catch (error) {
        const aside = `${this.file}.corrupt-${Date.now()}`;
        renameSync(this.file, aside);
        this.log.error(
          { file: this.file, setAside: aside, reason: error instanceof Error ? error.message : String(error) },
          'route state file is corrupt: set aside, starting from the configured routes',
        );
      }
    }
    const now = new Date().toISOString();
    for (const [name, spec] of Object.entries(configured)) {
      this.state.routes[name] = { name, spec, slots: assignSlots(spec.targets.map(weighted)), revision: 1, updatedAt: now };
    }
  }

  get(name: string): RouteState | undefined {
    return this.state.routes[name];
  }

  list(): RouteState[] {
    return Object.values(this.state.routes);
  }

  /** The first route that targets or shadows a model version, if any. */
  usedBy(model: string, version: string): string | undefined {
    const uses = (t: { model: string; version: string }): boolean => t.model === model && t.version === version;
    return this.list().find((r) => r.spec.targets.some(uses) || r.spec.shadows.some(uses))?.name;
  }

  audit(): readonly AuditEntry[] {
    return this.state.audit;
  }

  /** Replaces a route (or creates it). */
  set(name: string, spec: RouteSpec, token: string, ifMatch?: number): Promise<RouteState> {
    return this.change(name, 'set', token, ifMatch, () => spec);
  }

  /** The highest-version target takes all the traffic. */
  promote(name: string, token: string, ifMatch?: number): Promise<RouteState> {
    return this.change(name, 'promote', token, ifMatch, (current) => {
      if (!current) throw new ServingError('NOT_FOUND', `no route ${name}`);
      const newest = [...current.spec.targets].sort((a, b) => Number(b.version) - Number(a.version))[0]!;
      return { ...current.spec, targets: [{ ...newest, weight: 100 }] };
    });
  }

  /** Back to the state before the last change of this route. */
  rollback(name: string, token: string, ifMatch?: number): Promise<RouteState> {
    return this.change(name, 'rollback', token, ifMatch, (current) => {
      const previous = this.state.history[name]?.at(-1);
      if (!current || !previous) throw new ServingError('CONFLICT', `route ${name} has no earlier state to roll back to`);
      return previous.spec;
    });
  }

  private change(
    name: string,
    action: RouteAction,
    token: string,
    ifMatch: number | undefined,
    next: (current: RouteState | undefined) => RouteSpec,
  ): Promise<RouteState> {
    const run = async (): Promise<RouteState> => {
      const current = this.state.routes[name];
      if (ifMatch !== undefined && ifMatch !== (current?.revision ?? 0)) {
        throw new ServingError('CONFLICT', `route ${name} is at revision ${current?.revision ?? 0}, not ${ifMatch}`);
      }
      const spec = next(current);
      const updated: RouteState = {
        name,
        spec,
        slots: assignSlots(spec.targets.map(weighted), current?.slots),
        revision: (current?.revision ?? 0) + 1,
        updatedAt: new Date().toISOString(),
      };
      const history = { ...this.state.history };
      if (action === 'rollback') history[name] = (history[name] ?? []).slice(0, -1);
      else if (current) history[name] = [...(history[name] ?? []), current].slice(-HISTORY_DEPTH);
      const entry: AuditEntry = { at: updated.updatedAt, token, route: name, action, before: current?.spec ?? null, after: spec, revision: updated.revision };
      const candidate: PersistedState = {
        format: 1,
        routes: { ...this.state.routes, [name]: updated },
        history,
        audit: [...this.state.audit, entry].slice(-AUDIT_LENGTH),
      };
      this.persist(candidate);
      // Only a state that reached the disk takes effect.
      this.state = candidate;
      this.log.info({ route: name, action, token, revision: updated.revision, targets: spec.targets }, 'route changed');
      return updated;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private persist(state: PersistedState): void {
    mkdirSync(this.stateDir, { recursive: true });
    const temporary = `${this.file}.tmp`;
    try {
      const fd = openSync(temporary, 'w');
      try {
        writeSync(fd, JSON.stringify(state, null, 1));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, this.file);
      const dir = openSync(this.stateDir, 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch (error) {
      this.log.error({ file: this.file, reason: (error as NodeJS.ErrnoException).code ?? String(error) }, 'cannot save route state');
      throw new ServingError('INTERNAL', 'the route change could not be saved; nothing changed');
    }
  }
}

const weighted = (t: RouteSpec['targets'][number]) => ({ id: targetId(t), weight: t.weight });
