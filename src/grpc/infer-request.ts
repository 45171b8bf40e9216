/**
 * gRPC ModelInferRequest into the internal InferRequest: the same request the
 * REST adapter builds, checked the same way before anything is allocated.
 */
import { invalidArgument } from '../errors.js';
import type { InferRequest, InputTensor, Parameters, ParameterValue, RequestedOutput } from '../types.js';
import { lookupDatatype, type DatatypeInfo, type TensorData } from '../tensor/datatypes.js';
import { decodeJsonData } from '../tensor/json-data.js';
import { decodeRawTensor } from '../tensor/raw-tensor.js';
import { checkedElementCount } from '../tensor/shape.js';
import { CONTENT_FIELD, type GrpcInferInputTensor, type GrpcInferParameter, type GrpcModelInferRequest, type GrpcParameters, type GrpcTensorContents } from './messages.js';

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

export interface GrpcCallContext {
  /** Bytes of the message as received; bounds every declared shape. */
  messageBytes: number;
  deadlineUs?: number;
  routingKey?: string;
  traceparent?: string;
}

export function decodeGrpcInferRequest(message: GrpcModelInferRequest, context: GrpcCallContext): InferRequest {
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
