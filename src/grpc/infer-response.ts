import type { InferResponse } from '../types.js';
import { encodeBytesElements } from '../tensor/bytes-elements.js';
import type { GrpcModelInferResponse } from './messages.js';

/** Outputs go back in raw_output_contents, which is what tritonclient expects; views, not copies. */
export function encodeGrpcInferResponse(response: InferResponse): GrpcModelInferResponse {
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

