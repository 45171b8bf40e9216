/**
 * The route store shared by every replica, in etcd under one prefix:
 *   routes/<name>   the route in force, its history (for rollback) and who made the last change
 *   audit/<id>      one audit entry each, in etcd's order (their mod revisions)
 *   doc/<name>      other shared documents (the rollouts, rollout-record.ts)
 *   seeded          set once the configured routes were written, by the first replica to start
 *   election/…      the leader election of single-writer work (etcd-leader.ts)
 *
 * Reads are from memory. Every replica watches the prefix and applies changes in the order etcd
 * gives them, so each serves the same weights and the same stored slots. A change reads the
 * route from etcd, computes the new state (route-change.ts) and commits it with the audit entry
 * in one transaction on the route's mod revision: a lost race is computed again on the new state,
 * or answered 409 when the caller named a revision (If-Match).
 *
 * etcd unreachable: the routes in memory go on serving (fail static) and changes are refused with
 * 503 and the reason. The watch resumes from its revision when etcd is back, or everything is read
 * again when that revision was compacted.
 */
import { randomBytes } from 'node:crypto';
import { GRPCDeadlineExceededError, type Etcd3, type IKeyValue, type Namespace, type Watcher } from 'etcd3';
import { Gauge, type Registry } from 'prom-client';
import { ServingError } from '../errors.js';
import { DEFAULT_CALL_TIMEOUT_MS } from './etcd-client.js';
import type { Logger } from '../observability/logger.js';
import { AUDIT_LENGTH, configuredRoutes, nextRouteState, noteEntry, promotedSpec, routeUsing } from './route-change.js';
import { checkedAuditEntry, checkedRoute, type AuditEntry, type RouteAction, type RouteState } from './route-state-file.js';
import type { RouteChangeWatcher, RouteStore } from './route-store.js';
import type { RouteSpec } from './route.js';

const ROUTES = 'routes/';
const AUDIT = 'audit/';
const DOCS = 'doc/';
const SEEDED = 'seeded';
/** Lost races in a row before a change gives up with 409: only a storm of writers gets there. */
const MAX_ATTEMPTS = 8;
/** Longest close() waits for etcd to confirm a watch's cancel. */
export const CANCEL_WAIT_MS = 1000;
/** etcd's default limit on the operations of one transaction (--max-txn-ops). */
const MAX_TXN_OPS = 128;

/** The value of `routes/<name>`. */
export interface StoredRoute {
  route: RouteState;
  history: RouteState[];
  /** The change that made it, for the watchers of every replica (a rollout aborts on a change by hand). */
  change: { action: RouteAction; token: string };
}

interface AuditItem {
  key: string;
  modRevision: number;
  entry: AuditEntry;
}

/** A write condition: `key` (whole, prefix included) exists with this create revision. */
export interface WriteFence {
  key: string;
  createRevision: string;
}

/** A fenced write refused by etcd: the writer's leadership is gone. */
export class FencedOutError extends ServingError {
  constructor(message: string) {
    super('OVERLOADED', message, 1);
  }
}
FencedOutError.prototype.name = 'FencedOutError';

export type DocumentListener = (name: string, text: string | undefined) => void;

export class EtcdRouteStore implements RouteStore {
  private readonly ns: Namespace;
  private routes = new Map<string, RouteState>();
  private historiesByRoute = new Map<string, RouteState[]>();
  /** The mod revision applied for each key: a watch event at or below it is old news. */
  private modRevisions = new Map<string, number>();
  private auditItems: AuditItem[] = [];
  private documents = new Map<string, string>();
  private watcher: Watcher | undefined;
  private revision = 0;
  private connectedNow = false;
  private reason = 'not connected to etcd yet';
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly watchers: RouteChangeWatcher[] = [];
  private readonly documentListeners: DocumentListener[] = [];

  constructor(
    readonly client: Etcd3,
    readonly prefix: string,
    private readonly log: Logger,
    registry?: Registry,
    /** The deadline the client puts on each call (etcdClient's callTimeoutMs), to name it in answers. */
    private readonly callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
  ) {
    this.ns = client.namespace(prefix);
    if (registry) {
      const store = this;
      new Gauge({
        name: 'brisk_route_store_connected',
        help: '1 while the shared route store (etcd) is reachable and watched; 0 while this replica serves its last routes (fail static) and refuses route changes',
        registers: [registry],
        collect() {
          this.set(store.connected ? 1 : 0);
        },
      });
    }
  }

  get connected(): boolean {
    return this.connectedNow;
  }

  /** The namespace under the prefix, for the leader election. */
  get namespace(): Namespace {
    return this.ns;
  }

  async load(configured: Readonly<Record<string, RouteSpec>>): Promise<void> {
    await this.seed(configured);
    await this.readAll();
    await this.startWatch();
  }

  get(name: string): RouteState | undefined {
    return this.routes.get(name);
  }

  list(): RouteState[] {
    return [...this.routes.values()];
  }

  usedBy(model: string, version: string): string | undefined {
    return routeUsing(this.routes.values(), model, version);
  }

  audit(): readonly AuditEntry[] {
    return this.auditItems.map((item) => item.entry);
  }

  histories(): ReadonlyMap<string, readonly RouteState[]> {
    return this.historiesByRoute;
  }

  watch(watcher: RouteChangeWatcher): void {
    this.watchers.push(watcher);
  }

  /** A shared document's text as last seen, or undefined. */
  document(name: string): string | undefined {
    return this.documents.get(name);
  }

  /**
   * Reads a shared document from etcd now, for a replica that has just been elected: the watch
   * may not have brought the last leader's final write yet, and acting on an older record would
   * undo it (an abort, a step).
   */
  async refreshDocument(name: string): Promise<void> {
    const key = DOCS + name;
    const read = await this.call(() => this.ns.get(key).exec());
    const kv = read.kvs[0];
    if (kv) {
      this.applyDocument(key, kv.value.toString(), Number(kv.mod_revision));
    } else if (this.documents.has(name)) {
      this.modRevisions.delete(key);
      this.documents.delete(name);
      this.tellDocument(name, undefined);
    }
  }

  onDocument(listener: DocumentListener): void {
    this.documentListeners.push(listener);
  }

  /**
   * Writes a shared document. With a fence, only while the fence's key (a leader's election key)
   * still exists with its create revision, checked by etcd in the same transaction: a leader paused
   * or slow past its lease cannot overwrite what the next leader wrote. A write fenced out throws
   * FencedOutError and changes nothing.
   */
  async putDocument(name: string, text: string, fence?: WriteFence): Promise<void> {
    this.refuseWhenDisconnected();
    const key = DOCS + name;
    if (!fence) {
      const put = await this.write(() => this.ns.put(key).value(text).exec());
      this.applyDocument(key, text, Number(put.header.revision));
      return;
    }
    // The fence's key is whole (with this prefix): compared through the client, not the namespace.
    const txn = await this.write(() => this.client.if(fence.key, 'Create', '==', fence.createRevision).then(this.ns.put(key).value(text)).commit());
    if (!txn.succeeded) throw new FencedOutError(`${this.prefix}${key} was not written: ${fence.key} is no longer in etcd at create revision ${fence.createRevision}, so this replica no longer leads`);
    this.applyDocument(key, text, Number(txn.header.revision));
  }

  set(name: string, spec: RouteSpec, token: string, ifMatch?: number): Promise<RouteState> {
    return this.change(name, 'set', token, ifMatch, () => spec);
  }

  setByRollout(name: string, spec: RouteSpec, token: string, ifMatch: number, reason: string): Promise<RouteState> {
    return this.change(name, 'rollout', token, ifMatch, () => spec, reason);
  }

  note(name: string, token: string, reason: string): Promise<void> {
    return this.serial(async () => {
      this.refuseWhenDisconnected();
      const current = this.routes.get(name);
      if (!current) throw new ServingError('NOT_FOUND', `no route ${name}`);
      const entry = noteEntry(current, token, reason);
      const key = auditKey();
      const put = await this.write(() => this.ns.put(key).value(JSON.stringify(entry)).exec());
      this.applyAudit(key, entry, Number(put.header.revision));
      this.trimAudit();
    });
  }

  promote(name: string, token: string, ifMatch?: number): Promise<RouteState> {
    return this.change(name, 'promote', token, ifMatch, (current) => promotedSpec(current!.spec));
  }

  rollback(name: string, token: string, ifMatch?: number): Promise<RouteState> {
    return this.change(name, 'rollback', token, ifMatch, (_current, history) => {
      const previous = history.at(-1);
      if (!previous) throw new ServingError('CONFLICT', `route ${name} has no earlier state to roll back to`);
      return previous.spec;
    });
  }

  /**
   * Replaces the whole route state (brisk routes import): every route and document, and the
   * seeded mark (so that no replica seeds its configured routes over the import), in one
   * transaction; the audit trail follows in batches. Replicas watching see the routes change at once.
   */
  async replaceAll(routes: ReadonlyMap<string, RouteState>, history: ReadonlyMap<string, readonly RouteState[]>, audit: readonly AuditEntry[], documents: ReadonlyMap<string, string>): Promise<void> {
    // etcd refuses a transaction that puts a key inside a range it deletes, and etcd3's `then`
    // replaces earlier clauses rather than adding to them: the keys that go are deleted one by one.
    const existing = async (prefix: string): Promise<string[]> => this.call(() => this.ns.getAll().prefix(prefix).keys());
    const ops: ReturnType<Namespace['put']>[] = [this.ns.put(SEEDED).value('import')];
    const kept = new Set<string>();
    for (const [name, route] of routes) {
      const stored: StoredRoute = { route, history: [...(history.get(name) ?? [])], change: { action: 'set', token: 'import' } };
      kept.add(ROUTES + name);
      ops.push(this.ns.put(ROUTES + name).value(JSON.stringify(stored)));
    }
    for (const [name, text] of documents) {
      kept.add(DOCS + name);
      ops.push(this.ns.put(DOCS + name).value(text));
    }
    const stale = [...(await existing(ROUTES)), ...(await existing(DOCS))].filter((key) => !kept.has(key));
    const deletes = stale.map((key) => this.ns.delete().key(key));
    if (ops.length + deletes.length > MAX_TXN_OPS) {
      throw new ServingError('INVALID_ARGUMENT', `an import changes ${ops.length + deletes.length} keys, more than the ${MAX_TXN_OPS} etcd takes in one transaction`);
    }
    await this.write(() => this.ns.if(SEEDED, 'Create', '>', -1).then(...ops, ...deletes).commit());
    const entries = audit.slice(-AUDIT_LENGTH);
    const keys = entries.map((_entry, i) => `${AUDIT}${String(i).padStart(15, '0')}-import`);
    const newKeys = new Set(keys);
    const oldAudit = (await existing(AUDIT)).filter((key) => !newKeys.has(key));
    const batches = [
      ...oldAudit.map((key) => this.ns.delete().key(key)),
      ...entries.map((entry, i) => this.ns.put(keys[i]!).value(JSON.stringify(entry))),
    ];
    for (let i = 0; i < batches.length; i += MAX_TXN_OPS) {
      const batch = batches.slice(i, i + MAX_TXN_OPS);
      await this.write(() => this.ns.if(SEEDED, 'Create', '>', -1).then(...batch).commit());
    }
  }

  /**
   * Everything under the prefix, read once (at the start, after a compaction, for brisk routes
   * export). A key is taken only when its value is newer than the one this replica holds: while
   * the read was in flight, the watch or this replica's own write may have applied a later one,
   * and told of it already.
   */
  async readAll(): Promise<void> {
    const all = await this.call(() => this.ns.getAll().exec());
    const snapshot = Number(all.header.revision);
    const read = new Set<string>();
    const kvs = [...all.kvs].sort((a, b) => Number(a.mod_revision) - Number(b.mod_revision));
    for (const kv of kvs) {
      const key = kv.key.toString();
      read.add(key);
      const modRevision = Number(kv.mod_revision);
      if (modRevision <= (this.modRevisions.get(key) ?? 0)) continue;
      if (key.startsWith(AUDIT)) {
        // Kept in etcd's order below, whatever order they are taken in.
        this.parsed(key, () => {
          this.modRevisions.set(key, modRevision);
          this.auditItems.push({ key, modRevision, entry: checkedAuditEntry(JSON.parse(kv.value.toString()), key) });
        });
      } else {
        this.applyValue(key, kv.value.toString(), modRevision);
      }
    }
    // Gone from etcd by the read, and not written since: deleted while this replica was not watching.
    for (const [key, modRevision] of [...this.modRevisions]) if (!read.has(key) && modRevision <= snapshot) this.forget(key);
    this.auditItems.sort((a, b) => a.modRevision - b.modRevision || (a.key < b.key ? -1 : 1));
    for (const dropped of this.auditItems.splice(0, Math.max(0, this.auditItems.length - AUDIT_LENGTH))) this.modRevisions.delete(dropped.key);
    // The watch may have brought later changes already: it resumes after the later of the two.
    this.revision = Math.max(this.revision, snapshot);
    this.log.info({ routes: [...this.routes.keys()], revision: this.revision }, 'routes read from etcd');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    // A cancel waits for etcd to answer it, which an unreachable etcd never does: closing the
    // client after a second ends the watch all the same.
    await boundedWait(this.watcher?.cancel(), CANCEL_WAIT_MS);
    this.client.close();
  }

  /** The configured routes, written by the first replica to find the prefix empty; never again. */
  private async seed(configured: Readonly<Record<string, RouteSpec>>): Promise<void> {
    const routes = configuredRoutes(configured);
    const puts = [...routes.values()].map((route) => {
      const stored: StoredRoute = { route, history: [], change: { action: 'set', token: 'configured' } };
      return this.ns.put(ROUTES + route.name).value(JSON.stringify(stored));
    });
    const txn = await this.write(() =>
      this.ns
        .if(SEEDED, 'Create', '==', 0)
        .then(this.ns.put(SEEDED).value(new Date().toISOString()), ...puts)
        .commit(),
    );
    if (txn.succeeded) this.log.info({ routes: [...routes.keys()], prefix: this.prefix }, 'route store in etcd seeded with the configured routes');
  }

  private async startWatch(): Promise<void> {
    const watcher = await this.ns
      .watch()
      .prefix('')
      .startRevision(String(this.revision + 1))
      .create();
    if (this.closed) {
      await watcher.cancel();
      return;
    }
    this.watcher = watcher;
    this.setConnected(true);
    watcher
      .on('put', (kv) => this.applyPut(kv))
      .on('delete', (kv) => this.applyDelete(kv))
      .on('connected', () => this.setConnected(true))
      .on('disconnected', (error) => this.setConnected(false, `etcd is unreachable: ${error.message}`))
      .on('error', (error) => void this.rewatch(watcher, error));
  }

  /** The watch was cancelled (its revision compacted, most often): everything is read again. */
  private async rewatch(old: Watcher, error: Error): Promise<void> {
    if (this.closed || this.watcher !== old) return;
    this.watcher = undefined;
    this.setConnected(false, `the watch on etcd ended: ${error.message}`);
    this.log.warn({ reason: error.message, revision: this.revision }, 'route store watch cancelled (compacted?): reading everything again');
    // Not cancelled: etcd has ended it already, and a cancel would wait for an answer that never comes.
    for (let delay = 100; !this.closed; delay = Math.min(1000, delay * 2)) {
      try {
        await this.readAll();
        await this.startWatch();
        this.log.info({ revision: this.revision }, 'route store re-read everything and watches again');
        return;
      } catch (retry) {
        this.log.warn({ reason: retry instanceof Error ? retry.message : String(retry) }, 'route store cannot re-read etcd yet');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private setConnected(connected: boolean, reason?: string): void {
    if (connected === this.connectedNow) return;
    this.connectedNow = connected;
    if (connected) {
      this.log.info({ revision: this.revision }, 'route store connected to etcd; watching for changes');
    } else {
      this.reason = reason ?? 'etcd is unreachable';
      this.log.error({ reason: this.reason }, 'route store lost etcd: serving the last routes, refusing route changes');
    }
  }

  private applyPut(kv: IKeyValue): void {
    const modRevision = Number(kv.mod_revision);
    this.revision = Math.max(this.revision, modRevision);
    this.applyValue(kv.key.toString(), kv.value.toString(), modRevision);
  }

  private applyValue(key: string, text: string, modRevision: number): void {
    this.parsed(key, () => {
      if (key.startsWith(ROUTES)) this.applyRoute(key, parseStoredRoute(key.slice(ROUTES.length), text), modRevision);
      else if (key.startsWith(AUDIT)) this.applyAudit(key, checkedAuditEntry(JSON.parse(text), key), modRevision);
      else if (key.startsWith(DOCS)) this.applyDocument(key, text, modRevision);
    });
  }

  /** Applies a value from etcd; one that cannot be trusted is logged and left out, and what was held stays. */
  private parsed(key: string, apply: () => void): void {
    try {
      apply();
    } catch (error) {
      this.log.error({ key: this.prefix + key, reason: error instanceof Error ? error.message : String(error) }, 'route store: a value in etcd cannot be trusted; left out');
    }
  }

  private applyDelete(kv: IKeyValue): void {
    this.revision = Math.max(this.revision, Number(kv.mod_revision));
    this.forget(kv.key.toString());
  }

  private forget(key: string): void {
    this.modRevisions.delete(key);
    if (key.startsWith(ROUTES)) {
      const name = key.slice(ROUTES.length);
      this.routes.delete(name);
      this.historiesByRoute.delete(name);
    } else if (key.startsWith(AUDIT)) {
      this.auditItems = this.auditItems.filter((item) => item.key !== key);
    } else if (key.startsWith(DOCS)) {
      const name = key.slice(DOCS.length);
      this.documents.delete(name);
      this.tellDocument(name, undefined);
    }
  }

  /** Applies a route once: the writer applies its own commit at once, the watch then brings it again. */
  private applyRoute(key: string, stored: StoredRoute, modRevision: number): void {
    if (modRevision <= (this.modRevisions.get(key) ?? 0)) return;
    this.modRevisions.set(key, modRevision);
    this.routes.set(stored.route.name, stored.route);
    this.historiesByRoute.set(stored.route.name, stored.history);
    this.log.info({ route: stored.route.name, action: stored.change.action, token: stored.change.token, revision: stored.route.revision, targets: stored.route.spec.targets }, 'route changed');
    this.tell(stored.route, stored.change.action, stored.change.token);
  }

  private applyAudit(key: string, entry: AuditEntry, modRevision: number): void {
    if (this.modRevisions.has(key)) return;
    this.modRevisions.set(key, modRevision);
    this.auditItems.push({ key, modRevision, entry });
    if (this.auditItems.length > AUDIT_LENGTH) {
      for (const dropped of this.auditItems.splice(0, this.auditItems.length - AUDIT_LENGTH)) this.modRevisions.delete(dropped.key);
    }
  }

  private applyDocument(key: string, text: string, modRevision: number): void {
    if (modRevision <= (this.modRevisions.get(key) ?? 0)) return;
    this.modRevisions.set(key, modRevision);
    const name = key.slice(DOCS.length);
    this.documents.set(name, text);
    this.tellDocument(name, text);
  }

  /** The oldest entries beyond the audit's length leave etcd too; any replica may do it, deleting twice is harmless. */
  private trimAudit(): void {
    void this.ns
      .getAll()
      .prefix(AUDIT)
      .keys()
      .then(async (keys) => {
        if (keys.length <= AUDIT_LENGTH) return;
        keys.sort();
        for (const key of keys.slice(0, keys.length - AUDIT_LENGTH)) await this.ns.delete().key(key).exec();
      })
      .catch(() => undefined);
  }

  private tell(route: RouteState, action: RouteAction, token: string): void {
    for (const watcher of this.watchers) {
      // The change has taken effect: a watcher's failure is logged, not the caller's.
      try {
        watcher(route, action, token);
      } catch (error) {
        this.log.error({ route: route.name, err: error }, 'route change watcher failed');
      }
    }
  }

  private tellDocument(name: string, text: string | undefined): void {
    for (const listener of this.documentListeners) {
      try {
        listener(name, text);
      } catch (error) {
        this.log.error({ document: name, err: error }, 'route store document listener failed');
      }
    }
  }

  /** Read the route from etcd, compute, commit on its mod revision; again on a lost race. */
  private change(
    name: string,
    action: RouteAction,
    token: string,
    ifMatch: number | undefined,
    next: (current: RouteState | undefined, history: readonly RouteState[]) => RouteSpec,
    reason?: string,
  ): Promise<RouteState> {
    return this.serial(async () => {
      for (let attempt = 1; ; attempt++) {
        this.refuseWhenDisconnected();
        const key = ROUTES + name;
        const read = await this.call(() => this.ns.get(key).exec());
        const kv = read.kvs[0];
        const stored = kv ? parseStoredRoute(name, kv.value.toString()) : undefined;
        const modRevision = kv ? Number(kv.mod_revision) : 0;
        const current = stored?.route;
        // Before If-Match: a route that does not exist is not found, whatever revision the caller names.
        if (!current && action !== 'set') throw new ServingError('NOT_FOUND', `no route ${name}`);
        if (ifMatch !== undefined && ifMatch !== (current?.revision ?? 0)) {
          throw new ServingError('CONFLICT', `route ${name} is at revision ${current?.revision ?? 0}, not ${ifMatch}`);
        }
        const change = nextRouteState(current, stored?.history ?? [], name, action, next(current, stored?.history ?? []), token, reason);
        const value: StoredRoute = { route: change.updated, history: change.history, change: { action, token } };
        const entryKey = auditKey();
        const txn = await this.write(() =>
          this.ns
            .if(key, 'Mod', '==', modRevision)
            .then(this.ns.put(key).value(JSON.stringify(value)), this.ns.put(entryKey).value(JSON.stringify(change.entry)))
            .commit(),
        );
        if (txn.succeeded) {
          const revision = Number(txn.header.revision);
          this.applyRoute(key, value, revision);
          this.applyAudit(entryKey, change.entry, revision);
          this.trimAudit();
          return change.updated;
        }
        // Another replica changed the route between the read and the commit.
        if (attempt >= MAX_ATTEMPTS) throw new ServingError('CONFLICT', `route ${name} keeps changing under this change; try again`);
        this.log.info({ route: name, action, attempt }, 'route change lost a race in etcd: computed again on the new state');
      }
    });
  }

  private refuseWhenDisconnected(): void {
    if (!this.connectedNow) throw unavailable(this.reason);
  }

  /** An etcd call; its failure becomes a 503 with the reason. */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ServingError) throw error;
      throw unavailable(`etcd did not answer: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * An etcd call that changes something. Its deadline passing says nothing of the outcome: etcd
   * may have applied it and the answer been lost, so the caller is told to look before retrying.
   */
  private async write<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof GRPCDeadlineExceededError) {
        throw new ServingError('OVERLOADED', `etcd did not answer within ${this.callTimeoutMs / 1000} s; the change may have been applied: read the route before retrying`, 5);
      }
      return this.call(() => Promise.reject(error));
    }
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task, task);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

/** Waits for `promise` (its failure ignored), at most `ms`. */
export async function boundedWait(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise?.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

const unavailable = (reason: string): ServingError =>
  new ServingError('OVERLOADED', `the route store (etcd) is unavailable, so routes cannot change now: ${reason}. Routes are served as they were.`, 5);

/** Time first, so that keys sort in time order; random after, so that two replicas never collide. */
const auditKey = (): string => `${AUDIT}${String(Date.now()).padStart(15, '0')}-${randomBytes(6).toString('hex')}`;

function parseStoredRoute(name: string, text: string): StoredRoute {
  const raw = JSON.parse(text) as Partial<StoredRoute>;
  const route = checkedRoute(name, raw.route, `routes.${name}`);
  const history = (Array.isArray(raw.history) ? raw.history : []).map((h: unknown, i) => checkedRoute(name, h, `history.${name}.${i}`));
  const change = raw.change && typeof raw.change.token === 'string' && typeof raw.change.action === 'string' ? raw.change : { action: 'set' as const, token: 'unknown' };
  return { route, history, change };
}
