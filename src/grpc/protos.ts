/**
 * Loading the service definitions. The same options serve the server, the
 * tests' clients and the load generator, so every side sees the same shapes:
 * field names as in the .proto (snake_case), 64-bit integers as decimal
 * strings (exact for INT64 data), bytes as Buffers, defaults filled in.
 */
import { loadPackageDefinition, type GrpcObject } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { projectFile } from '../project-files.js';

export const PROTO_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

export const INFERENCE_PROTO = projectFile('protos', 'grpc_service.proto');
export const HEALTH_PROTO = projectFile('protos', 'health.proto');

export function loadServiceDefinitions(): { definition: PackageDefinition; grpcObject: GrpcObject } {
  const definition = loadSync([INFERENCE_PROTO, HEALTH_PROTO], PROTO_OPTIONS);
  return { definition, grpcObject: loadPackageDefinition(definition) };
}
