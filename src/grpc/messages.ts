/**
 * The gRPC messages as @grpc/proto-loader hands them over with PROTO_OPTIONS:
 * snake_case fields, int64 as decimal strings, bytes as Buffers, defaults set.
 * Only what the adapter reads or writes is typed.
 */
export interface GrpcInferParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

export type GrpcParameters = Record<string, GrpcInferParameter>;

export interface GrpcTensorContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

export interface GrpcInferInputTensor {
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

/** The typed-contents field that holds each datatype; FP16 and BF16 have none (raw contents only). */
export const CONTENT_FIELD: Readonly<Record<string, keyof GrpcTensorContents | undefined>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/** Triton's model repository extension: one parameter of a load or unload. */
export interface GrpcRepositoryParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'bytes_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  bytes_param?: Buffer;
}

export interface GrpcRepositoryIndexRequest {
  repository_name: string;
  ready: boolean;
}

export interface GrpcRepositoryModelRequest {
  repository_name: string;
  model_name: string;
  parameters: Record<string, GrpcRepositoryParameter>;
}

export interface GrpcModelStatisticsRequest {
  name: string;
  version: string;
}
