/** Per-version counters in the shape of Triton's statistics extension. */
import type { VersionStatsReport } from '../inference/service.js';
import { RECENT_WINDOW_SECONDS } from '../observability/metrics.js';

const duration = (d: { count: number; ns: number }) => ({ count: d.count, ns: Math.round(d.ns) });

/**
 * The fields Triton's statistics extension defines, by its names. REST renders them as
 * JSON and gRPC as a ModelStatistics message, so both protocols report the same figures.
 */
export function tritonModelStats({ name, version, stats }: VersionStatsReport) {
  return {
    name,
    version,
    last_inference: stats.lastInferenceMs,
    inference_count: stats.inferenceCount,
    execution_count: stats.executionCount,
    inference_stats: {
      success: duration(stats.success),
      fail: duration(stats.fail),
      queue: duration(stats.queue),
      compute_infer: duration(stats.computeInfer),
    },
    batch_stats: [...stats.batches.entries()]
      .sort(([a], [b]) => a - b)
      .map(([size, d]) => ({ batch_size: size, compute_infer: duration(d) })),
  };
}

/** REST adds what Triton's format has no field for: drops, average batch size, recent latency, cost. */
export function statsJson(reports: readonly VersionStatsReport[]): unknown {
  return {
    model_stats: reports.map((report) => {
      const { stats, recent, recentShadow, cost } = report;
      return {
        ...tritonModelStats(report),
        dropped: { ...stats.dropped },
        average_batch_size: stats.executionCount ? stats.inferenceCount / stats.executionCount : 0,
        ...(recent ? { recent_latency_seconds: { window_seconds: RECENT_WINDOW_SECONDS, ...recent } } : {}),
        ...(recentShadow?.count ? { recent_shadow_latency_seconds: { window_seconds: RECENT_WINDOW_SECONDS, ...recentShadow } } : {}),
        ...(cost ? { cost_per_1k_inferences: cost } : {}),
      };
    }),
  };
}
