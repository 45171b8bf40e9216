/**
 * The gRPC messages as @grpc/proto-loader hands them over with PROTO_OPTIONS:
 * snake_case fields, int64 as decimal strings, bytes as Buffers, defaults set.
 * Only what the adapter reads or writes is typed. ModelInfer's messages are read
 * and written by hand (model-infer-message.ts, infer-request.ts, infer-response.ts);
 * clients (the load tool) still build them as proto-loader objects.
 */

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
