/**
 * Triton's statistics and model repository extensions over gRPC: ModelStatistics,
 * RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload. The index and the
 * statistics are open, like their REST twins; load and unload need an admin token in
 * the `authorization` metadata ("Bearer …"), checked by RepositoryControl.
 */
import type { Metadata, sendUnaryData, ServerErrorResponse, ServerUnaryCall, UntypedHandleCall } from '@grpc/grpc-js';
import { refuseFileParameters, type RepositoryControl } from '../admin/repository-control.js';
import { invalidArgument, toServingError } from '../errors.js';
import { tritonModelStats } from '../http/stats-json.js';
import type { InferenceService, VersionStatsReport } from '../inference/service.js';
import type { GrpcModelStatisticsRequest, GrpcRepositoryIndexRequest, GrpcRepositoryModelRequest } from './messages.js';
import { GRPC_STATUS } from './status.js';

function toStatus(error: unknown): Partial<ServerErrorResponse> {
  const serving = toServingError(error);
  return { code: GRPC_STATUS[serving.code], details: serving.message };
}

/** A unary method whose handler may throw or reject; either becomes the call's status. */
const unary =
  <Req>(handler: (request: Req, metadata: Metadata) => unknown) =>
  (call: ServerUnaryCall<Req, unknown>, callback: sendUnaryData<unknown>): void => {
    new Promise((resolve) => resolve(handler(call.request, call.metadata))).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toStatus(error)),
    );
  };

const authorization = (metadata: Metadata): string => {
  const value = metadata.get('authorization')[0];
  return typeof value === 'string' ? value : '';
};

/** The config text in parameters["config"].string_param, if any; other parameters are ignored, as Triton does. */
function configParameter(request: GrpcRepositoryModelRequest): string | undefined {
  const parameters = request.parameters ?? {};
  refuseFileParameters(Object.keys(parameters));
  // Own properties only: a map key like "__proto__" must not reach the prototype.
  const config = Object.hasOwn(parameters, 'config') ? parameters['config'] : undefined;
  if (config === undefined) return undefined;
  if (config.parameter_choice !== 'string_param') {
    throw invalidArgument(`parameters["config"] must be a string_param holding the config.json text, not ${config.parameter_choice ?? 'empty'}`);
  }
  return config.string_param ?? '';
}

const ZERO = { count: 0, ns: 0 };

/**
 * Triton sets every duration of a ModelStatistics message; brisk measures no input or
 * output copies and has no response cache, so those are zero rather than absent (null).
 */
function modelStatistics(report: VersionStatsReport) {
  const stats = tritonModelStats(report);
  return {
    ...stats,
    inference_stats: { compute_input: ZERO, compute_output: ZERO, cache_hit: ZERO, cache_miss: ZERO, ...stats.inference_stats },
    batch_stats: stats.batch_stats.map((batch) => ({ compute_input: ZERO, compute_output: ZERO, ...batch })),
  };
}

/** The four methods, to be added to GRPCInferenceService's implementation. */
export function repositoryMethods(inference: InferenceService, control: RepositoryControl): Record<string, UntypedHandleCall> {
  return {
    ModelStatistics: unary((request: GrpcModelStatisticsRequest) => ({
      model_stats: inference.stats(request.name || undefined, request.version || undefined).map(modelStatistics),
    })),
    RepositoryIndex: unary((request: GrpcRepositoryIndexRequest) => ({
      // One repository: its name is not checked, as Triton does with a single repository.
      models: inference
        .repositoryIndex()
        .filter((entry) => !request.ready || entry.state === 'READY')
        .map((entry) => ({ name: entry.name, version: entry.version ?? '', state: entry.state, reason: entry.reason ?? '' })),
    })),
    RepositoryModelLoad: unary(async (request: GrpcRepositoryModelRequest, metadata) => {
      const token = control.authorize(authorization(metadata));
      await control.load(request.model_name, configParameter(request), token, 'grpc');
      return {};
    }),
    RepositoryModelUnload: unary(async (request: GrpcRepositoryModelRequest, metadata) => {
      const token = control.authorize(authorization(metadata));
      await control.unload(request.model_name, token, 'grpc');
      return {};
    }),
  };
}
