/**
 * The serving core's one API. Protocol adapters call it with the internal
 * request type and render what it returns; it knows nothing of HTTP or gRPC.
 */
import type { ModelRegistry, ReadinessReport } from '../models/registry.js';
import type { VersionStats } from '../scheduling/version-stats.js';
import type { InferRequest, InferResponse, ModelMetadata, ServerMetadata } from './types.js';
import { validateRequest } from './validate.js';

export const PLATFORM = 'onnxruntime_onnx';

export interface VersionStatsReport {
  name: string;
  version: string;
  stats: VersionStats;
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

  constructor(
    private readonly registry: ModelRegistry,
    private readonly server: ServerMetadata,
  ) {}

  serverMetadata(): ServerMetadata {
    return this.server;
  }

  readiness(): ReadinessReport & { draining: boolean } {
    const report = this.registry.readiness();
    return { ...report, ready: report.ready && !this.draining, draining: this.draining };
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
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
    this.registry.findReady(name, version);
  }

  async infer(request: InferRequest): Promise<InferResponse> {
    this.inFlight += 1;
    try {
      return await this.run(request);
    } finally {
      this.inFlight -= 1;
    }
  }

  private async run(request: InferRequest): Promise<InferResponse> {
    const model = this.registry.findReady(request.modelName, request.modelVersion);
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
    return versions.flatMap((v) => (v.scheduler ? [{ name: v.name, version: v.version, stats: v.scheduler.stats }] : []));
  }

  repositoryIndex(): IndexEntry[] {
    return this.registry.list().flatMap((model): IndexEntry[] => {
      if (model.versions.length === 0) {
        return [{ name: model.name, state: 'UNAVAILABLE', ...(model.problem ? { reason: model.problem } : {}) }];
      }
      return model.versions.map((v) => ({
        name: v.name,
        version: v.version,
        state: v.state,
        ...(v.reason ? { reason: v.reason } : {}),
      }));
    });
  }
}
