/**
 * The transport ceiling for gRPC: a bare grpc-js server whose ModelInfer
 * answers at once with a fixed response, decoding the request as the real
 * server does but running nothing.
 *
 * node dist/bench/grpc-echo-server.js [port]
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadServiceDefinitions } from '../src/grpc/protos.js';

const { grpcObject } = loadServiceDefinitions();
const service = ((grpcObject['inference'] as Record<string, unknown>)['GRPCInferenceService'] as ServiceClientConstructor).service;
const answer = {
  model_name: 'echo',
  model_version: '1',
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 10] }],
  raw_output_contents: [Buffer.alloc(40)],
};
const server = new Server({ 'grpc.max_concurrent_streams': 1024 });
server.addService(service, {
  ModelInfer: (call: ServerUnaryCall<{ id: string }, unknown>, callback: sendUnaryData<unknown>) =>
    callback(null, { ...answer, id: call.request.id }),
});
server.bindAsync(`127.0.0.1:${Number(process.argv[2] ?? 0)}`, ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  console.log(JSON.stringify({ msg: 'serving', grpcPort: port }));
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
