/**
 * What the metrics read from the serving core at scrape time. The metrics module
 * imports nothing of ours; this adapter, used only by main.ts, hands it plain figures.
 */
import type { ByteBudget } from './inference/byte-budget.js';
import type { InferenceService } from './inference/service.js';
import type { ModelRegistry } from './models/registry.js';
import type { DriftFigures } from './observability/drift-metrics.js';
import type { MetricSources } from './observability/metrics.js';
import type { ShadowStatsTable } from './routing/shadow-stats.js';

export function metricSources(
  registry: () => ModelRegistry,
  service: () => InferenceService,
  shadowStats: ShadowStatsTable,
  cores: number,
  budget: ByteBudget,
): MetricSources {
  return {
    inFlight: () => service().inFlight,
    heldBytes: () => budget.bytes,
    versions: () =>
      registry()
        .list()
        .flatMap((m) => m.versions)
        .flatMap((v) =>
          v.scheduler && v.pool && v.spec
            ? [
                {
                  model: v.name,
                  version: v.version,
                  queued: v.scheduler.queued,
                  queueCapacity: v.spec.maxQueueSize,
                  busySeconds: v.pool.counters.busySeconds,
                  // A batch keeps its intra-op threads busy; 0 means ONNX Runtime took every core.
                  busyCoreSeconds: v.pool.counters.busySeconds * (v.spec.intraOpThreads || cores),
                  inferences: v.scheduler.stats.inferenceCount,
                  instances: v.pool.instances,
                  workerExits: v.pool.counters.workerExits,
                  ...(v.loadSeconds !== undefined ? { loadSeconds: v.loadSeconds } : {}),
                },
              ]
            : [],
        ),
    shadows: () =>
      shadowStats.all().map(({ route, shadow, stats }) => ({
        route,
        shadow,
        compared: stats.compared,
        errors: stats.errors,
        dropped: stats.dropped,
        maxAbsDiff: stats.maxAbsDiff,
        meanAbsDiff: stats.meanAbsDiff,
        argmaxAgreement: stats.argmaxAgreement,
      })),
  };
}

/** Every drifting version's figures for the drift gauges, from its cached report. */
export function driftFigures(registry: () => ModelRegistry): DriftFigures[] {
  return registry()
    .list()
    .flatMap((m) => m.versions)
    .flatMap((v) => {
      if (!v.drift) return [];
      const report = v.drift.report();
      return [
        {
          model: v.name,
          version: v.version,
          windowRows: report.window_rows,
          tensors: report.tensors.map((t) => {
            const verdicts = { ok: 0, warn: 0, drift: 0, insufficient_data: 0 };
            for (const f of t.features) verdicts[f.verdict] += 1;
            return { name: t.name, kind: t.kind, maxPsi: t.max_psi, verdicts };
          }),
        },
      ];
    });
}
