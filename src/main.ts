/**
 * The one place that wires the server together: configuration, the model
 * registry, the inference service, the protocol servers, and signals.
 */
import { readFileSync } from 'node:fs';
import type { ServerConfig } from './config/server-config.js';
import { startGrpcServer } from './grpc/server.js';
import { startHttpServer } from './http/server.js';
import { InferenceService } from './inference/service.js';
import { ModelRegistry } from './models/registry.js';
import type { Logger } from './observability/logger.js';
import { projectFile } from './project-files.js';

export const SERVER_NAME = 'brisk';
export const SERVER_VERSION: string = (
  JSON.parse(readFileSync(projectFile('package.json'), 'utf8')) as { version: string }
).version;

export interface RunningServer {
  httpPort: number;
  grpcPort: number;
  service: InferenceService;
  /** Readiness off, in-flight requests answered, listeners closed, workers stopped. True if all finished in time. */
  shutdown(drainTimeoutSeconds: number): Promise<boolean>;
}

export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const registry = new ModelRegistry(config.modelRepository, log);
  const service = new InferenceService(registry, {
    name: SERVER_NAME,
    version: SERVER_VERSION,
    extensions: ['binary_tensor_data', 'statistics', 'model_repository'],
  });
  // Listen before loading: liveness answers at once, readiness once the models are in.
  const http = await startHttpServer(service, { host: config.host, port: config.httpPort, maxBodyBytes: config.maxBodyBytes }, log);
  const grpc = await startGrpcServer(
    service,
    {
      host: config.host,
      port: config.grpcPort,
      maxMessageBytes: config.grpcMaxMessageBytes,
      maxConcurrentStreams: config.grpcMaxConcurrentStreams,
    },
    log,
  );
  const ports = { httpPort: http.port, grpcPort: grpc.port };
  log.info(ports, 'listening');
  await registry.loadAll();
  const readiness = service.readiness();
  log.info({ ...ports, ready: readiness.ready, notReady: readiness.notReady }, 'serving');

  const shutdown = async (drainTimeoutSeconds: number): Promise<boolean> => {
    service.draining = true;
    const deadline = performance.now() + drainTimeoutSeconds * 1000;
    while (service.inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const drained = service.inFlight === 0;
    if (!drained) log.error({ abandoned: service.inFlight }, 'drain timeout: abandoning in-flight requests');
    http.close();
    await grpc.close(Math.max(0, deadline - performance.now()));
    await registry.close();
    return drained;
  };
  return { ...ports, service, shutdown };
}
