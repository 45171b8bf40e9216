/**
 * The models being served and the state of each version. A version moves
 * LOADING → READY, or LOADING → UNAVAILABLE with the reason; UNLOADING while the
 * server shuts it down. Readiness and the repository index read these states.
 */
import path from 'node:path';
import { hidePaths, ServingError, notFound } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { ServerMetrics } from '../observability/metrics.js';
import { ModelPool } from '../runtime/model-pool.js';
import { VersionScheduler } from '../scheduling/version-scheduler.js';
import { checkModelName, checkVersion } from './names.js';
import { discoverRepository, type DiscoveredModel, type DiscoveredVersion } from './repository.js';
import { resolveModelSpec, type ModelSpec } from './model-spec.js';

export type ModelState = 'LOADING' | 'READY' | 'UNAVAILABLE' | 'UNLOADING';

export interface ModelVersion {
  readonly name: string;
  readonly version: string;
  state: ModelState;
  /** Why the version is not ready, when it is not. */
  reason?: string;
  spec?: ModelSpec;
  scheduler?: VersionScheduler;
  pool?: ModelPool;
  loadSeconds?: number;
}

interface ModelEntry {
  name: string;
  problem?: string;
  /** Newest first. */
  versions: ModelVersion[];
}

export interface ReadinessReport {
  ready: boolean;
  notReady: { name: string; version?: string; state: ModelState; reason?: string }[];
}

export class ModelRegistry {
  private readonly models = new Map<string, ModelEntry>();
  /** False until the first load of the repository has finished. */
  private loaded = false;

  constructor(
    private readonly root: string,
    private readonly log: Logger,
    private readonly metrics?: ServerMetrics,
  ) {}

  /** Discovers the repository and loads every version; failures are recorded, not thrown. */
  async loadAll(): Promise<void> {
    const discovery = discoverRepository(this.root);
    for (const ignored of discovery.ignored) this.log.warn({ entry: ignored }, 'ignored repository entry');
    const loads: Promise<void>[] = [];
    for (const model of discovery.models) {
      const entry: ModelEntry = {
        name: model.name,
        ...(model.problem ? { problem: model.problem } : {}),
        versions: model.versions.map((v) => ({ name: model.name, version: String(v.version), state: 'LOADING' })),
      };
      this.models.set(model.name, entry);
      if (model.problem) {
        this.log.error({ model: model.name, reason: model.problem }, 'model cannot be served');
        for (const version of entry.versions) this.markUnavailable(version, model.problem);
        continue;
      }
      model.versions.forEach((discovered, i) => loads.push(this.loadVersion(model, discovered, entry.versions[i]!)));
    }
    await Promise.all(loads);
    this.loaded = true;
  }

  private markUnavailable(version: ModelVersion, reason: string): void {
    version.state = 'UNAVAILABLE';
    version.reason = reason;
  }

  private async loadVersion(model: DiscoveredModel, discovered: DiscoveredVersion, version: ModelVersion): Promise<void> {
    if (discovered.problem) {
      this.markUnavailable(version, discovered.problem);
      this.log.error({ model: model.name, version: version.version, reason: discovered.problem }, 'model version unavailable');
      return;
    }
    const started = performance.now();
    const config = model.config;
    const pool = new ModelPool(
      {
        modelPath: discovered.modelPath,
        executionProviders: config?.execution_providers ?? ['cpu'],
        intraOpThreads: config?.intra_op_threads ?? 1,
        intraOpSpinning: config?.intra_op_spinning ?? false,
      },
      config?.instances ?? 1,
      this.log.child({ model: model.name, version: version.version }),
      (lost) => this.markUnavailable(version, lost.message),
    );
    try {
      const described = await pool.describe();
      const spec = resolveModelSpec(model.name, discovered.version, config, described);
      if (described.fallbackReason) {
        this.log.warn(
          { model: model.name, version: version.version, executionProvider: spec.executionProvider, reason: described.fallbackReason },
          'preferred execution provider unavailable; serving on the fallback',
        );
      }
      version.spec = spec;
      version.pool = pool;
      version.scheduler = new VersionScheduler(spec, pool, this.metrics);
      version.loadSeconds = (performance.now() - started) / 1000;
      version.state = 'READY';
      this.log.info(
        { model: model.name, version: version.version, maxBatchSize: spec.maxBatchSize, instances: spec.instances, executionProvider: spec.executionProvider, loadSeconds: version.loadSeconds },
        'model version ready',
      );
    } catch (error) {
      await pool.close().catch(() => undefined);
      const reason = `failed to load ${model.name}/${version.version}: ${this.relativePaths(error instanceof Error ? error.message : String(error))}`;
      this.markUnavailable(version, reason);
      this.log.error({ model: model.name, version: version.version, reason }, 'model version unavailable');
    }
  }

  /** Reasons reach clients: paths inside the repository are shown relative to it, others not at all. */
  private relativePaths(message: string): string {
    const root = path.resolve(this.root) + path.sep;
    return hidePaths(message.split(root).join(''));
  }

  /** Every model's versions, for the repository index. */
  list(): { name: string; problem?: string; versions: readonly ModelVersion[] }[] {
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
      const reason = entry.problem ?? versions.map((v) => v.reason).find(Boolean) ?? 'it is still loading';
      throw new ServingError('MODEL_NOT_READY', `model ${name} has no ready version: ${reason}`);
    }
    checkVersion(version);
    const found = versions.find((v) => v.version === version);
    if (!found) throw notFound(`model ${name} has no version ${version}`);
    return found;
  }

  /** Like find, but the version must be ready to serve. */
  findReady(name: string, version?: string): ModelVersion & { spec: ModelSpec; scheduler: VersionScheduler } {
    const found = this.find(name, version);
    if (found.state !== 'READY' || !found.spec || !found.scheduler) {
      throw new ServingError(
        'MODEL_NOT_READY',
        `model ${name} version ${found.version} is ${found.state.toLowerCase()}${found.reason ? `: ${found.reason}` : ''}`,
      );
    }
    return found as ModelVersion & { spec: ModelSpec; scheduler: VersionScheduler };
  }

  readiness(): ReadinessReport {
    const notReady: ReadinessReport['notReady'] = [];
    for (const entry of this.models.values()) {
      if (entry.versions.length === 0) notReady.push({ name: entry.name, state: 'UNAVAILABLE', ...(entry.problem ? { reason: entry.problem } : {}) });
      for (const v of entry.versions) {
        if (v.state !== 'READY') notReady.push({ name: v.name, version: v.version, state: v.state, ...(v.reason ? { reason: v.reason } : {}) });
      }
    }
    return { ready: this.loaded && notReady.length === 0, notReady };
  }

  private schedulers(): VersionScheduler[] {
    return [...this.models.values()].flatMap((m) => m.versions.flatMap((v) => (v.scheduler ? [v.scheduler] : [])));
  }

  /** Answers every queued request with `error`; returns how many there were. */
  abandonQueued(error: ServingError): number {
    return this.schedulers().reduce((sum, s) => sum + s.abandonQueued(error), 0);
  }

  /** Tasks on worker threads right now, over all models (a batch answered on a timeout may still run). */
  runningBatches(): number {
    let running = 0;
    for (const entry of this.models.values()) for (const v of entry.versions) running += v.pool?.activeTasks ?? 0;
    return running;
  }

  async close(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const entry of this.models.values()) {
      for (const v of entry.versions) {
        if (v.pool) {
          v.state = 'UNLOADING';
          closing.push(v.pool.close());
        }
      }
    }
    await Promise.all(closing);
  }
}
