/**
 * What the server needs to know to serve one model version, resolved from the
 * ONNX model itself (names, datatypes, shapes) and the config file, which may
 * only narrow what the model declares. Without a config file, batching is on
 * when every input and output has a variable first dimension (Triton's
 * auto-complete), with max_batch_size DEFAULT_MAX_BATCH_SIZE.
 */
import { datatypeFromOrt } from '../tensor/datatypes.js';
import type { TensorMetadata } from '../types.js';
import type { DescribeResult, WireTensorSpec } from '../runtime/messages.js';
import { modelConfigFileSchema, type ExecutionProvider, type ModelConfigFile, type TensorNarrowing } from './model-config.js';

export const DEFAULT_MAX_BATCH_SIZE = 64;

export interface ModelSpec {
  name: string;
  version: string;
  /** 0: the model has no batch dimension and every request runs alone. */
  maxBatchSize: number;
  preferredBatchSizes: number[];
  maxQueueDelayUs: number;
  maxQueueSize: number;
  defaultTimeoutUs: number;
  /** Requests carry a priority level from 1 (the highest) to this. */
  priorityLevels: number;
  /** The level of a request that gives no priority (or 0). */
  defaultPriorityLevel: number;
  instances: number;
  /** 0: no limit. */
  batchTimeoutMs: number;
  /** ONNX Runtime intra-op threads per instance as configured; 0 means ONNX Runtime's choice (all cores). */
  intraOpThreads: number;
  /** Shapes include the batch dimension (as -1) when maxBatchSize > 0. */
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** True when some input has a variable dimension besides the batch dimension. */
  variableInnerDims: boolean;
  executionProvider: ExecutionProvider;
}

function toMetadata(spec: WireTensorSpec, role: 'input' | 'output'): TensorMetadata {
  const info = spec.isTensor ? datatypeFromOrt(spec.type) : undefined;
  if (!info) throw new Error(`${role} ${spec.name} has type ${spec.type}, which the server cannot serve`);
  return { name: spec.name, datatype: info.name, shape: spec.shape };
}

function narrow(tensors: TensorMetadata[], narrowing: TensorNarrowing[] | undefined, batched: boolean, role: string): void {
  for (const n of narrowing ?? []) {
    const tensor = tensors.find((t) => t.name === n.name);
    if (!tensor) throw new Error(`config names ${role} ${n.name}, which the model does not have`);
    const inner = batched ? tensor.shape.slice(1) : tensor.shape;
    if (n.dims.length !== inner.length) {
      throw new Error(`config gives ${role} ${n.name} ${n.dims.length} dims, the model has ${inner.length}${batched ? ' besides the batch dimension' : ''}`);
    }
    const narrowed = n.dims.map((dim, i) => {
      const declared = inner[i]!;
      if (dim === -1) return declared;
      if (declared !== -1 && declared !== dim) {
        throw new Error(`config sets ${role} ${n.name} dim ${i} to ${dim}, but the model fixes it at ${declared}`);
      }
      return dim;
    });
    tensor.shape = batched ? [-1, ...narrowed] : narrowed;
  }
}

export function resolveModelSpec(
  name: string,
  version: number,
  configFile: ModelConfigFile | undefined,
  described: DescribeResult,
): ModelSpec {
  const config = configFile ?? modelConfigFileSchema.parse({});
  const inputs = described.inputs.map((s) => toMetadata(s, 'input'));
  const outputs = described.outputs.map((s) => toMetadata(s, 'output'));
  const all = [...inputs, ...outputs];
  const batchable = all.every((t) => t.shape.length > 0 && t.shape[0] === -1);
  const maxBatchSize = config.max_batch_size ?? (batchable ? DEFAULT_MAX_BATCH_SIZE : 0);
  if (maxBatchSize > 0 && !batchable) {
    const fixed = all.find((t) => t.shape.length === 0 || t.shape[0] !== -1)!;
    throw new Error(
      `max_batch_size ${maxBatchSize} needs a variable first dimension on every input and output, but ${fixed.name} has shape [${fixed.shape.join(', ')}]`,
    );
  }
  const batched = maxBatchSize > 0;
  narrow(inputs, config.inputs, batched, 'input');
  narrow(outputs, config.outputs, batched, 'output');
  const batching = config.dynamic_batching;
  return {
    name,
    version: String(version),
    maxBatchSize,
    preferredBatchSizes: batching.preferred_batch_sizes.filter((s) => s <= Math.max(1, maxBatchSize)),
    maxQueueDelayUs: batching.max_queue_delay_us,
    maxQueueSize: batching.max_queue_size,
    defaultTimeoutUs: batching.default_timeout_us,
    priorityLevels: batching.priority_levels,
    defaultPriorityLevel: batching.default_priority_level,
    instances: described.instances ?? config.instances,
    batchTimeoutMs: config.batch_timeout_ms,
    intraOpThreads: described.intraOpThreads ?? config.intra_op_threads,
    inputs,
    outputs,
    variableInnerDims: inputs.some((t) => (batched ? t.shape.slice(1) : t.shape).includes(-1)),
    executionProvider: described.executionProvider,
  };
}
