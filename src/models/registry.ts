/**
 * The models being served and the life of each version, in Triton's model
 * management terms. A load reads the model's folder and config again: new and
 * changed versions load in new worker pools and warm up while the versions in
 * place keep serving; when every one is READY they take over in one step, and
 * the pools they replace drain (requests admitted to them finish there) and
 * close. A load that fails changes nothing that serves. Versions that leave the
 * version policy, or a model unloaded whole, drain and close the same way.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DriftMonitor } from '../drift/drift-monitor.js';
import { referenceFileChange, startDrift, warnOnMismatch } from '../drift/drift-setup.js';
import { REFERENCE_FILE, type ReferenceProfile } from '../drift/reference-profile.js';
import { hidePaths, invalidArgument, notFound, ServingError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { DescribeResult } from '../runtime/messages.js';
import { ModelPool, PoolCounters } from '../runtime/model-pool.js';
import { VersionScheduler } from '../scheduling/version-scheduler.js';
import { VersionStats } from '../scheduling/version-stats.js';
import { checkModelName, checkVersion } from './names.js';
import { discoverModel, discoverRepository, fingerprintVersion, type DiscoveredModel, type DiscoveredVersion, type VersionFingerprint } from './repository.js';
import { runtimeDefaults } from './model-config.js';
import { resolveModelSpec, type ModelSpec } from './model-spec.js';
import { planWarmup } from './warmup.js';

export type ModelState = 'LOADING' | 'READY' | 'UNAVAILABLE' | 'UNLOADING';

/** One load of one model version. A reload makes a new one; the old one drains and closes. */
export interface ModelVersion {
  readonly name: string;
  readonly version: string;
  state: ModelState;
  /** Why the version is not ready, when it is not. */
  reason?: string;
  spec?: ModelSpec;
  scheduler?: VersionScheduler;
  pool?: ModelPool;
  /** Set when config.json turns drift on for the version. */
  drift?: DriftMonitor;
  loadSeconds?: number;
  /** The longest warmup of its instances. */
  warmupSeconds?: number;
  /** The config and model file it was loaded from: a load keeps a READY version whose fingerprint is unchanged. */
  fingerprint?: VersionFingerprint;
  /** Requests admitted to this load and not yet answered: it closes only once none is left. */
  leases: number;
  /** Set once its pool has closed: a request still holding it is served by the version now in place. */
  closed?: boolean;
}

export type ServingVersion = ModelVersion & { spec: ModelSpec; scheduler: VersionScheduler; pool: ModelPool };

interface VersionCounters {
  stats: VersionStats;
  pool: PoolCounters;
}

interface ModelEntry {
  name: string;
  problem?: string;
  /** Why the last load or reload failed while earlier versions went on serving. */
  loadError?: string;
  /** The load in place for each version, newest first. */
  versions: ModelVersion[];
  /** Counts against readiness: loaded at start or served since; false once unloaded. */
  required: boolean;
  /** Per version number, across reloads. */
  counters: Map<string, VersionCounters>;
}

export interface ReadinessReport {
  ready: boolean;
  notReady: { name: string; version?: string; state: ModelState; reason?: string }[];
}

export interface RegistryOptions {
  /** Longest a replaced or unloaded version may take to finish what it admitted. */
  drainTimeoutMs: number;
  /** Longest a version may take to load and warm up; past it the load fails. */
  loadTimeoutMs: number;
  /** The route that targets or shadows a model version, if any: such a version is not unloaded. */
  usedBy?: (model: string, version: string) => string | undefined;
}

const DRAIN_CHECK_MS = 10;
/** A reason is shown in the index, readiness and logs: a huge invalid config must not make a huge one. */
const MAX_REASON_LENGTH = 2000;

export const bounded = (reason: string): string =>
  reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH)}… (${reason.length - MAX_REASON_LENGTH} more characters)` : reason;

const newVersion = (name: string, version: string, state: ModelState, reason?: string): ModelVersion => ({
  name,
  version,
  state,
  leases: 0,
  ...(reason !== undefined ? { reason } : {}),
});

const byNewest = (a: ModelVersion, b: ModelVersion): number => Number(b.version) - Number(a.version);

export class ModelRegistry {
  private readonly models = new Map<string, ModelEntry>();
  /** Loads and unloads of one model run one after another. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Replaced or unloaded versions still finishing their requests. */
  private readonly retiring = new Set<ModelVersion>();
  /** Loads whose pools are starting, so that shutdown can close them too. */
  private readonly starting = new Set<ModelPool>();
  /** False until the first load of the repository has finished. */
  private loaded = false;
  private closing = false;
  /** Set when shutdown begins: loads and unloads are refused from then on. */
  private refusingChanges = false;

  constructor(
    private readonly root: string,
    private readonly log: Logger,
    private readonly metrics?: ServerMetrics,
    private readonly options: RegistryOptions = { drainTimeoutMs: 30_000, loadTimeoutMs: 300_000 },
  ) {}

  /** From now on loads and unloads are refused (shutdown has begun); those under way finish or are cancelled by close(). */
  refuseChanges(): void {
    this.refusingChanges = true;
  }

  private checkAcceptingChanges(): void {
    if (this.refusingChanges) throw new ServingError('SHUTTING_DOWN', 'the server is shutting down: models are not loaded or unloaded any more');
  }

  /** Discovers the repository and loads every version; failures are recorded, not thrown. */
  async loadAll(): Promise<void> {
    const discovery = discoverRepository(this.root);
    for (const ignored of discovery.ignored) this.log.warn({ entry: ignored }, 'ignored repository entry');
    await Promise.all(discovery.models.map((model) => this.serialized(model.name, () => this.apply(model, true))));
    this.loaded = true;
  }

  /**
   * Loads or reloads a model from its folder (or with `configText` in place of its
   * config.json). Resolves once the new versions serve; throws, with nothing changed,
   * when the model cannot load or a version it would drop is still routed.
   */
  load(name: string, configText?: string): Promise<void> {
    checkModelName(name);
    this.checkAcceptingChanges();
    return this.serialized(name, async () => {
      this.checkAcceptingChanges();
      const model = discoverModel(this.root, name, configText);
      if (!model) throw notFound(`model ${name} is not in the model repository`);
      for (const ignored of model.ignored) this.log.warn({ entry: ignored }, 'ignored repository entry');
      await this.apply(model, false);
    });
  }

  /** Drains and unloads every version of a model; refused while a route uses one. */
  unload(name: string): Promise<void> {
    checkModelName(name);
    this.checkAcceptingChanges();
    return this.serialized(name, async () => {
      this.checkAcceptingChanges();
      const entry = this.models.get(name);
      if (!entry) throw notFound(`unknown model ${JSON.stringify(name)}`);
      const serving = entry.versions.filter((v) => v.pool);
      this.refuseRouted(name, serving);
      entry.required = false;
      entry.loadError = undefined;
      for (const v of serving) this.retire(entry, v);
      this.log.info({ model: name, versions: serving.map((v) => v.version) }, 'model unloading');
    });
  }

  private serialized<T>(name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve();
    const result = previous.then(task, task);
    const settled = result.catch(() => undefined);
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    return result;
  }

  private entryFor(name: string, initial: boolean): ModelEntry {
    let entry = this.models.get(name);
    if (!entry) {
      entry = { name, versions: [], required: initial, counters: new Map() };
      this.models.set(name, entry);
    }
    return entry;
  }

  /** Why one of `versions` cannot be unloaded (a route uses it), if so. */
  private routedAmong(name: string, versions: readonly ModelVersion[]): string | undefined {
    for (const v of versions) {
      const route = this.options.usedBy?.(name, v.version);
      if (route !== undefined) return `model ${name} version ${v.version} is used by route ${route}: change the route before unloading it`;
    }
    return undefined;
  }

  private refuseRouted(name: string, versions: readonly ModelVersion[]): void {
    const routed = this.routedAmong(name, versions);
    if (routed) throw new ServingError('CONFLICT', routed);
  }

  /** One load of one model: at start every failure is recorded; later a failure throws and changes nothing. */
  private async apply(model: DiscoveredModel, initial: boolean): Promise<void> {
    const entry = this.entryFor(model.name, initial);
    if (model.problem) {
      const problem = bounded(model.problem);
      if (initial || !entry.versions.some((v) => v.state === 'READY')) {
        entry.problem = problem;
        entry.versions = model.versions.map((v) => newVersion(model.name, String(v.version), 'UNAVAILABLE', problem));
        this.log.error({ model: model.name, reason: problem }, 'model cannot be served');
      } else {
        entry.loadError = problem;
      }
      if (initial) return;
      throw invalidArgument(`failed to load model ${model.name}: ${problem}`);
    }

    const wanted = model.versions.filter((d) => !d.problem);
    const wantedNumbers = new Set(wanted.map((d) => String(d.version)));
    const current = new Map(entry.versions.map((v) => [v.version, v]));
    // Versions kept although their drift_reference.json changed: it is only a reference, which
    // needs no new workers. Applied at the switch, so that a load that fails changes nothing.
    const kept: { version: ModelVersion; fingerprint: VersionFingerprint; reference?: ReferenceProfile }[] = [];
    const plans = wanted.flatMap((discovered) => {
      const fingerprint = fingerprintVersion(model, discovered);
      const inPlace = current.get(String(discovered.version));
      if (inPlace?.state !== 'READY' || inPlace.fingerprint?.served !== fingerprint.served) return [{ discovered, fingerprint }];
      if (inPlace.fingerprint.reference === fingerprint.reference) return [];
      const change = this.referenceChange(inPlace, discovered);
      if (!change) return [{ discovered, fingerprint }];
      kept.push({ version: inPlace, fingerprint, ...change });
      return [];
    });
    const leaving = entry.versions.filter((v) => v.pool && !wantedNumbers.has(v.version));
    if (!initial) this.refuseRouted(model.name, leaving);

    // New loads are staged apart and take no traffic until every one of them is READY; the
    // index shows a new version as LOADING meanwhile, and a version being replaced serves on.
    const loads = plans.map(({ discovered, fingerprint }) => {
      const next = newVersion(model.name, String(discovered.version), 'LOADING');
      next.fingerprint = fingerprint;
      const shown = current.get(next.version)?.state === 'READY' ? undefined : newVersion(model.name, next.version, 'LOADING');
      if (shown) this.place(entry, shown);
      return { next, shown, done: this.loadVersion(model, discovered, next, this.countersFor(entry, next.version)) };
    });
    await Promise.all(loads.map((l) => l.done));

    const failed = loads.filter((l) => l.next.state !== 'READY');
    // A route may have started to use a version this load drops while it was loading.
    const routed = initial ? undefined : this.routedAmong(model.name, leaving);
    if ((failed.length > 0 || routed) && !initial) {
      const reason = routed ?? failed.map((l) => `version ${l.next.version}: ${l.next.reason ?? 'failed'}`).join('; ');
      for (const { next, shown } of loads) {
        // Staged pools never took a request: they close at once.
        if (next.state === 'READY') await this.closePool(next);
        if (shown) this.place(entry, next.state === 'READY' || routed ? { ...shown, state: 'UNAVAILABLE', reason: `not loaded: ${reason}` } : next);
      }
      entry.loadError = `the last load failed: ${reason}`;
      this.log.error({ model: model.name, reason }, 'model load failed; the versions in place go on serving');
      if (routed) throw new ServingError('CONFLICT', routed);
      throw invalidArgument(`failed to load model ${model.name}: ${reason}`);
    }

    // The switch, in one step: every new load in place, the ones it replaces draining.
    for (const { version, fingerprint, reference } of kept) {
      version.fingerprint = fingerprint;
      if (reference && version.drift) {
        warnOnMismatch(reference, version.drift.tensors, model.name, version.version, this.log);
        version.drift.replaceReference(reference);
        this.log.info({ model: model.name, version: version.version, referenceRows: reference.reference_rows }, 'drift reference replaced from drift_reference.json');
      } else {
        this.log.info({ model: model.name, version: version.version }, 'drift_reference.json holds the reference in use: version kept as it is');
      }
    }
    for (const { next } of loads) {
      const replaced = current.get(next.version);
      this.place(entry, next);
      if (replaced?.pool && replaced !== next) this.retire(entry, replaced, false);
    }
    for (const v of leaving) this.retire(entry, v);
    for (const discovered of model.versions.filter((d) => d.problem)) {
      if (!current.get(String(discovered.version))?.pool) this.place(entry, newVersion(model.name, String(discovered.version), 'UNAVAILABLE', discovered.problem));
      this.log.error({ model: model.name, version: discovered.version, reason: discovered.problem }, 'model version unavailable');
    }
    // Failed versions no longer in the policy leave the index.
    const discovered = new Set(model.versions.map((d) => String(d.version)));
    entry.versions = entry.versions.filter((v) => v.pool || v.state === 'UNLOADING' || v.reason === 'unloaded' || discovered.has(v.version));
    delete entry.problem;
    if (!initial) delete entry.loadError;
    if (entry.versions.some((v) => v.state === 'READY')) entry.required = true;
    if (!initial) {
      this.log.info(
        { model: model.name, loaded: loads.map((l) => l.next.version), unloading: leaving.map((v) => v.version) },
        'model loaded',
      );
    }
  }

  /**
   * How a READY version whose drift_reference.json alone changed can stay: as it is (drift off,
   * or the file holds the reference it uses, as `brisk drift capture` writes it), or with the
   * file's reference swapped in. Undefined when it must reload: the file is gone, or cannot be
   * used (the reload reports why, as a load failure, and the version serves on).
   */
  private referenceChange(version: ModelVersion, discovered: DiscoveredVersion): { reference?: ReferenceProfile } | undefined {
    if (!version.drift) return {};
    try {
      const change = referenceFileChange(version.drift, path.dirname(discovered.modelPath));
      return change.same ? {} : { reference: change.reference };
    } catch {
      return undefined;
    }
  }

  /**
   * Drops a serving version's drift reference and window, and captures a new reference from
   * the next rows it serves, with no reload. CONFLICT when drift is off for it, and when its
   * folder holds a drift_reference.json (the file wins: its next load would take it back).
   * Run in turn with the model's loads, so that none swaps a file's reference in meanwhile.
   */
  recaptureDrift(name: string, version: string): Promise<{ model: string; version: string; state: 'capturing'; capture_rows: number }> {
    checkModelName(name);
    checkVersion(version);
    this.checkAcceptingChanges();
    return this.serialized(name, async () => {
      this.checkAcceptingChanges();
      const found = this.findReady(name, version);
      if (!found.drift) throw new ServingError('CONFLICT', `drift is off for model ${name} version ${version}: set "drift": {"enabled": true} in its config.json`);
      if (existsSync(path.join(this.root, name, version, REFERENCE_FILE))) {
        throw new ServingError(
          'CONFLICT',
          `model ${name} version ${version} has a ${REFERENCE_FILE}, which wins over a captured reference: move it out of the version folder first`,
        );
      }
      try {
        found.drift.recapture();
      } catch (error) {
        throw new ServingError('CONFLICT', error instanceof Error ? error.message : String(error));
      }
      this.log.info({ model: name, version, captureRows: found.drift.settings.referenceRows }, 'drift reference dropped: capturing a new one');
      return { model: name, version, state: 'capturing' as const, capture_rows: found.drift.settings.referenceRows };
    });
  }

  /** Puts a version load in its model's list, in place of any other load of the same version. */
  private place(entry: ModelEntry, version: ModelVersion): void {
    entry.versions = [...entry.versions.filter((v) => v.version !== version.version), version].sort(byNewest);
  }

  private countersFor(entry: ModelEntry, version: string): VersionCounters {
    let counters = entry.counters.get(version);
    if (!counters) {
      counters = { stats: new VersionStats(), pool: new PoolCounters() };
      entry.counters.set(version, counters);
    }
    return counters;
  }

  private async loadVersion(model: DiscoveredModel, discovered: DiscoveredVersion, version: ModelVersion, counters: VersionCounters): Promise<void> {
    const started = performance.now();
    const config = model.config;
    let pool: ModelPool | undefined;
    try {
      const warmup = planWarmup(config?.model_warmup ?? [], path.dirname(path.dirname(discovered.modelPath)));
      // A model without a config.json gets the same defaults from the cores as one that leaves them out.
      const runtime = config ? undefined : runtimeDefaults(['cpu']);
      pool = new ModelPool(
        {
          modelPath: discovered.modelPath,
          executionProviders: config?.execution_providers ?? ['cpu'],
          intraOpThreads: config?.intra_op_threads ?? runtime?.intraOpThreads ?? 1,
          intraOpSpinning: config?.intra_op_spinning ?? false,
          warmup,
        },
        config?.instances ?? runtime?.instances ?? 1,
        this.log.child({ model: model.name, version: version.version }),
        (lost) => this.markUnavailable(version, lost.message),
        counters.pool,
      );
      this.starting.add(pool);
      const { described, warmupSeconds } = await this.withinLoadTimeout(pool);
      if (this.closing) throw new Error('the server is shutting down');
      const spec = resolveModelSpec(model.name, discovered.version, config, described);
      if (described.fallbackReason) {
        this.log.warn(
          { model: model.name, version: version.version, executionProvider: spec.executionProvider, reason: described.fallbackReason },
          'preferred execution provider unavailable; serving on the fallback',
        );
      }
      const loaded = pool;
      const drift = config?.drift.enabled
        ? startDrift(spec, config.drift, path.dirname(discovered.modelPath), (plan, onCounts) => loaded.setDriftPlan(plan, onCounts), this.log)
        : undefined;
      version.spec = spec;
      version.pool = pool;
      if (drift) version.drift = drift;
      version.scheduler = new VersionScheduler(spec, pool, this.metrics, counters.stats, drift);
      version.loadSeconds = (performance.now() - started) / 1000;
      version.warmupSeconds = warmupSeconds;
      version.state = 'READY';
      this.log.info(
        { model: model.name, version: version.version, maxBatchSize: spec.maxBatchSize, instances: spec.instances, executionProvider: spec.executionProvider, loadSeconds: version.loadSeconds, warmupSeconds, warmupSamples: warmup.length },
        'model version ready',
      );
    } catch (error) {
      if (pool) await this.closeStarted(pool);
      const reason = `failed to load ${model.name}/${version.version}: ${this.relativePaths(error instanceof Error ? error.message : String(error))}`;
      this.markUnavailable(version, reason);
      this.log.error({ model: model.name, version: version.version, reason }, 'model version unavailable');
    } finally {
      if (pool) this.starting.delete(pool);
    }
  }

  /** The pool's description once every instance is ready, or a failure past the load timeout. */
  private async withinLoadTimeout(pool: ModelPool): Promise<{ described: DescribeResult; warmupSeconds: number }> {
    const limit = this.options.loadTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`it did not load and warm up within the load timeout of ${limit / 1000} s`)), limit);
    });
    try {
      const described = await Promise.race([pool.describe(), timeout]);
      const { warmupSeconds } = await Promise.race([pool.ready(), timeout]);
      return { described, warmupSeconds };
    } finally {
      clearTimeout(timer);
    }
  }

  private async closeStarted(pool: ModelPool): Promise<void> {
    await pool.close().catch(() => undefined);
  }

  private async closePool(version: ModelVersion): Promise<void> {
    const pool = version.pool;
    if (!pool) return;
    version.drift?.stop();
    await this.closeStarted(pool);
    version.closed = true;
    delete version.pool;
    delete version.scheduler;
    delete version.drift;
  }

  private markUnavailable(version: ModelVersion, reason: string): void {
    version.state = 'UNAVAILABLE';
    version.reason = reason;
  }

  /**
   * Takes a load out of service: it finishes what it admitted (or until the drain
   * timeout, when what still waits is answered with an error), then its threads end
   * after their last batch and its sessions are released. `leaving` marks a version
   * that has no replacement: the index shows it UNLOADING, then unloaded.
   */
  private retire(entry: ModelEntry, version: ModelVersion, leaving = true): void {
    if (this.retiring.has(version)) return;
    this.retiring.add(version);
    // Its drift is no one's to read any more: a capture under way is dropped, not built.
    version.drift?.stop();
    version.state = 'UNLOADING';
    if (leaving) version.reason = 'unloading';
    const deadline = performance.now() + this.options.drainTimeoutMs;
    const check = (): void => {
      const scheduler = version.scheduler;
      const pastDeadline = performance.now() >= deadline;
      if (scheduler && pastDeadline) scheduler.abandonQueued(new ServingError('MODEL_NOT_READY', `model ${version.name} version ${version.version} was unloaded`));
      const finished = (version.leases === 0 || pastDeadline) && (scheduler?.queued ?? 0) === 0 && (version.pool?.idle ?? true);
      if (!finished && !this.closing) {
        setTimeout(check, DRAIN_CHECK_MS);
        return;
      }
      void this.closePool(version).then(() => {
        this.retiring.delete(version);
        if (leaving && entry.versions.includes(version)) {
          version.state = 'UNAVAILABLE';
          version.reason = 'unloaded';
        }
        this.log.info({ model: version.name, version: version.version, replaced: !leaving }, 'model version unloaded');
      });
    };
    check();
  }

  /** Reasons reach clients: paths inside the repository are shown relative to it, others not at all; and they are bounded. */
  private relativePaths(message: string): string {
    const root = path.resolve(this.root) + path.sep;
    return bounded(hidePaths(message.split(root).join('')));
  }

  /** Every model's versions, for the repository index. */
  list(): { name: string; problem?: string; loadError?: string; versions: readonly ModelVersion[] }[] {
    return [...this.models.values()];
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  /** Whether a version exists and is ready; the reason when not, for route validation. */
  servable(name: string, version: string): string | undefined {
    const found = this.models.get(name)?.versions.find((v) => v.version === version);
    if (!found) return 'is not in the model repository';
    return found.state === 'READY' ? undefined : `is ${found.state.toLowerCase()}`;
  }

  /** The model's versions, newest first; NOT_FOUND if the repository has no such model. */
  versionsOf(name: string): readonly ModelVersion[] {
    checkModelName(name);
    const entry = this.models.get(name);
    if (!entry) throw notFound(`unknown model ${JSON.stringify(name)}`);
    return entry.versions;
  }

  /** A version by number, or the newest ready one; errors say why it cannot serve. */
  find(name: string, version?: string): ModelVersion {
    const versions = this.versionsOf(name);
    if (version === undefined || version === '') {
      const ready = versions.find((v) => v.state === 'READY');
      if (ready) return ready;
      const entry = this.models.get(name)!;
      const reason =
        entry.problem ?? versions.map((v) => v.reason).find(Boolean) ?? (versions.some((v) => v.state === 'LOADING') ? 'it is still loading' : 'it is shutting down');
      throw new ServingError('MODEL_NOT_READY', `model ${name} has no ready version: ${reason}`);
    }
    checkVersion(version);
    const found = versions.find((v) => v.version === version);
    if (!found) throw notFound(`model ${name} has no version ${version}`);
    return found;
  }

  /** Like find, but the version must be ready to serve. */
  findReady(name: string, version?: string): ServingVersion {
    const found = this.find(name, version);
    if (found.state !== 'READY' || !found.spec || !found.scheduler || !found.pool) {
      throw new ServingError(
        'MODEL_NOT_READY',
        `model ${name} version ${found.version} is ${found.state.toLowerCase()}${found.reason ? `: ${found.reason}` : ''}`,
      );
    }
    return found as ServingVersion;
  }

  /** Ready when every model the server started with, or that has served since, has a version that serves. */
  readiness(): ReadinessReport {
    const notReady: ReadinessReport['notReady'] = [];
    for (const entry of this.models.values()) {
      if (!entry.required || entry.versions.some((v) => v.state === 'READY')) continue;
      if (entry.versions.length === 0) notReady.push({ name: entry.name, state: 'UNAVAILABLE', ...(entry.problem ? { reason: entry.problem } : {}) });
      for (const v of entry.versions) notReady.push({ name: v.name, version: v.version, state: v.state, ...(v.reason ? { reason: v.reason } : {}) });
    }
    return { ready: this.loaded && notReady.length === 0, notReady };
  }

  /** Every load with a pool: in place, draining, or (during shutdown) whatever is left. */
  private withPools(): ModelVersion[] {
    const inPlace = [...this.models.values()].flatMap((m) => m.versions.filter((v) => v.pool));
    return [...inPlace, ...[...this.retiring].filter((v) => v.pool && !inPlace.includes(v))];
  }

  /** Answers every queued request with `error`; returns how many there were. */
  abandonQueued(error: ServingError): number {
    return this.withPools().reduce((sum, v) => sum + (v.scheduler?.abandonQueued(error) ?? 0), 0);
  }

  /**
   * The longest batch_timeout_ms of the versions with pools, one with no limit (0) counting as
   * `noLimitMs`: how long shutdown waits for the batches still running at the drain timeout.
   */
  longestBatchTimeoutMs(noLimitMs: number): number {
    return Math.max(0, ...this.withPools().map((v) => (v.spec?.batchTimeoutMs ? v.spec.batchTimeoutMs : noLimitMs)));
  }

  /** Tasks on worker threads right now, over all models (a batch answered on a timeout may still run). */
  runningBatches(): number {
    return this.withPools().reduce((sum, v) => sum + (v.pool?.activeTasks ?? 0), 0);
  }

  async close(): Promise<void> {
    this.closing = true;
    const closing: Promise<void>[] = [];
    for (const v of this.withPools()) {
      v.state = 'UNLOADING';
      closing.push(this.closePool(v));
    }
    for (const pool of this.starting) closing.push(this.closeStarted(pool));
    await Promise.all(closing);
  }
}
