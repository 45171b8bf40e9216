/** A real grpc-js client of the server, loaded from the project's own protos with the server's options. */
import { createRequire } from 'node:module';
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { loadServiceDefinitions, PROTO_OPTIONS } from '../../src/grpc/protos.js';

type Constructor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options?: object) => Client;

function lookup(root: unknown, path: string): Constructor {
  let node = root;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  return node as Constructor;
}

export interface UnaryOptions {
  metadata?: Record<string, string>;
  deadlineMs?: number;
}

export class GrpcTestClient {
  readonly inference: Client & Record<string, Function>;
  readonly health: Client & Record<string, Function>;

  constructor(readonly address: string) {
    const { grpcObject } = loadServiceDefinitions();
    const options = { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 };
    this.inference = new (lookup(grpcObject, 'inference.GRPCInferenceService'))(address, credentials.createInsecure(), options) as never;
    this.health = new (lookup(grpcObject, 'grpc.health.v1.Health'))(address, credentials.createInsecure()) as never;
  }

  call<T = Record<string, unknown>>(method: string, request: unknown, options: UnaryOptions = {}, client = this.inference): Promise<T> {
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
    const callOptions = options.deadlineMs ? { deadline: Date.now() + options.deadlineMs } : {};
    return new Promise((resolve, reject) =>
      client[method]!(request, metadata, callOptions, (error: ServiceError | null, response: T) => (error ? reject(error) : resolve(response))),
    );
  }

  close(): void {
    this.inference.close();
    this.health.close();
  }
}

/** A client of the standard reflection service, from the proto that @grpc/reflection ships. */
export function reflectionClient(address: string): Client & Record<string, Function> {
  const require = createRequire(import.meta.url);
  const protoPath = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
  const definition = loadPackageDefinition(loadSync(protoPath, PROTO_OPTIONS));
  return new (lookup(definition, 'grpc.reflection.v1.ServerReflection'))(address, credentials.createInsecure()) as never;
}
