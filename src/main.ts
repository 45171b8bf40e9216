/**
 * The one place that wires the server together: configuration, the model
 * registry, the inference service, the protocol servers, and signals.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { ServerConfig } from './config/server-config.js';
import { ServingError } from './errors.js';
import { loadAdminTokens } from './admin/tokens.js';
import { startAdminServer } from './admin/server.js';
import { startGrpcServer } from './grpc/server.js';
import { startHttpServer } from './http/server.js';
import { ByteBudget } from './inference/byte-budget.js';
import { InferenceService } from './inference/service.js';
import { driftFigures, metricSources } from './metric-sources.js';
import { ModelRegistry } from './models/registry.js';
import { RepositoryPoller } from './models/repository-poller.js';
import type { Logger } from './observability/logger.js';
import { registerDriftMetrics } from './observability/drift-metrics.js';
import { ServerMetrics } from './observability/metrics.js';
import { startTracing, stopTracing, tracingEnabled, tracingRequested } from './observability/tracing.js';
import { projectFile } from './project-files.js';
import { loadConfiguredRoutes } from './routing/configured-routes.js';
import { LoadSignal } from './routing/load-signal.js';
import { openRouteStore } from './routing/open-route-store.js';
import { Router } from './routing/router.js';
import { ShadowRunner } from './routing/shadow-runner.js';
import { ShadowStatsTable } from './routing/shadow-stats.js';
import { RolloutController } from './rollout/rollout-controller.js';
import { RolloutMetrics } from './rollout/rollout-metrics.js';
import { ABANDONED_ANSWERS_MS, LATE_ANSWERS_MS, NO_LIMIT_BATCH_WAIT_MS } from './shutdown-budget.js';

export const SERVER_NAME = 'brisk';
export const SERVER_VERSION: string = (
  JSON.parse(readFileSync(projectFile('package.json'), 'utf8')) as { version: string }
).version;


/** BRISK_CONSOLE_SESSION_SECONDS: how long a console sign-in lasts (tests shorten it to see expiry). */
function consoleSession(env: NodeJS.ProcessEnv): { consoleSessionSeconds?: number } {
  const raw = env['BRISK_CONSOLE_SESSION_SECONDS'];
  if (raw === undefined || raw === '') return {};
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 7 * 86400) {
    throw new Error(`BRISK_CONSOLE_SESSION_SECONDS=${JSON.stringify(raw.slice(0, 32))} must be whole seconds from 1 to 604800 (a week)`);
  }
  return { consoleSessionSeconds: seconds };
}

export interface RunningServer {
  httpPort: number;
  grpcPort: number;
  /** Absent when no admin token is configured. */
  adminPort?: number;
  service: InferenceService;
  /**
   * Readiness off at once; serving goes on for the delay; then the listeners close, every
   * request that arrived is answered (HTTP keep-alive connections are closed after their
   * next answer) and the workers stop. True if everything was answered within the timeout,
   * which counts from the listeners' close.
   */
  shutdown(drainTimeoutSeconds: number, drainDelaySeconds?: number): Promise<boolean>;
}

export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  // Tests start tracing themselves with an in-memory exporter; otherwise the OTEL_* variables decide.
  if (!tracingEnabled() && tracingRequested(process.env)) {
    startTracing();
    log.info('tracing on (OpenTelemetry, configured by OTEL_* variables)');
  }
  // Fails the start early on an unreadable token file rather than serving without an admin API.
  const adminTokens = loadAdminTokens(config.adminToken, config.adminTokenFile);
  const shadowStats = new ShadowStatsTable();
  const loadSignal = new LoadSignal();
  const budget = new ByteBudget(config.maxInflightBytes);
  const cores = os.availableParallelism();
  // The sources are read at scrape time, when `registry` and `service` exist.
  const metrics = config.metrics
    ? new ServerMetrics(metricSources(() => registry, () => service, shadowStats, cores, budget), {
        pricePerHour: config.costPerHour,
        cores,
        startedAtMs: performance.now(),
      })
    : undefined;
  const shared = openRouteStore(config, log, metrics?.registry);
  const routes = shared.store;
  if (metrics) registerDriftMetrics(metrics.registry, () => driftFigures(() => registry));
  const registry: ModelRegistry = new ModelRegistry(config.modelRepository, log, metrics, {
    drainTimeoutMs: config.drainTimeoutSeconds * 1000,
    loadTimeoutMs: config.modelLoadTimeoutSecs * 1000,
    // A version a route targets or shadows is not unloaded (409) until the route stops using it.
    usedBy: (model, version) => routes.usedBy(model, version),
  });
  const rollouts = new RolloutController({
    store: routes,
    shadowStats,
    servable: (model, version) => registry.servable(model, version),
    // The same inputs and outputs, or a client's valid request would be refused by the canary.
    signature: (model, version) => {
      try {
        const { inputs, outputs } = service.modelMetadata(model, version);
        return JSON.stringify({ inputs, outputs });
      } catch {
        return undefined;
      }
    },
    stateDir: config.stateDir,
    ...shared.rollouts,
    log,
    ...(metrics ? { metrics: new RolloutMetrics(metrics.registry) } : {}),
  });
  const service: InferenceService = new InferenceService(
    registry,
    { name: SERVER_NAME, version: SERVER_VERSION, extensions: ['binary_tensor_data', 'statistics', 'model_repository'] },
    {
      router: new Router(routes),
      // Every routed request's outcome: the rollouts judge their canaries from it.
      onOutcome: rollouts.onOutcome,
      makeShadows: (execute) =>
        new ShadowRunner(
          {
            maxInFlight: config.shadowMaxInFlight,
            timeoutUs: config.shadowTimeoutMs * 1000,
            maxLoad: config.shadowMaxLoad,
            load: () => loadSignal.utilization,
          },
          shadowStats,
          execute,
        ),
    },
    metrics,
  );
  // Not ready until the routes are read too: set before listening, so no probe sees a gap.
  service.routesPending = `the routes have not been read from the route store (${config.routeStore}) yet`;
  // Listen before loading: liveness answers at once, readiness once the models and the routes are in.
  const http = await startHttpServer(
    service,
    {
      host: config.host,
      port: config.httpPort,
      maxBodyBytes: config.maxBodyBytes,
      ...(metrics ? { renderMetrics: () => metrics.render() } : {}),
      budget,
      bodyTimeoutMs: config.bodyTimeoutMs,
      adminTokens,
    },
    log,
  );
  const grpc = await startGrpcServer(
    service,
    {
      host: config.host,
      port: config.grpcPort,
      maxMessageBytes: config.grpcMaxMessageBytes,
      maxConcurrentStreams: config.grpcMaxConcurrentStreams,
      budget,
      adminTokens,
    },
    log,
  );
  // The poller's first snapshot comes before the first load reads the repository, so a change
  // made while the server starts (a file still being copied in) is acted on afterwards.
  const poller =
    config.repositoryPollSecs > 0 ? new RepositoryPoller(config.modelRepository, registry, config.repositoryPollSecs * 1000, log) : undefined;
  await registry.loadAll();
  poller?.start();
  log.info({ httpPort: http.port, grpcPort: grpc.port, routeStore: config.routeStore }, 'models loaded; reading the routes (not ready until they are read)');
  await routes.load(loadConfiguredRoutes(config.modelRepository, (model, version) => registry.servable(model, version), log));
  service.routesPending = undefined;
  // After the routes and models: a rollout in progress resumes at its step, with a fresh interval.
  // With replicas, only the elected leader runs them (from its election on).
  if (shared.leader) shared.leader.start(() => rollouts.load(), () => rollouts.stop());
  else await rollouts.load();
  const admin = adminTokens.length
    ? await startAdminServer(
        { store: routes, shadowStats, servable: (model, version) => registry.servable(model, version), service, rollouts, registry },
        { host: config.adminHost, port: config.adminPort, tokens: adminTokens, ...consoleSession(process.env) },
        log,
      )
    : undefined;
  if (!admin) log.warn('admin API not started: no ADMIN_TOKEN and no --admin-token-file');
  const ports = { httpPort: http.port, grpcPort: grpc.port, ...(admin ? { adminPort: admin.port } : {}) };
  const readiness = service.readiness();
  log.info({ ...ports, ready: readiness.ready, notReady: readiness.notReady }, 'serving');

  const shutdown = async (drainTimeoutSeconds: number, drainDelaySeconds = 0): Promise<boolean> => {
    // Readiness fails at once while serving goes on: load balancers stop sending before the listeners close.
    service.draining = true;
    // No rollout decision is taken while draining: the saved state resumes on the next start.
    const rolloutsStopped = rollouts.stop();
    // Another replica takes the rollouts over once a decision being applied is saved; the routes
    // stay as they were, served from memory.
    const leadershipReleased = rolloutsStopped.then(() => shared.leader?.stop());
    // No loads or unloads start once shutdown has begun.
    poller?.stop();
    registry.refuseChanges();
    if (drainDelaySeconds > 0) await new Promise((r) => setTimeout(r, drainDelaySeconds * 1000));
    const deadline = performance.now() + drainTimeoutSeconds * 1000;
    admin?.close();
    // GOAWAY now, so that clients stop sending; the forced close comes only after the answers to
    // requests abandoned at the deadline have gone out.
    const grpcClosed = grpc.close(Math.max(0, deadline - performance.now()) + ABANDONED_ANSWERS_MS);
    const httpClosed = http.close(deadline);
    log.info('listeners closed; each HTTP keep-alive connection closes after its next answer');
    const httpAnswered = await httpClosed;
    while (service.inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const drained = httpAnswered && service.inFlight === 0;
    if (service.inFlight > 0) {
      const queued = registry.abandonQueued(new ServingError('SHUTTING_DOWN', 'the server is shutting down'));
      log.error({ abandoned: service.inFlight, queued, running: registry.runningBatches() }, 'drain timeout: abandoning in-flight requests');
    } else if (!httpAnswered) {
      log.error('drain timeout: cutting off HTTP bodies still arriving or answers still being sent');
    }
    await grpcClosed;
    // A decision that was being applied when shutdown began is saved before the process ends.
    await leadershipReleased;
    // A worker stopped inside ONNX Runtime's native run takes the process down with it
    // (the binding throws during thread teardown): running batches end first. Those running at the
    // drain timeout started before it: by the longest batch_timeout_ms after it the watchdog has
    // answered them, so that bounds the wait (the grace periods in deploy/ count it: shutdown-budget.ts).
    const batchesDeadline = deadline + registry.longestBatchTimeoutMs(NO_LIMIT_BATCH_WAIT_MS);
    while (registry.runningBatches() > 0 && performance.now() < batchesDeadline) await new Promise((r) => setTimeout(r, 20));
    if (registry.runningBatches() > 0) log.error({ running: registry.runningBatches() }, 'batches still running past their batch_timeout_ms: ending their workers');
    await registry.close();
    // Requests that came on an idle connection after the quiet period have been answered
    // (with an error once the models closed); the last of those answers leave first.
    const lateDeadline = performance.now() + LATE_ANSWERS_MS;
    while (http.openResponses() > 0 && performance.now() < lateDeadline) await new Promise((r) => setTimeout(r, 10));
    loadSignal.stop();
    await routes.close();
    await stopTracing();
    return drained;
  };
  return { ...ports, service, shutdown };
}
