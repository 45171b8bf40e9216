/**
 * The one internal request and response that every protocol adapter builds and
 * renders. REST and gRPC differ only in how they get here. At the bottom of the
 * imports, with errors and tensors: it imports no layer above it, so no cycle
 * (not even a type-only one) can pass through it.
 */
import type { Span } from './observability/tracing.js';
import type { Datatype, TensorData } from './tensor/datatypes.js';

export type ParameterValue = string | number | boolean;
export type Parameters = Record<string, ParameterValue>;

export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Row-major elements; its length always equals the shape's element count. */
  data: TensorData;
}

export interface InputTensor extends Tensor {
  parameters?: Parameters;
}

export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

export type Protocol = 'rest' | 'grpc';

export interface InferRequest {
  modelName: string;
  /** Absent: the server picks the version (latest ready). */
  modelVersion?: string;
  id?: string;
  parameters: Parameters;
  inputs: InputTensor[];
  /** Absent: every output of the model. */
  outputs?: RequestedOutput[];
  protocol: Protocol;
  /** Cancelled when the client goes away; a request still queued is then dropped. */
  cancellation?: Cancellation;
  /** The transport's deadline (a gRPC call's), as µs left when it arrived; it bounds the wait in the queue. */
  deadlineUs?: number;
  /** Sticky-routing key from `x-routing-key` (header or metadata). */
  routingKey?: string;
  /** W3C trace context from the `traceparent` header or metadata. */
  traceparent?: string;
  /** This request's span, when tracing is on; set by the service. */
  traceSpan?: Span;
  /** Set by the server, never from the wire: wait at the model's lowest priority level (shadow copies). */
  lowestPriority?: boolean;
}

/**
 * A client's cancellation, raised by the protocol adapter. One listener at a
 * time and no event objects: it is created for every request on the hot path,
 * where AbortController and EventTarget cost more than the rest of admission.
 */
export class Cancellation {
  private cancelledFlag = false;
  private listener: (() => void) | undefined;

  get cancelled(): boolean {
    return this.cancelledFlag;
  }

  cancel(): void {
    if (this.cancelledFlag) return;
    this.cancelledFlag = true;
    const listener = this.listener;
    this.listener = undefined;
    listener?.();
  }

  /** Sets (or, with undefined, clears) the one listener. */
  onCancel(listener: (() => void) | undefined): void {
    this.listener = listener;
  }
}

export interface OutputTensor extends Tensor {
  parameters?: Parameters;
}

export interface InferResponse {
  modelName: string;
  modelVersion: string;
  id?: string;
  parameters?: Parameters;
  outputs: OutputTensor[];
  /** `model/version` that answered, when a route chose it. */
  servedBy?: string;
  /** The request's own output choices, so the renderer can honour per-output parameters. */
  requestedOutputs?: RequestedOutput[];
  requestParameters: Parameters;
}

/** Model metadata as the protocol reports it: -1 marks a variable dimension. */
export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}
