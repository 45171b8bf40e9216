/**
 * The objects a decoded REST inference request is made of. Both decoders (the
 * general one and the fast path for the common JSON shape) build them here, so a
 * request has one object shape whichever decoder read it.
 */
import type { Datatype, TensorData } from '../tensor/datatypes.js';
import type { InferRequest, InputTensor, Parameters, RequestedOutput } from '../types.js';

export interface RestInferTarget {
  modelName: string;
  modelVersion?: string;
  /** The Inference-Header-Content-Length header, '' when absent. */
  headerLength: string;
}

export function restInferRequest(
  target: RestInferTarget,
  id: string | undefined,
  parameters: Parameters,
  inputs: InputTensor[],
  outputs: RequestedOutput[] | undefined,
): InferRequest {
  // Every field present, undefined or not: one object shape for every request.
  return {
    modelName: target.modelName,
    modelVersion: target.modelVersion,
    id,
    parameters,
    inputs,
    outputs,
    protocol: 'rest',
    cancellation: undefined,
    deadlineUs: undefined,
    routingKey: undefined,
    traceparent: undefined,
    traceSpan: undefined,
    lowestPriority: undefined,
  };
}

export const inputTensor = (name: string, datatype: Datatype, shape: number[], data: TensorData, parameters: Parameters): InputTensor => ({
  name,
  datatype,
  shape,
  data,
  parameters,
});

export const requestedOutput = (name: string, parameters: Parameters): RequestedOutput => ({ name, parameters });
