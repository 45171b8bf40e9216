/**
 * Everything the console page shows, in one JSON document: models and their
 * versions, each version's live figures and 15-minute series, routes with their
 * shadows' comparison, rollouts and the audit trail. It is built at most once per
 * CACHE_MS and shared as a string by every browser polling it, so ten operators
 * polling every 2 s cost one build a second, not ten.
 */
import type { InferenceService } from '../inference/service.js';
import type { ModelRegistry } from '../models/registry.js';
import type { RolloutController, RolloutView } from '../rollout/rollout-controller.js';
import type { RouteStore } from '../routing/route-store.js';
import { targetId } from '../routing/route.js';
import type { ShadowStatsTable } from '../routing/shadow-stats.js';
import { COLUMNS, FigureHistory, HISTORY_SECONDS, SAMPLE_INTERVAL_MS, type VersionReading } from './figure-history.js';

export interface ConsoleSources {
  registry: Pick<ModelRegistry, 'list'>;
  service: Pick<InferenceService, 'stats'>;
  store: Pick<RouteStore, 'list' | 'audit'>;
  shadowStats: ShadowStatsTable;
  rollouts: Pick<RolloutController, 'get'>;
}

const CACHE_MS = 1000;
/** The page shows the latest entries; the whole trail stays on GET /admin/audit. */
const AUDIT_SHOWN = 50;
/** The latest intervals of a rollout; a long rollout keeps up to 500. */
const INTERVALS_SHOWN = 20;

export class ConsoleState {
  private readonly history = new FigureHistory();
  /** By whether the series are in: the page asks for them once, then appends each poll's latest sample. */
  private readonly cached = new Map<boolean, { atMs: number; json: string }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sources: ConsoleSources,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts sampling the live figures; the timer does not keep the process alive. */
  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  sample(): void {
    this.history.sample(this.readings(), this.now());
  }

  /** The document as JSON text, rebuilt when older than CACHE_MS; `withSeries` adds the 15-minute series (the bulk of it). */
  json(withSeries: boolean): string {
    const now = this.now();
    let cached = this.cached.get(withSeries);
    if (!cached || now - cached.atMs >= CACHE_MS) {
      cached = { atMs: now, json: JSON.stringify(this.build(now, withSeries)) };
      this.cached.set(withSeries, cached);
    }
    return cached.json;
  }

  private readings(): VersionReading[] {
    const queued = new Map<string, number>();
    for (const model of this.sources.registry.list()) {
      for (const v of model.versions) if (v.scheduler) queued.set(`${v.name}/${v.version}`, v.scheduler.queued);
    }
    return this.sources.service.stats().map(({ name, version, stats, recent }) => ({
      model: name,
      version,
      success: stats.success.count,
      fail: stats.fail.count,
      inferences: stats.inferenceCount,
      executions: stats.executionCount,
      queued: queued.get(`${name}/${version}`) ?? 0,
      p50: recent?.p50 ?? 0,
      p95: recent?.p95 ?? 0,
      p99: recent?.p99 ?? 0,
    }));
  }

  private build(now: number, withSeries: boolean): unknown {
    const { registry, service, store, shadowStats, rollouts } = this.sources;
    const costs = new Map(service.stats().map((r) => [`${r.name}/${r.version}`, r.cost]));
    const models = registry.list().map((model) => ({
      name: model.name,
      ...(model.problem ? { problem: model.problem } : {}),
      ...(model.loadError ? { load_error: model.loadError } : {}),
      versions: model.versions.map((v) => {
        const key = `${v.name}/${v.version}`;
        const cost = costs.get(key);
        return {
          version: v.version,
          state: v.state,
          ...(v.reason ? { reason: v.reason } : {}),
          instances: v.spec?.instances ?? null,
          max_batch_size: v.spec?.maxBatchSize ?? null,
          preferred_batch_sizes: v.spec?.preferredBatchSizes ?? [],
          max_queue_delay_us: v.spec?.maxQueueDelayUs ?? null,
          load_seconds: v.loadSeconds ?? null,
          warmup_seconds: v.warmupSeconds ?? null,
          live: this.history.latest(key) ?? null,
          cost_per_1k: cost ?? null,
          ...(withSeries ? { series: this.history.series(key) ?? null } : {}),
        };
      }),
    }));
    const routes = store.list().map((route) => ({
      name: route.name,
      revision: route.revision,
      updated_at: route.updatedAt,
      targets: route.spec.targets,
      shadows: route.spec.shadows.map((s) => ({ ...s, stats: shadowStats.for(route.name, targetId(s)).toJSON() })),
      rollout: trimRollout(rollouts.get(route.name)),
    }));
    return {
      generated_at: new Date(now).toISOString(),
      series_columns: COLUMNS,
      series_seconds: HISTORY_SECONDS,
      sample_interval_ms: SAMPLE_INTERVAL_MS,
      models,
      routes,
      audit: store.audit().slice(-AUDIT_SHOWN).reverse(),
    };
  }
}

function trimRollout(view: RolloutView | undefined): unknown {
  if (!view) return null;
  return { ...view, intervals: view.intervals.slice(-INTERVALS_SHOWN) };
}
