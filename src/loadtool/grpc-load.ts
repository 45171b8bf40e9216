/**
 * gRPC requests for the bench tool's load loop: unary ModelInfer calls with grpc-js,
 * spread over several channels (one HTTP/2 connection each).
 */
import { credentials, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadServiceDefinitions } from '../grpc/protos.js';
import { runLoop, type LoopOptions, type RawLoadResult } from './load-loop.js';

type InferenceClient = Client & {
  ModelInfer(request: unknown, callback: (error: ServiceError | null) => void): void;
  ModelMetadata(request: unknown, callback: (error: ServiceError | null, response: GrpcMetadata) => void): void;
};

interface GrpcMetadata {
  inputs: { name: string; datatype: string; shape: string[] }[];
}

export function inferenceClients(address: string, channels: number): InferenceClient[] {
  const { grpcObject } = loadServiceDefinitions();
  const Service = (grpcObject['inference'] as unknown as Record<string, new (...args: unknown[]) => InferenceClient>)['GRPCInferenceService']!;
  // A distinct option per channel keeps grpc-js from sharing one connection between them.
  return Array.from({ length: channels }, (_, i) => new Service(address, credentials.createInsecure(), { 'grpc.channel_id': i }));
}

export function grpcMetadata(client: InferenceClient, model: string): Promise<{ inputs: { name: string; datatype: string; shape: number[] }[] }> {
  return new Promise((resolve, reject) =>
    client.ModelMetadata({ name: model, version: '' }, (error, response) =>
      error ? reject(new Error(`ModelMetadata ${model}: ${error.details}`)) : resolve({ inputs: response.inputs.map((i) => ({ ...i, shape: i.shape.map(Number) })) }),
    ),
  );
}

export async function runGrpcLoad(clients: InferenceClient[], message: unknown, options: LoopOptions): Promise<RawLoadResult> {
  let next = 0;
  return runLoop((done) => {
    const client = clients[next++ % clients.length]!;
    client.ModelInfer(message, (error) => {
      if (!error) done('OK', 'success');
      // UNAVAILABLE without details is grpc-js failing to reach the server, not an answer from it.
      else done(status[error.code] ?? String(error.code), error.code !== status.UNAVAILABLE || error.details ? 'error' : 'none');
    });
  }, options);
}
