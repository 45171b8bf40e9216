/**
 * Runs mirrored copies of requests on shadow targets and compares their answers
 * with the primary's. A copy never delays or changes the primary answer: it is
 * started beside it, at the lowest priority in the shadow model's queue, with a
 * time limit, and only while the I/O thread is below `maxLoad` and fewer than
 * `maxInFlight` copies run; otherwise the copy is dropped and counted, so
 * shadow work is the first thing shed under load.
 */
import type { InferRequest, OutputTensor } from '../types.js';
import { endSpan, startChildSpan, type Span } from '../observability/tracing.js';
import type { ShadowTarget } from './route.js';
import { targetId } from './route.js';
import { compareOutputs } from './shadow-compare.js';
import type { ShadowStatsTable } from './shadow-stats.js';

export interface ShadowRunnerOptions {
  maxInFlight: number;
  timeoutUs: number;
  /** Event-loop utilisation above which copies are shed; 1 never sheds for load. */
  maxLoad: number;
  /** The I/O thread's current utilisation, 0 to 1. */
  load: () => number;
}

export class ShadowRunner {
  private inFlight = 0;

  constructor(
    private readonly options: ShadowRunnerOptions,
    readonly stats: ShadowStatsTable,
    private readonly execute: (request: InferRequest) => Promise<OutputTensor[]>,
  ) {}

  /** True if a copy would be run now; false means it would be dropped (and is counted so). */
  admit(route: string, shadow: ShadowTarget): boolean {
    if (this.inFlight < this.options.maxInFlight && (this.options.maxLoad >= 1 || this.options.load() < this.options.maxLoad)) return true;
    this.stats.for(route, targetId(shadow)).dropped += 1;
    return false;
  }

  /** A private copy of the inputs: the primary's buffers move to its worker thread. */
  static copyRequest(request: InferRequest, shadow: ShadowTarget): InferRequest {
    return {
      modelName: shadow.model,
      modelVersion: shadow.version,
      parameters: {},
      // The shadow model's lowest level: a copy waits behind every real request there.
      lowestPriority: true,
      inputs: request.inputs.map((input) => ({
        ...input,
        data: Array.isArray(input.data) ? [...input.data] : input.data.slice(),
      })),
      ...(request.outputs ? { outputs: request.outputs } : {}),
      protocol: request.protocol,
    };
  }

  run(route: string, shadow: ShadowTarget, copy: InferRequest, primary: Promise<OutputTensor[] | undefined>, parentSpan?: Span): void {
    const stats = this.stats.for(route, targetId(shadow));
    const span = startChildSpan(parentSpan, `shadow ${targetId(shadow)}`, { 'brisk.route': route, 'brisk.model': shadow.model, 'brisk.version': shadow.version });
    if (span) copy.traceSpan = span;
    this.inFlight += 1;
    copy.deadlineUs = this.options.timeoutUs;
    Promise.all([this.execute(copy), primary])
      .then(([shadowOutputs, primaryOutputs]) => {
        // A failed primary leaves nothing to compare against; that is not the shadow's fault.
        if (!primaryOutputs) return;
        const comparison = compareOutputs(primaryOutputs, shadowOutputs, shadow.class_scores);
        stats.record(comparison);
        span?.setAttribute('brisk.shadow.max_abs_diff', comparison.maxAbsDiff);
      })
      .then(
        () => endSpan(span),
        (error: unknown) => {
          stats.errors += 1;
          endSpan(span, { code: 'SHADOW_FAILED', message: error instanceof Error ? error.message : String(error) });
        },
      )
      .finally(() => {
        this.inFlight -= 1;
      });
  }
}
