/**
 * Writes ONNX models from code. The schema is our own subset of onnx.proto
 * (protos/onnx-subset.proto) with ONNX's field numbers, encoded by protobufjs.
 */
import protobuf from 'protobufjs';
import { projectFile } from '../project-files.js';
import { type Datatype, datatypeInfo } from '../tensor/datatypes.js';

let modelType: protobuf.Type | undefined;

function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.loadSync(projectFile('protos', 'onnx-subset.proto')).lookupType('onnx.ModelProto');
  return modelType;
}

/** A dimension: a fixed size, or a name for a variable one (the batch dimension, say). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  datatype: Datatype;
  shape: Dim[];
}

export type AttributeValue = number | string | number[] | { floats: number[] } | { int: number };

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, AttributeValue>;
}

export interface Initializer {
  name: string;
  datatype: Datatype;
  dims: number[];
  /** Raw little-endian bytes for numeric tensors, UTF-8 strings for BYTES. */
  data: Uint8Array | string[];
}

export interface GraphSpec {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeSpec[];
  initializers: Initializer[];
  opset?: number;
}

const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

function encodeAttribute(name: string, value: AttributeValue): Record<string, unknown> {
  if (typeof value === 'string') return { name, s: Buffer.from(value), type: ATTRIBUTE_TYPE.STRING };
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { name, i: value, type: ATTRIBUTE_TYPE.INT }
      : { name, f: value, type: ATTRIBUTE_TYPE.FLOAT };
  }
  if (Array.isArray(value)) return { name, ints: value, type: ATTRIBUTE_TYPE.INTS };
  if ('floats' in value) return { name, floats: value.floats, type: ATTRIBUTE_TYPE.FLOATS };
  return { name, i: value.int, type: ATTRIBUTE_TYPE.INT };
}

function encodeValueInfo(info: ValueInfo): Record<string, unknown> {
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: datatypeInfo(info.datatype).onnxElemType,
        shape: { dim: info.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function encodeInitializer(init: Initializer): Record<string, unknown> {
  const base = { name: init.name, dims: init.dims, dataType: datatypeInfo(init.datatype).onnxElemType };
  return Array.isArray(init.data)
    ? { ...base, stringData: init.data.map((s) => Buffer.from(s, 'utf8')) }
    : { ...base, rawData: init.data };
}

export function encodeModel(graph: GraphSpec): Uint8Array {
  const type = modelProtoType();
  const message = type.fromObject({
    irVersion: 8,
    producerName: 'brisk-modelgen',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: graph.opset ?? 17 }],
    graph: {
      name: graph.name,
      input: graph.inputs.map(encodeValueInfo),
      output: graph.outputs.map(encodeValueInfo),
      initializer: graph.initializers.map(encodeInitializer),
      node: graph.nodes.map((n, i) => ({
        name: `${n.op.toLowerCase()}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => encodeAttribute(k, v)),
      })),
    },
  });
  return type.encode(message).finish();
}
