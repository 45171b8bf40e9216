/**
 * The transport ceiling for gRPC: a bare grpc-js server whose ModelInfer answers
 * at once with a fixed response of the size brisk's answer on the tiny model has
 * (the same model name, output name, datatype, shape and 40 bytes of contents),
 * running nothing. By default it decodes each request and encodes each answer
 * with proto-loader, as a grpc-js service does; with --bytes it decodes nothing
 * and answers the same response pre-encoded: grpc-js alone. Server options as
 * brisk's: 1024 streams a connection, channelz off.
 *
 * node dist/bench/grpc-echo-server.js [--port N] [--bytes]
 */
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadServiceDefinitions } from '../src/grpc/protos.js';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '0' }, bytes: { type: 'boolean', default: false } } });

const { grpcObject } = loadServiceDefinitions();
const service = ((grpcObject['inference'] as Record<string, unknown>)['GRPCInferenceService'] as ServiceClientConstructor).service;
const answer = {
  model_name: 'tiny_classifier',
  model_version: '1',
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 10] }],
  raw_output_contents: [Buffer.alloc(40)],
};
const server = new Server({ 'grpc.max_concurrent_streams': 1024, 'grpc.enable_channelz': 0 });
if (args.bytes) {
  const encoded = service['ModelInfer']!.responseSerialize(answer);
  const asBytes: ServiceDefinition = {
    ModelInfer: { ...service['ModelInfer']!, requestDeserialize: (bytes: Buffer) => bytes, responseSerialize: (bytes: Buffer) => bytes },
  };
  server.addService(asBytes, {
    ModelInfer: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, encoded),
  });
} else {
  server.addService(service, {
    ModelInfer: (call: ServerUnaryCall<{ id: string }, unknown>, callback: sendUnaryData<unknown>) =>
      callback(null, call.request.id ? { ...answer, id: call.request.id } : answer),
  });
}
server.bindAsync(`127.0.0.1:${Number(args.port)}`, ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  console.log(JSON.stringify({ msg: 'serving', grpcPort: port }));
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
