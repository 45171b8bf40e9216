/**
 * The gRPC inference path as it was before its messages were decoded and encoded by
 * hand: proto-loader's generic (de)serialization, and the conversion between its
 * plain objects and the internal request and response. The property tests hold the
 * hand-written codec (src/grpc/model-infer-message.ts, infer-request.ts,
 * infer-response.ts) to it.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { invalidArgument } from '../../src/errors.js';
import type { GrpcCallContext } from '../../src/grpc/infer-request.js';
import { CONTENT_FIELD, type GrpcTensorContents } from '../../src/grpc/messages.js';
import { loadServiceDefinitions } from '../../src/grpc/protos.js';
import { encodeBytesElements } from '../../src/tensor/bytes-elements.js';
import { lookupDatatype, type DatatypeInfo, type TensorData } from '../../src/tensor/datatypes.js';
import { decodeJsonData } from '../../src/tensor/json-data.js';
import { decodeRawTensor } from '../../src/tensor/raw-tensor.js';
import { checkedElementCount } from '../../src/tensor/shape.js';
import type { InferRequest, InferResponse, InputTensor, Parameters, ParameterValue, RequestedOutput } from '../../src/types.js';

/** ModelInfer's messages as proto-loader hands them over (src/grpc/protos.ts PROTO_OPTIONS). */
interface GrpcInferParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

type GrpcParameters = Record<string, GrpcInferParameter>;

interface GrpcInferInputTensor {
  name: string;
  datatype: string;
  shape: string[];
  parameters: GrpcParameters;
  contents: GrpcTensorContents | null;
}

export interface GrpcModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: GrpcParameters;
  inputs: GrpcInferInputTensor[];
  outputs: { name: string; parameters: GrpcParameters }[];
  raw_input_contents: Buffer[];
}

export interface GrpcModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: string; shape: number[] }[];
  raw_output_contents: Buffer[];
}

const service = loadServiceDefinitions().definition['inference.GRPCInferenceService'] as ServiceDefinition;
export const modelInfer = service['ModelInfer']!;
export const modelStreamInfer = service['ModelStreamInfer']!;

/** proto-loader's plain object of a ModelInferRequest (throws on bytes protobufjs cannot read). */
export const deserializeRequest = (bytes: Buffer): GrpcModelInferRequest => modelInfer.requestDeserialize(bytes) as GrpcModelInferRequest;

/** The request the old path built from a message: proto-loader's object, then the conversion below. */
export function referenceRequest(bytes: Buffer, context: GrpcCallContext): InferRequest {
  return decodeGrpcInferRequest(deserializeRequest(bytes), context);
}

/** The bytes the old path sent for a response. */
export function referenceResponseBytes(response: InferResponse): Buffer {
  return modelInfer.responseSerialize(encodeGrpcInferResponse(response));
}

/** The bytes the old path sent on a stream for a response. */
export function referenceStreamResponseBytes(response: InferResponse): Buffer {
  return modelStreamInfer.responseSerialize({ error_message: '', infer_response: encodeGrpcInferResponse(response) });
}

// What follows is the old conversion, as it was in src/grpc/infer-request.ts and infer-response.ts.

function parameterValue(name: string, p: GrpcInferParameter): ParameterValue {
  switch (p.parameter_choice) {
    case 'bool_param':
      return p.bool_param ?? false;
    case 'string_param':
      return p.string_param ?? '';
    case 'double_param':
      return p.double_param ?? 0;
    case 'int64_param':
    case 'uint64_param': {
      const value = Number(p[p.parameter_choice] ?? '0');
      if (!Number.isSafeInteger(value)) throw invalidArgument(`parameter ${name}: ${p[p.parameter_choice]} is too large`);
      return value;
    }
    default:
      throw invalidArgument(`parameter ${name} has no value`);
  }
}

function toParameters(raw: GrpcParameters | undefined): Parameters {
  const out: Parameters = {};
  for (const [name, p] of Object.entries(raw ?? {})) out[name] = parameterValue(name, p);
  return out;
}

function toShape(raw: string[], what: string): number[] {
  return raw.map((d, i) => {
    const dim = Number(d);
    if (!/^\d{1,16}$/.test(d) || !Number.isSafeInteger(dim)) {
      throw invalidArgument(`${what}: shape[${i}] must be a non-negative integer, got ${d.slice(0, 24)}`);
    }
    return dim;
  });
}

/** Typed contents (`contents.<type>_contents`), checked and converted like JSON data. */
function fromContents(info: DatatypeInfo, contents: GrpcTensorContents | null, shape: number[], count: number, what: string): TensorData {
  const field = CONTENT_FIELD[info.name];
  if (!field) throw invalidArgument(`${what}: ${info.name} data must be sent in raw_input_contents`);
  const values = contents?.[field] ?? [];
  if (values.length !== count) {
    throw invalidArgument(`${what}: ${field} has ${values.length} elements but shape [${shape.join(', ')}] needs ${count}`);
  }
  if (info.json === 'bigint') {
    // 64-bit integers arrive as decimal strings: converted exactly, never through a double.
    const out = new info.arrayType!(count) as BigInt64Array | BigUint64Array;
    (values as string[]).forEach((v, i) => (out[i] = BigInt(v)));
    return out;
  }
  if (info.json === 'string') return (values as Buffer[]).map((b) => b.toString('utf8'));
  return decodeJsonData(info, values, shape, count, what);
}

function decodeInput(raw: GrpcInferInputTensor, index: number, rawContents: Buffer | undefined, maxElements: number): InputTensor {
  if (!raw.name) throw invalidArgument(`inputs[${index}].name must not be empty`);
  const what = `input ${raw.name}`;
  const info = lookupDatatype(raw.datatype);
  if (!info) throw invalidArgument(`${what}: unknown datatype ${JSON.stringify(raw.datatype.slice(0, 32))}`);
  const shape = toShape(raw.shape, what);
  const count = checkedElementCount(shape, what, maxElements);
  const data = rawContents
    ? decodeRawTensor(info, rawContents, count, shape, what)
    : fromContents(info, raw.contents, shape, count, what);
  return { name: raw.name, datatype: info.name, shape, data, parameters: toParameters(raw.parameters) };
}

function decodeGrpcInferRequest(message: GrpcModelInferRequest, context: GrpcCallContext): InferRequest {
  const inputs = message.inputs ?? [];
  if (inputs.length === 0) throw invalidArgument('inputs must not be empty');
  const raw = message.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== inputs.length) {
    throw invalidArgument(
      `raw_input_contents has ${raw.length} entries for ${inputs.length} inputs; use raw contents for all inputs or for none`,
    );
  }
  const maxElements = Math.max(context.messageBytes, 1);
  const outputs: RequestedOutput[] | undefined = message.outputs?.length
    ? message.outputs.map((o, i) => {
        if (!o.name) throw invalidArgument(`outputs[${i}].name must not be empty`);
        return { name: o.name, parameters: toParameters(o.parameters) };
      })
    : undefined;
  return {
    modelName: message.model_name,
    ...(message.model_version ? { modelVersion: message.model_version } : {}),
    ...(message.id ? { id: message.id } : {}),
    parameters: toParameters(message.parameters),
    inputs: inputs.map((input, i) => decodeInput(input, i, raw[i], maxElements)),
    ...(outputs ? { outputs } : {}),
    protocol: 'grpc',
    ...(context.deadlineUs !== undefined ? { deadlineUs: context.deadlineUs } : {}),
    ...(context.routingKey ? { routingKey: context.routingKey } : {}),
    ...(context.traceparent ? { traceparent: context.traceparent } : {}),
  };
}

/** Outputs go back in raw_output_contents, which is what tritonclient expects; views, not copies. */
function encodeGrpcInferResponse(response: InferResponse): GrpcModelInferResponse {
  return {
    model_name: response.modelName,
    model_version: response.modelVersion,
    id: response.id ?? '',
    outputs: response.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
    raw_output_contents: response.outputs.map((o) =>
      Array.isArray(o.data) ? encodeBytesElements(o.data) : Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength),
    ),
  };
}

