/**
 * The serving core's one API. Protocol adapters call it with the internal
 * request type and render what it returns; it knows nothing of HTTP or gRPC.
 */
import type { DriftMonitor } from '../drift/drift-monitor.js';
import type { DriftReport } from '../drift/drift-report.js';
import type { ReferenceProfile } from '../drift/reference-profile.js';
import { ERROR_CODES, ServingError, toServingError, type ErrorCode } from '../errors.js';
import type { ModelRegistry, ReadinessReport, ServingVersion } from '../models/registry.js';
import type { Role, ServerMetrics } from '../observability/metrics.js';
import { endSpan, startRequestSpan, tracingEnabled } from '../observability/tracing.js';
import type { Percentiles } from '../observability/windowed-histogram.js';
import type { RouteDecision, RouteOutcomeListener, Router } from '../routing/router.js';
import { ShadowRunner } from '../routing/shadow-runner.js';
import type { SubmitCallback } from '../scheduling/version-scheduler.js';
import type { VersionStats } from '../scheduling/version-stats.js';
import type { InferRequest, InferResponse, ModelMetadata, OutputTensor, Protocol, ServerMetadata } from '../types.js';
import { validateRequest } from './validate.js';

export const PLATFORM = 'onnxruntime_onnx';

const REST_SPAN = 'POST /v2/models/{model}/infer';
const GRPC_SPAN = 'inference.GRPCInferenceService/ModelInfer';

/** Each error code as a metrics outcome, made once rather than lower-cased per request. */
const OUTCOME = Object.fromEntries(ERROR_CODES.map((code) => [code, code.toLowerCase()])) as Record<ErrorCode, string>;

/** Called once per served request: with its answer, or with why there is none. */
export type InferCallback = (error: ServingError | undefined, response: InferResponse | undefined) => void;

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
  /**
   * Why the routes are not in force yet, while the server reads them from its route store (from
   * etcd, as long as etcd takes to answer); readiness fails meanwhile, since a request to a route's
   * name would go to a model of that name, not by the route's weights. Unset for callers with no routes.
   */
  routesPending: string | undefined = undefined;

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
      shadows: routing.makeShadows((request) => this.runShadow(request)),
      onOutcome: routing.onOutcome,
    };
  }

  serverMetadata(): ServerMetadata {
    return this.server;
  }

  readiness(): ReadinessReport & { draining: boolean; routes?: string } {
    const report = this.registry.readiness();
    const routes = this.routesPending;
    return { ...report, ready: report.ready && !this.draining && routes === undefined, draining: this.draining, ...(routes === undefined ? {} : { routes }) };
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
      target.scheduler.recorder?.requestDone(protocol, route ? route.role : 'primary', 'overloaded', 0);
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
    const outcome = OUTCOME[toServingError(error).code];
    const role = admission?.route ? admission.route.role : 'primary';
    if (admission) admission.target.scheduler.recorder?.requestDone(protocol, role, outcome, 0);
    else this.metrics?.requestDone('', '', protocol, role, outcome, 0);
  }

  /** Gives back an admission's lease; idempotent, and done by infer when it answers. */
  release(admission: Admission | undefined): void {
    if (!admission || admission.released) return;
    admission.released = true;
    admission.target.leases -= 1;
  }

  /** Serves one request; `admission` is what admit() gave for it, if it was admitted first. */
  infer(request: InferRequest, admission?: Admission): Promise<InferResponse> {
    return new Promise((resolve, reject) => {
      this.serve(request, admission, (error, response) => (error ? reject(error) : resolve(response!)));
    });
  }

  /**
   * Serves one request without a promise: synchronous up to its model's queue, then `done` is
   * called exactly once, with the answer or a ServingError (at once, when refused before queueing).
   * `admission` is what admit() gave for it, if it was admitted first.
   */
  serve(request: InferRequest, admission: Admission | undefined, done: InferCallback): void {
    this.dispatch(request, admission, undefined, done);
  }

  /**
   * A request on its way to one model version: the route decided at admission (or now),
   * shadow copies made before the primary's buffers move to a worker, and one completion
   * that counts, traces and answers it. `shadowRole` is set for shadow copies only.
   */
  private dispatch(request: InferRequest, admission: Admission | undefined, shadowRole: Role | undefined, done: InferCallback): void {
    // Shadow copies are no client's requests: the drain at shutdown and the in-flight gauge count clients'.
    const counted = shadowRole === undefined;
    if (counted) this.inFlight += 1;
    const started = performance.now();
    // A shadow copy is traced under the span its runner gave it, not as a request of its own.
    const span =
      shadowRole === undefined && tracingEnabled()
        ? startRequestSpan(request.protocol === 'grpc' ? GRPC_SPAN : REST_SPAN, request.traceparent, { 'brisk.model': request.modelName, 'brisk.protocol': request.protocol })
        : undefined;
    if (span) request.traceSpan = span;
    const routing = this.routing;
    let decision: RouteDecision | undefined;
    let role: Role = shadowRole ?? 'primary';
    let target: ServingVersion | undefined;
    let shadowed: ((outputs: OutputTensor[] | undefined) => void) | undefined;

    const finish: SubmitCallback = (error, outputs) => {
      if (counted) this.inFlight -= 1;
      this.release(admission);
      const outcome = error ? OUTCOME[error.code] : 'success';
      const seconds = error ? 0 : (performance.now() - started) / 1000;
      // Labels only from served models: a name a client made up never becomes a series.
      if (target) target.scheduler.recorder?.requestDone(request.protocol, role, outcome, seconds);
      else this.metrics?.requestDone('', '', request.protocol, role, outcome, 0);
      if (decision && routing?.onOutcome) routing.onOutcome(decision.route, decision.model, decision.version, decision.role, outcome, seconds);
      if (shadowed) shadowed(outputs);
      if (error) {
        endSpan(span, { code: error.code, message: error.message });
        done(error, undefined);
        return;
      }
      const response: InferResponse = {
        modelName: request.modelName,
        modelVersion: target!.version,
        id: request.id,
        parameters: undefined,
        outputs: outputs!,
        servedBy: decision ? target!.scheduler.key : undefined,
        requestedOutputs: request.outputs,
        requestParameters: request.parameters,
      };
      if (span) {
        span.setAttributes({ 'brisk.served_by': target!.scheduler.key, 'brisk.version': target!.version });
        endSpan(span);
      }
      done(undefined, response);
    };

    let scheduled;
    try {
      decision = admission ? admission.route : routing && shadowRole === undefined ? routing.router.decide(request.modelName, request.modelVersion, request.routingKey) : undefined;
      if (decision && shadowRole === undefined) role = decision.role;
      // The load admission checked, unless it has closed since (past its drain timeout): then the one in place.
      target =
        admission && !admission.target.closed
          ? admission.target
          : decision
            ? this.registry.findReady(decision.model, decision.version)
            : this.registry.findReady(request.modelName, request.modelVersion);
      scheduled = validateRequest(request, target.spec, target.scheduler.allOutputs);
    } catch (error) {
      finish(toServingError(error), undefined);
      return;
    }
    if (decision && decision.shadows.length > 0 && routing) shadowed = this.startShadows(routing.shadows, decision, request);
    target.scheduler.submit(scheduled, finish);
  }

  /**
   * Copies the request for each sampled shadow that is admitted, before the primary is queued
   * (the batcher hands the primary's buffers to a worker); returns what the primary's
   * completion calls with its outputs, so each copy is compared with them.
   */
  private startShadows(shadows: ShadowRunner, decision: RouteDecision, request: InferRequest): ((outputs: OutputTensor[] | undefined) => void) | undefined {
    let settle: ((outputs: OutputTensor[] | undefined) => void) | undefined;
    let primary: Promise<OutputTensor[] | undefined> | undefined;
    for (const shadow of decision.shadows) {
      if (!shadows.admit(decision.route, shadow)) continue;
      primary ??= new Promise((resolve) => (settle = resolve));
      shadows.run(decision.route, shadow, ShadowRunner.copyRequest(request, shadow), primary, request.traceSpan);
    }
    return settle;
  }

  /** A shadow copy: counted in the shadow role, answered only to the comparison. */
  private runShadow(request: InferRequest): Promise<InferResponse['outputs']> {
    return new Promise((resolve, reject) => {
      this.dispatch(request, undefined, 'shadow', (error, response) => (error ? reject(error) : resolve(response!.outputs)));
    });
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

  /** A version's drift report (its newest ready version without one named); CONFLICT when drift is off for it. */
  drift(name: string, version?: string): DriftReport {
    return this.driftOf(name, version).report();
  }

  private driftOf(name: string, version: string | undefined): DriftMonitor {
    const found = this.registry.findReady(name, version);
    if (!found.drift) {
      throw new ServingError('CONFLICT', `drift is off for model ${found.name} version ${found.version}: set "drift": {"enabled": true} in its config.json`);
    }
    return found.drift;
  }

  /** The reference a version's drift scores against, in the drift_reference.json format; CONFLICT until there is one. */
  driftReference(name: string, version?: string): ReferenceProfile {
    const drift = this.driftOf(name, version);
    const reference = drift.referenceProfile();
    if (!reference) {
      throw new ServingError(
        'CONFLICT',
        `model ${drift.model} version ${drift.version} has no drift reference yet: ${drift.report().reference_rows} of ${drift.settings.referenceRows} rows captured`,
      );
    }
    return reference;
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

  /** Drops a version's drift reference and window and captures a new reference (ModelRegistry.recaptureDrift). */
  recaptureDrift(name: string, version: string): Promise<{ model: string; version: string; state: 'capturing'; capture_rows: number }> {
    return this.registry.recaptureDrift(name, version);
  }

  /** Drains and unloads every version of a model (Triton's repository unload). */
  unloadModel(name: string): Promise<void> {
    return this.registry.unload(name);
  }
}
