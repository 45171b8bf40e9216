/** Per-version counters in the JSON shape of Triton's statistics extension. */
import type { VersionStatsReport } from '../inference/service.js';
import { RECENT_WINDOW_SECONDS } from '../observability/metrics.js';

const duration = (d: { count: number; ns: number }) => ({ count: d.count, ns: Math.round(d.ns) });

export function statsJson(reports: readonly VersionStatsReport[]): unknown {
  return {
    model_stats: reports.map(({ name, version, stats, recent, cost }) => ({
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
      dropped: { ...stats.dropped },
      average_batch_size: stats.executionCount ? stats.inferenceCount / stats.executionCount : 0,
      ...(recent ? { recent_latency_seconds: { window_seconds: RECENT_WINDOW_SECONDS, ...recent } } : {}),
      ...(cost ? { cost_per_1k_inferences: cost } : {}),
    })),
  };
}
