/**
 * The Open Inference Protocol over gRPC (inference.GRPCInferenceService), the
 * standard health service and server reflection, on @grpc/grpc-js. Like the
 * REST adapter it only decodes and renders; the InferenceService decides.
 */
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type GrpcObject,
  type ServerDuplexStream,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceClientConstructor,
  type ServiceDefinition,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { RepositoryControl } from '../admin/repository-control.js';
import type { AdminToken } from '../admin/tokens.js';
import { invalidArgument, ServingError, toServingError } from '../errors.js';
import { decodedTensorBytes, type ByteBudget, type Reservation } from '../inference/byte-budget.js';
import type { Admission, InferenceService } from '../inference/service.js';
import { Cancellation, type InferRequest } from '../types.js';
import type { Logger } from '../observability/logger.js';
import { estimateDeserializedBytes } from './deserialized-size.js';
import { toInferRequest } from './infer-request.js';
import { encodeInferResponse, encodeStreamError, encodeStreamInferResponse } from './infer-response.js';
import { readModelInferRequest, type ModelInferMessage } from './model-infer-message.js';
import { loadServiceDefinitions } from './protos.js';
import { repositoryMethods } from './repository.js';
import { GRPC_STATUS } from './status.js';

export interface GrpcServerOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  maxConcurrentStreams: number;
  /** Bytes of requests held at once, shared with the other protocols. */
  budget: ByteBudget;
  /** Tokens for RepositoryModelLoad and RepositoryModelUnload; with none, they are refused (PERMISSION_DENIED). */
  adminTokens: readonly AdminToken[];
}

export interface RunningGrpcServer {
  port: number;
  /** Stops accepting calls, lets running ones finish until the deadline, then cuts the rest. */
  close(deadlineMs: number): Promise<void>;
}

const INFERENCE_SERVICE = 'inference.GRPCInferenceService';

function toStatus(error: unknown): Partial<ServerErrorResponse> {
  const serving = toServingError(error);
  return { code: GRPC_STATUS[serving.code], details: serving.message };
}

const firstValue = (metadata: Metadata, key: string): string | undefined => {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
};

/** µs left until the call's deadline, if it has one. */
function deadlineUs(call: ServerUnaryCall<unknown, unknown> | ServerDuplexStream<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return undefined;
  return Math.max(1, Math.round((at - Date.now()) * 1000));
}

function service(grpcObject: GrpcObject, path: string): ServiceClientConstructor {
  let node: unknown = grpcObject;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  return node as ServiceClientConstructor;
}

/**
 * The inference methods take their messages as received and answer with bytes: the
 * handler asks the byte budget before reading a message (model-infer-message.ts, then
 * infer-request.ts, decode it straight into the internal request), answers a malformed
 * one INVALID_ARGUMENT itself (grpc-js would answer INTERNAL), and encodes its answer
 * itself (infer-response.ts), so that the budget knows its size. Messages waiting to be
 * read are only their bytes. The other methods keep proto-loader's (de)serializers.
 */
function asBytes(definition: ServiceDefinition, methods: readonly string[]): ServiceDefinition {
  return Object.fromEntries(
    Object.entries(definition).map(([method, original]) => [
      method,
      methods.includes(method) ? { ...original, requestDeserialize: (bytes: Buffer) => bytes, responseSerialize: (bytes: Buffer) => bytes } : original,
    ]),
  ) as ServiceDefinition;
}

/**
 * Requests a ModelStreamInfer call may have unanswered. Past it, or while answers wait for
 * the client to read them, the stream is not read: the requests stay on the client's side,
 * held back by HTTP/2 flow control. Enough to keep batches full.
 */
const STREAM_MAX_IN_FLIGHT = 128;

export async function startGrpcServer(inference: InferenceService, options: GrpcServerOptions, log: Logger): Promise<RunningGrpcServer> {
  const { definition, grpcObject } = loadServiceDefinitions();
  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': -1,
    'grpc.max_concurrent_streams': options.maxConcurrentStreams,
    // Per-call bookkeeping (call counts, timestamps) for a channelz service this server does not offer.
    'grpc.enable_channelz': 0,
  });

  const inferenceService = service(grpcObject, INFERENCE_SERVICE).service;

  /**
   * A received message read off the wire once the byte budget holds room for what decoding it
   * may allocate: a message that could never fit is RESOURCE_EXHAUSTED before any of it is read.
   * Refusals are counted under no model (none is known yet).
   */
  const readMessage = (bytes: Buffer, reservation: Reservation): ModelInferMessage => {
    try {
      reservation.grow(estimateDeserializedBytes(bytes));
      return readModelInferRequest(bytes);
    } catch (error) {
      const refusal = error instanceof ServingError ? error : invalidArgument(`malformed request message: ${error instanceof Error ? error.message : String(error)}`);
      inference.refused(undefined, 'grpc', refusal);
      throw refusal;
    }
  };

  /**
   * Admits a read message: unknown, unready and overloaded models are refused before the
   * tensors are decoded, as over REST (admit counts these).
   */
  const admit = (message: ModelInferMessage, routingKey: string | undefined): Admission =>
    inference.admit(message.modelName, message.modelVersion || undefined, routingKey, 'grpc');

  /** The request an admitted message holds, its tensors decoded; the caller releases `reservation` if it throws. */
  const decode = (
    message: ModelInferMessage,
    call: ServerUnaryCall<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
    routingKey: string | undefined,
    admission: Admission,
    reservation: Reservation,
  ): InferRequest => {
    let request;
    try {
      request = toInferRequest(message, {
        messageBytes: options.maxMessageBytes,
        deadlineUs: deadlineUs(call),
        routingKey,
        traceparent: firstValue(call.metadata, 'traceparent'),
      });
    } catch (error) {
      inference.refused(admission, 'grpc', error);
      throw error;
    }
    // A queued call holds its message and the tensors decoded out of it (raw contents are views of it).
    reservation.set(message.bytes.length + decodedTensorBytes(request.inputs, message.bytes));
    return request;
  };

  const unary =
    <Req, Res>(handler: (request: Req) => Res) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      try {
        callback(null, handler(call.request));
      } catch (error) {
        callback(toStatus(error));
      }
    };

  const logUnexpected = (error: unknown): void => {
    // A ServingError with a cause wraps something thrown that nobody expected.
    if (!(error instanceof ServingError)) log.error({ err: error }, 'gRPC inference failed unexpectedly');
    else if (error.cause !== undefined) log.error({ err: error.cause }, 'gRPC inference failed unexpectedly');
  };

  server.addService(asBytes(inferenceService, ['ModelInfer', 'ModelStreamInfer']), {
    ServerLive: unary(() => ({ live: true })),
    ServerReady: unary(() => ({ ready: inference.readiness().ready })),
    ModelReady: unary((request: { name: string; version: string }) => {
      try {
        inference.checkModelReady(request.name, request.version || undefined);
        return { ready: true };
      } catch (error) {
        if (error instanceof ServingError && error.code === 'MODEL_NOT_READY') return { ready: false };
        throw error;
      }
    }),
    ServerMetadata: unary(() => inference.serverMetadata()),
    ModelMetadata: unary((request: { name: string; version: string }) =>
      inference.modelMetadata(request.name, request.version || undefined),
    ),
    ...repositoryMethods(inference, new RepositoryControl(inference, options.adminTokens, log)),
    ModelInfer: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
      const reservation = options.budget.reserve();
      let admission;
      let request;
      try {
        const message = readMessage(call.request, reservation);
        const routingKey = firstValue(call.metadata, 'x-routing-key');
        admission = admit(message, routingKey);
        request = decode(message, call, routingKey, admission, reservation);
      } catch (error) {
        reservation.release();
        logUnexpected(error);
        callback(toStatus(error));
        return;
      }
      const cancellation = new Cancellation();
      request.cancellation = cancellation;
      call.on('cancelled', () => cancellation.cancel());
      const fail = (error: unknown): void => {
        reservation.release();
        logUnexpected(error);
        callback(toStatus(error));
      };
      // No promise per call: the service answers through one callback.
      inference.serve(request, admission, (error, response) => {
        if (error) {
          fail(error);
          return;
        }
        let encoded;
        try {
          encoded = encodeInferResponse(response!);
        } catch (encodeError) {
          fail(encodeError);
          return;
        }
        // The answer counts instead of the request until it is handed over.
        reservation.set(encoded.length);
        if (response!.servedBy) {
          // The target a route chose travels in the trailers, as a response header does over REST.
          const trailers = new Metadata();
          trailers.set('x-served-by', response!.servedBy);
          callback(null, encoded, trailers);
        } else {
          callback(null, encoded);
        }
        reservation.release();
      });
    },
    ModelStreamInfer: (call: ServerDuplexStream<Buffer, Buffer>) => {
      // Each request is answered on the stream as it finishes, in any order, with its id.
      const inFlight = new Set<Cancellation>();
      // Held until grpc-js has handed the answer to HTTP/2; a cancelled call never calls back.
      const unwritten = new Set<Reservation>();
      let writesBlocked = false;
      let inputEnded = false;
      // Reading stops while too many requests are unanswered or answers wait for the client to read.
      const flow = (): void => {
        if (writesBlocked || inFlight.size >= STREAM_MAX_IN_FLIGHT) call.pause();
        else call.resume();
      };
      const finishIfDone = (): void => {
        if (inputEnded && inFlight.size === 0 && !call.cancelled) call.end();
      };
      const answer = (reply: Buffer, reservation: Reservation, cancellation: Cancellation): void => {
        inFlight.delete(cancellation);
        if (call.cancelled || call.destroyed) {
          reservation.release();
        } else {
          unwritten.add(reservation);
          const more = call.write(reply, () => {
            unwritten.delete(reservation);
            reservation.release();
          });
          if (!more) writesBlocked = true;
        }
        flow();
        finishIfDone();
      };
      call.on('drain', () => {
        writesBlocked = false;
        flow();
      });
      call.on('cancelled', () => {
        for (const cancellation of inFlight) cancellation.cancel();
        for (const reservation of unwritten) reservation.release();
      });
      // Metadata is the call's, the same for every request on it.
      const routingKey = firstValue(call.metadata, 'x-routing-key');
      call.on('data', (bytes: Buffer) => {
        const reservation = options.budget.reserve();
        const cancellation = new Cancellation();
        inFlight.add(cancellation);
        flow();
        let id = '';
        const fail = (error: unknown): void => {
          reservation.release();
          logUnexpected(error);
          answer(encodeStreamError(toServingError(error).message, id), reservation, cancellation);
        };
        let admission;
        let request;
        try {
          const message = readMessage(bytes, reservation);
          id = message.id;
          admission = admit(message, routingKey);
          request = decode(message, call, routingKey, admission, reservation);
        } catch (error) {
          // Answered in a later tick, as every other answer: the stream's reading stays in step with flow().
          queueMicrotask(() => fail(error));
          return;
        }
        request.cancellation = cancellation;
        inference.infer(request, admission).then((response) => {
          let reply;
          try {
            reply = encodeStreamInferResponse(response);
          } catch (error) {
            fail(error);
            return;
          }
          reservation.set(reply.length);
          answer(reply, reservation, cancellation);
        }, fail);
      });
      call.on('end', () => {
        inputEnded = true;
        finishIfDone();
      });
    },
  });

  const endHealthWatches = addHealthService(server, grpcObject, inference);
  new ReflectionService(definition).addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(new Error(`cannot listen on ${options.host}:${options.port} for gRPC: ${error.message}`)) : resolve(bound),
    );
  });

  return {
    port,
    close: (deadlineMs) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), deadlineMs);
        // Watch streams never end by themselves: they would hold the shutdown until the forced close.
        endHealthWatches();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

type HealthStatus = 'SERVING' | 'NOT_SERVING';

/**
 * grpc.health.v1.Health: '' and the inference service report the server's readiness.
 * Returns what ends the open Watch streams (with NOT_SERVING), for shutdown.
 */
function addHealthService(server: Server, grpcObject: GrpcObject, inference: InferenceService): () => void {
  const watches = new Set<() => void>();
  const known = new Set(['', INFERENCE_SERVICE]);
  const current = (): HealthStatus => (inference.readiness().ready ? 'SERVING' : 'NOT_SERVING');
  server.addService(service(grpcObject, 'grpc.health.v1.Health').service, {
    Check: (call: ServerUnaryCall<{ service: string }, unknown>, callback: sendUnaryData<unknown>) => {
      if (!known.has(call.request.service)) {
        callback({ code: status.NOT_FOUND, details: `unknown service ${call.request.service}` });
        return;
      }
      callback(null, { status: current() });
    },
    Watch: (call: ServerWritableStream<{ service: string }, unknown>) => {
      if (!known.has(call.request.service)) {
        call.write({ status: 'SERVICE_UNKNOWN' });
        return;
      }
      let last: HealthStatus | undefined;
      const report = (): void => {
        const now = current();
        if (now !== last && !call.cancelled) call.write({ status: now });
        last = now;
      };
      report();
      // Readiness changes rarely (load, drain); a second is quick enough for probes.
      const timer = setInterval(report, 1000);
      const end = (): void => {
        clearInterval(timer);
        watches.delete(end);
        if (call.cancelled) return;
        if (last !== 'NOT_SERVING') call.write({ status: 'NOT_SERVING' });
        call.end();
      };
      watches.add(end);
      call.on('cancelled', () => {
        clearInterval(timer);
        watches.delete(end);
      });
    },
  });
  return () => {
    for (const end of [...watches]) end();
  };
}
