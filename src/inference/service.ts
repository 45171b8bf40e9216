/**
 * The serving core's one API. Protocol adapters call it with the internal
 * request type and render what it returns; it knows nothing of HTTP or gRPC.
 */
import { toServingError } from '../errors.js';
import type { ModelRegistry, ReadinessReport, ServingVersion } from '../models/registry.js';
import type { Role, ServerMetrics } from '../observability/metrics.js';
import { endSpan, startRequestSpan } from '../observability/tracing.js';
import type { Percentiles } from '../observability/windowed-histogram.js';
import type { RouteDecision, RouteOutcomeListener, Router } from '../routing/router.js';
import { ShadowRunner } from '../routing/shadow-runner.js';
import type { VersionStats } from '../scheduling/version-stats.js';
import type { InferRequest, InferResponse, ModelMetadata, Protocol, ServerMetadata } from '../types.js';
import { validateRequest } from './validate.js';

export const PLATFORM = 'onnxruntime_onnx';

/**
 * A request admitted before its body was read or its tensors decoded: the route
 * decision and the version load it was checked at. The load holds a lease until
 * the request is answered (or released unanswered), so it is not closed under it.
 */
export interface Admission {
  route?: RouteDecision;
  target: ServingVersion;
  released: boolean;
}

export interface VersionStatsReport {
  name: string;
  version: string;
  stats: VersionStats;
  /** What clients waited for (primary and canary); shadow copies are in `recentShadow`. */
  recent?: Percentiles;
  recentShadow?: Percentiles;
  cost?: { compute: number; allocated: number };
}

export interface IndexEntry {
  name: string;
  version?: string;
  state: string;
  reason?: string;
}

export class InferenceService {
  /** Set when shutdown begins: readiness turns false while requests still finish. */
  draining = false;
  /** Inference requests accepted and not yet answered. */
  inFlight = 0;

  private readonly routing: { router: Router; shadows: ShadowRunner; onOutcome: RouteOutcomeListener | undefined } | undefined;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly server: ServerMetadata,
    routing?: {
      router: Router;
      makeShadows: (execute: (request: InferRequest) => Promise<InferResponse['outputs']>) => ShadowRunner;
      /** Told the outcome of every request a route sent to a target (progressive rollouts judge from it). */
      onOutcome?: RouteOutcomeListener;
    },
    private readonly metrics?: ServerMetrics,
  ) {
    this.routing = routing && {
      router: routing.router,
      shadows: routing.makeShadows(async (request) => (await this.run(request, 'shadow')).outputs),
      onOutcome: routing.onOutcome,
    };
  }

  serverMetadata(): ServerMetadata {
    return this.server;
  }

  readiness(): ReadinessReport & { draining: boolean } {
    const report = this.registry.readiness();
    return { ...report, ready: report.ready && !this.draining, draining: this.draining };
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const routed = this.routing?.router.decide(name, version, undefined);
    if (routed && !this.registry.has(name)) {
      // A route that is not also a model describes itself by its primary target.
      return { ...this.modelMetadata(routed.model, routed.version), name, versions: [] };
    }
    const found = this.registry.findReady(name, version);
    const versions = version
      ? [found.version]
      : this.registry.versionsOf(name).filter((v) => v.state === 'READY').map((v) => v.version);
    return {
      name,
      versions,
      platform: PLATFORM,
      inputs: found.spec.inputs,
      outputs: found.spec.outputs,
    };
  }

  /** Throws (NOT_FOUND, MODEL_NOT_READY, INVALID_ARGUMENT) when the model version cannot serve. */
  checkModelReady(name: string, version?: string): void {
    if (this.routing?.router.decide(name, version, undefined)) return;
    this.registry.findReady(name, version);
  }

  /**
   * Refuses, before a request is read or decoded, what would be refused anyway: an
   * unknown or unready model, or one whose queue is full (OVERLOADED, counted as if
   * refused at the queue). Under overload a refusal must cost little, or refusing
   * the excess takes the I/O thread from the requests that are served. A route is
   * decided here and checked at its target. The admission is handed to infer with the
   * request, so that it is served where it was admitted, and holds a lease on
   * that version load: whoever admits must pass it to infer, or release it.
   */
  admit(name: string, version: string | undefined, routingKey: string | undefined, protocol: Protocol): Admission {
    let route;
    let target;
    try {
      route = this.routing?.router.decide(name, version, routingKey);
      target = route ? this.registry.findReady(route.model, route.version) : this.registry.findReady(name, version);
    } catch (error) {
      this.refused(undefined, protocol, error);
      throw error;
    }
    if (target.scheduler.full) {
      this.metrics?.requestDone(target.name, target.version, protocol, route?.role ?? 'primary', 'overloaded', 0);
      if (route) this.routing?.onOutcome?.(route.route, route.model, route.version, route.role, 'overloaded', 0);
      throw target.scheduler.refuse();
    }
    target.leases += 1;
    return route ? { route, target, released: false } : { target, released: false };
  }

  /**
   * Counts a request answered with `error` before it reached infer (refused at admission, or
   * its body too large, too slow, malformed or without room in the byte budget) and gives back
   * its admission. Without one no served model was known yet: it is counted under model=""
   * version="", so a name a client made up never becomes a series.
   */
  refused(admission: Admission | undefined, protocol: Protocol, error: unknown): void {
    this.release(admission);
    const target = admission?.target;
    const outcome = toServingError(error).code.toLowerCase();
    this.metrics?.requestDone(target?.name ?? '', target?.version ?? '', protocol, admission?.route?.role ?? 'primary', outcome, 0);
  }

  /** Gives back an admission's lease; idempotent, and done by infer when it answers. */
  release(admission: Admission | undefined): void {
    if (!admission || admission.released) return;
    admission.released = true;
    admission.target.leases -= 1;
  }

  /** Serves one request; `admission` is what admit() gave for it, if it was admitted first. */
  async infer(request: InferRequest, admission?: Admission): Promise<InferResponse> {
    this.inFlight += 1;
    const span = startRequestSpan(
      request.protocol === 'grpc' ? 'inference.GRPCInferenceService/ModelInfer' : 'POST /v2/models/{model}/infer',
      request.traceparent,
      { 'brisk.model': request.modelName, 'brisk.protocol': request.protocol },
    );
    if (span) request.traceSpan = span;
    try {
      const response = await this.route(request, admission);
      span?.setAttributes({ 'brisk.served_by': response.servedBy ?? `${response.modelName}/${response.modelVersion}`, 'brisk.version': response.modelVersion });
      endSpan(span);
      return response;
    } catch (error) {
      const serving = toServingError(error);
      endSpan(span, { code: serving.code, message: serving.message });
      throw error;
    } finally {
      this.inFlight -= 1;
      this.release(admission);
    }
  }

  /** A route name is resolved to a target; sampled shadows get copies that run beside the primary. */
  private async route(request: InferRequest, admission: Admission | undefined): Promise<InferResponse> {
    const decision = admission ? admission.route : this.routing?.router.decide(request.modelName, request.modelVersion, request.routingKey);
    const admitted = admission?.target;
    if (!this.routing || !decision) return this.run(request, 'primary', admitted);
    const { shadows } = this.routing;
    // Copied before the primary is queued: the batcher hands the primary's buffers to a worker.
    const copies = decision.shadows
      .filter((shadow) => shadows.admit(decision.route, shadow))
      .map((shadow) => ({ shadow, copy: ShadowRunner.copyRequest(request, shadow) }));
    const primary = this.run({ ...request, modelName: decision.model, modelVersion: decision.version }, decision.role, admitted);
    for (const { shadow, copy } of copies) {
      shadows.run(decision.route, shadow, copy, primary.then((r) => r.outputs, () => undefined), request.traceSpan);
    }
    const { onOutcome } = this.routing;
    const started = onOutcome ? performance.now() : 0;
    let response;
    try {
      response = await primary;
    } catch (error) {
      onOutcome?.(decision.route, decision.model, decision.version, decision.role, toServingError(error).code.toLowerCase(), 0);
      throw error;
    }
    onOutcome?.(decision.route, decision.model, decision.version, decision.role, 'success', (performance.now() - started) / 1000);
    return { ...response, modelName: request.modelName, servedBy: `${decision.model}/${decision.version}` };
  }

  /** One request on one model version, counted in the metrics with its outcome. */
  private async run(request: InferRequest, role: Role = 'primary', admitted?: ServingVersion): Promise<InferResponse> {
    const started = performance.now();
    // Labels only from served models: a name a client made up never becomes a series.
    let labels = { model: '', version: '' };
    try {
      const response = await this.runOnModel(request, admitted, (model, version) => (labels = { model, version }));
      this.metrics?.requestDone(labels.model, labels.version, request.protocol, role, 'success', (performance.now() - started) / 1000);
      return response;
    } catch (error) {
      this.metrics?.requestDone(labels.model, labels.version, request.protocol, role, toServingError(error).code.toLowerCase(), 0);
      throw error;
    }
  }

  private async runOnModel(
    request: InferRequest,
    admitted: ServingVersion | undefined,
    resolved: (model: string, version: string) => void,
  ): Promise<InferResponse> {
    // The load admission checked, unless it has closed since (past its drain timeout): then the one in place.
    const model = admitted && !admitted.closed ? admitted : this.registry.findReady(request.modelName, request.modelVersion);
    resolved(model.name, model.version);
    const scheduled = validateRequest(request, model.spec);
    const outputs = await model.scheduler.submit(scheduled);
    return {
      modelName: request.modelName,
      modelVersion: model.version,
      ...(request.id !== undefined ? { id: request.id } : {}),
      outputs,
      ...(request.outputs ? { requestedOutputs: request.outputs } : {}),
      requestParameters: request.parameters,
    };
  }

  stats(name?: string, version?: string): VersionStatsReport[] {
    const versions = name
      ? version
        ? [this.registry.find(name, version)]
        : this.registry.versionsOf(name)
      : this.registry.list().flatMap((m) => m.versions);
    const costs = this.metrics?.costs() ?? [];
    return versions.flatMap((v) => {
      if (!v.scheduler) return [];
      const cost = costs.find((c) => c.key === `${v.name}/${v.version}`);
      return [
        {
          name: v.name,
          version: v.version,
          stats: v.scheduler.stats,
          ...(this.metrics ? { recent: this.metrics.recent(v.name, v.version), recentShadow: this.metrics.recent(v.name, v.version, 'shadow') } : {}),
          ...(cost ? { cost: { compute: cost.compute, allocated: cost.allocated } } : {}),
        },
      ];
    });
  }

  /** Every model version with its state; a version that serves on after a failed reload says why in `reason`. */
  repositoryIndex(): IndexEntry[] {
    return this.registry.list().flatMap((model): IndexEntry[] => {
      if (model.versions.length === 0) {
        return [{ name: model.name, state: 'UNAVAILABLE', ...(model.problem ? { reason: model.problem } : {}) }];
      }
      return model.versions.map((v) => {
        const reason = v.state === 'READY' ? model.loadError : v.reason;
        return { name: v.name, version: v.version, state: v.state, ...(reason ? { reason } : {}) };
      });
    });
  }

  /** Loads or reloads a model (Triton's repository load); `configText` replaces its config.json for this load. */
  loadModel(name: string, configText?: string): Promise<void> {
    return this.registry.load(name, configText);
  }

  /** Drains and unloads every version of a model (Triton's repository unload). */
  unloadModel(name: string): Promise<void> {
    return this.registry.unload(name);
  }
}
