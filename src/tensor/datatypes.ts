/**
 * The Open Inference Protocol datatypes and how each maps onto ONNX and ONNX
 * Runtime. BF16 is a protocol datatype that onnxruntime-node cannot hold, so it
 * has no runtime type: models using it are refused at load with that reason.
 */
export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BF16',
  'BYTES',
] as const;

export type Datatype = (typeof DATATYPES)[number];

/** onnxruntime-common's names for tensor element types. */
export type OrtType =
  | 'bool'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'string';

export type NumericArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** BYTES elements travel as strings because that is what ONNX Runtime's string tensors hold. */
export type TensorData = NumericArray | string[];

type NumericArrayConstructor = {
  new (length: number): NumericArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
};

export interface DatatypeInfo {
  readonly name: Datatype;
  /** Bytes per element on the wire; 0 for BYTES, whose elements vary in length. */
  readonly byteSize: number;
  /** ONNX TensorProto.DataType. */
  readonly onnxElemType: number;
  readonly ortType: OrtType | undefined;
  readonly arrayType: NumericArrayConstructor | undefined;
  /** How JSON `data` holds the elements. */
  readonly json: 'bool' | 'integer' | 'bigint' | 'float' | 'binary-only' | 'string';
}

const table: Record<Datatype, DatatypeInfo> = {
  BOOL: { name: 'BOOL', byteSize: 1, onnxElemType: 9, ortType: 'bool', arrayType: Uint8Array, json: 'bool' },
  UINT8: { name: 'UINT8', byteSize: 1, onnxElemType: 2, ortType: 'uint8', arrayType: Uint8Array, json: 'integer' },
  UINT16: { name: 'UINT16', byteSize: 2, onnxElemType: 4, ortType: 'uint16', arrayType: Uint16Array, json: 'integer' },
  UINT32: { name: 'UINT32', byteSize: 4, onnxElemType: 12, ortType: 'uint32', arrayType: Uint32Array, json: 'integer' },
  UINT64: { name: 'UINT64', byteSize: 8, onnxElemType: 13, ortType: 'uint64', arrayType: BigUint64Array, json: 'bigint' },
  INT8: { name: 'INT8', byteSize: 1, onnxElemType: 3, ortType: 'int8', arrayType: Int8Array, json: 'integer' },
  INT16: { name: 'INT16', byteSize: 2, onnxElemType: 5, ortType: 'int16', arrayType: Int16Array, json: 'integer' },
  INT32: { name: 'INT32', byteSize: 4, onnxElemType: 6, ortType: 'int32', arrayType: Int32Array, json: 'integer' },
  INT64: { name: 'INT64', byteSize: 8, onnxElemType: 7, ortType: 'int64', arrayType: BigInt64Array, json: 'bigint' },
  FP16: { name: 'FP16', byteSize: 2, onnxElemType: 10, ortType: 'float16', arrayType: Uint16Array, json: 'binary-only' },
  FP32: { name: 'FP32', byteSize: 4, onnxElemType: 1, ortType: 'float32', arrayType: Float32Array, json: 'float' },
  FP64: { name: 'FP64', byteSize: 8, onnxElemType: 11, ortType: 'float64', arrayType: Float64Array, json: 'float' },
  BF16: { name: 'BF16', byteSize: 2, onnxElemType: 16, ortType: undefined, arrayType: Uint16Array, json: 'binary-only' },
  BYTES: { name: 'BYTES', byteSize: 0, onnxElemType: 8, ortType: 'string', arrayType: undefined, json: 'string' },
};

const byName = new Map<string, DatatypeInfo>(Object.entries(table));
const byOnnx = new Map<number, DatatypeInfo>(Object.values(table).map((t) => [t.onnxElemType, t]));
const byOrt = new Map<string, DatatypeInfo>(
  Object.values(table).flatMap((t) => (t.ortType ? [[t.ortType, t] as const] : [])),
);

export const datatypeInfo = (datatype: Datatype): DatatypeInfo => table[datatype];

/** Undefined for a string that names no protocol datatype. */
export const lookupDatatype = (name: string): DatatypeInfo | undefined => byName.get(name);

export const datatypeFromOnnx = (elemType: number): DatatypeInfo | undefined => byOnnx.get(elemType);

export const datatypeFromOrt = (ortType: string): DatatypeInfo | undefined => byOrt.get(ortType);

/** The typed array for a numeric datatype, viewing (not copying) the given bytes. */
export function viewBytes(info: DatatypeInfo, bytes: Uint8Array): NumericArray {
  const ctor = info.arrayType;
  if (!ctor) throw new TypeError(`${info.name} has no fixed-size representation`);
  const count = bytes.byteLength / info.byteSize;
  if (bytes.byteOffset % info.byteSize === 0) return new ctor(bytes.buffer, bytes.byteOffset, count);
  // Typed arrays need aligned offsets; a misaligned slice of a request body is copied once.
  const copy = new Uint8Array(bytes);
  return new ctor(copy.buffer, 0, count);
}

/** The bytes of a numeric tensor, viewed in place. */
export const bytesOf = (data: NumericArray): Uint8Array =>
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
