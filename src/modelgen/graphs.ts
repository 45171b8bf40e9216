/**
 * Graph recipes for the example models. Each returns a complete GraphSpec; the
 * catalog (catalog.ts) decides names, versions and serving configs.
 */
import type { Datatype } from '../tensor/datatypes.js';
import type { GraphSpec, Initializer, NodeSpec } from './onnx-writer.js';
import { float32Bytes, int64Bytes, uniformFloat32 } from './weights.js';

const BATCH = 'batch';

function floatInit(name: string, dims: number[], values: Float32Array): Initializer {
  return { name, datatype: 'FP32', dims, data: float32Bytes(values) };
}

export interface MlpOptions {
  name: string;
  /** Layer widths, input first: [64, 256, 10] is 64 → 256 → 10. */
  widths: number[];
  seed: number;
  inputName: string;
  outputName: string;
  softmax: boolean;
  /** Added to the last layer's bias, per class: how a "slightly different" version is made. */
  lastBiasOffset?: number[];
}

/** Gemm layers with ReLU between them, optionally ending in a softmax. */
export function mlp(options: MlpOptions): GraphSpec {
  const { widths, seed } = options;
  const nodes: NodeSpec[] = [];
  const initializers: Initializer[] = [];
  let current = options.inputName;
  for (let layer = 0; layer + 1 < widths.length; layer++) {
    const fanIn = widths[layer]!;
    const fanOut = widths[layer + 1]!;
    // Xavier-style scale keeps activations in a sane range at any width.
    const scale = Math.sqrt(6 / (fanIn + fanOut));
    const weights = uniformFloat32(fanIn * fanOut, scale, seed * 1000 + layer * 2);
    const bias = uniformFloat32(fanOut, 0.1, seed * 1000 + layer * 2 + 1);
    const isLast = layer + 2 === widths.length;
    if (isLast && options.lastBiasOffset) {
      options.lastBiasOffset.forEach((offset, i) => (bias[i] = bias[i]! + offset));
    }
    initializers.push(floatInit(`w${layer}`, [fanIn, fanOut], weights), floatInit(`b${layer}`, [fanOut], bias));
    const gemmOut = isLast && !options.softmax ? options.outputName : `gemm${layer}`;
    nodes.push({ op: 'Gemm', inputs: [current, `w${layer}`, `b${layer}`], outputs: [gemmOut] });
    current = gemmOut;
    if (!isLast) {
      nodes.push({ op: 'Relu', inputs: [current], outputs: [`relu${layer}`] });
      current = `relu${layer}`;
    }
  }
  if (options.softmax) {
    nodes.push({ op: 'Softmax', inputs: [current], outputs: [options.outputName], attributes: { axis: -1 } });
  }
  return {
    name: options.name,
    inputs: [{ name: options.inputName, datatype: 'FP32', shape: [BATCH, widths[0]!] }],
    outputs: [{ name: options.outputName, datatype: 'FP32', shape: [BATCH, widths[widths.length - 1]!] }],
    nodes,
    initializers,
  };
}

/**
 * Several inputs of different datatypes and string input and output:
 * ids INT64, features FP32, mask BOOL, tag BYTES →
 * score = sigmoid(features · w), id_sum = Σ ids where mask, label = "low"/"high", tag_echo = tag.
 */
export function mixedTypes(seed: number): GraphSpec {
  return {
    name: 'mixed_types',
    inputs: [
      { name: 'ids', datatype: 'INT64', shape: [BATCH, 8] },
      { name: 'features', datatype: 'FP32', shape: [BATCH, 16] },
      { name: 'mask', datatype: 'BOOL', shape: [BATCH, 8] },
      { name: 'tag', datatype: 'BYTES', shape: [BATCH, 1] },
    ],
    outputs: [
      { name: 'score', datatype: 'FP32', shape: [BATCH, 1] },
      { name: 'id_sum', datatype: 'INT64', shape: [BATCH, 1] },
      { name: 'label', datatype: 'BYTES', shape: [BATCH, 1] },
      { name: 'tag_echo', datatype: 'BYTES', shape: [BATCH, 1] },
    ],
    initializers: [
      floatInit('w', [16, 1], uniformFloat32(16, 0.5, seed)),
      { name: 'axis1', datatype: 'INT64', dims: [1], data: int64Bytes([1]) },
      floatInit('zero', [], new Float32Array([0])),
      { name: 'labels', datatype: 'BYTES', dims: [2], data: ['low', 'high'] },
    ],
    nodes: [
      { op: 'Cast', inputs: ['mask'], outputs: ['mask_i64'], attributes: { to: { int: 7 } } },
      { op: 'Mul', inputs: ['ids', 'mask_i64'], outputs: ['masked_ids'] },
      { op: 'ReduceSum', inputs: ['masked_ids', 'axis1'], outputs: ['id_sum'], attributes: { keepdims: 1 } },
      { op: 'MatMul', inputs: ['features', 'w'], outputs: ['logit'] },
      { op: 'Sigmoid', inputs: ['logit'], outputs: ['score'] },
      { op: 'Greater', inputs: ['logit', 'zero'], outputs: ['is_high'] },
      { op: 'Cast', inputs: ['is_high'], outputs: ['label_index'], attributes: { to: { int: 7 } } },
      { op: 'Gather', inputs: ['labels', 'label_index'], outputs: ['label'], attributes: { axis: 0 } },
      { op: 'Identity', inputs: ['tag'], outputs: ['tag_echo'] },
    ],
  };
}

/** No batch dimension: a fixed [3, 8, 8] image in, per-channel mean and max out. */
export function channelStats(): GraphSpec {
  return {
    name: 'channel_stats',
    inputs: [{ name: 'image', datatype: 'FP32', shape: [3, 8, 8] }],
    outputs: [
      { name: 'mean', datatype: 'FP32', shape: [3] },
      { name: 'max', datatype: 'FP32', shape: [3] },
    ],
    initializers: [],
    nodes: [
      { op: 'ReduceMean', inputs: ['image'], outputs: ['mean'], attributes: { axes: [1, 2], keepdims: 0 } },
      { op: 'ReduceMax', inputs: ['image'], outputs: ['max'], attributes: { axes: [1, 2], keepdims: 0 } },
    ],
  };
}

/** The datatypes an Identity echo covers: every one ONNX Runtime can hold. */
export const ECHO_DATATYPES: readonly Datatype[] = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES',
];

/** One Identity per datatype, `<type>_in` → `<type>_out`, shape [batch, n] with n variable. */
export function datatypeEcho(datatypes: readonly Datatype[] = ECHO_DATATYPES): GraphSpec {
  const names = datatypes.map((d) => d.toLowerCase());
  return {
    name: 'datatype_echo',
    inputs: datatypes.map((datatype, i) => ({ name: `${names[i]}_in`, datatype, shape: [BATCH, 'n'] })),
    outputs: datatypes.map((datatype, i) => ({ name: `${names[i]}_out`, datatype, shape: [BATCH, 'n'] })),
    initializers: [],
    nodes: names.map((n) => ({ op: 'Identity', inputs: [`${n}_in`], outputs: [`${n}_out`] })),
  };
}

/**
 * Deliberately slow: `rounds` 512×512 matrix products whose operand depends on
 * the input (so ONNX Runtime cannot fold them away at load). Tests use it to
 * hold a worker busy for a known-long time.
 */
export function slowModel(rounds: number): GraphSpec {
  const size = 512;
  const nodes: NodeSpec[] = [
    { op: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['seed'], attributes: { keepdims: 0 } },
    { op: 'Mul', inputs: ['seed', 'base'], outputs: ['m0'] },
  ];
  for (let r = 0; r < rounds; r++) {
    nodes.push({ op: 'MatMul', inputs: [`m${r}`, 'base'], outputs: [`p${r}`] });
    nodes.push({ op: 'Tanh', inputs: [`p${r}`], outputs: [`m${r + 1}`] });
  }
  nodes.push({ op: 'ReduceMean', inputs: [`m${rounds}`], outputs: ['level'], attributes: { keepdims: 0 } });
  nodes.push({ op: 'Add', inputs: ['x', 'level'], outputs: ['y'] });
  return {
    name: 'slow',
    inputs: [{ name: 'x', datatype: 'FP32', shape: [BATCH, 4] }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: [BATCH, 4] }],
    initializers: [
      floatInit('base', [size, size], uniformFloat32(size * size, 0.05, 99)),
      { name: 'axes', datatype: 'INT64', dims: [2], data: int64Bytes([0, 1]) },
    ],
    nodes,
  };
}

/**
 * Fails inside ONNX Runtime for some inputs: Gather from a 4-element table at
 * indices the request gives, so an index past 3 makes session.run throw.
 */
export function gatherModel(): GraphSpec {
  return {
    name: 'gather',
    inputs: [{ name: 'index', datatype: 'INT64', shape: [BATCH, 1] }],
    outputs: [{ name: 'value', datatype: 'FP32', shape: [BATCH, 1] }],
    initializers: [floatInit('table', [4], Float32Array.from([10, 20, 30, 40]))],
    nodes: [{ op: 'Gather', inputs: ['table', 'index'], outputs: ['value'], attributes: { axis: 0 } }],
  };
}

/** The graph's first input, which must be [batch, n] with n fixed: the wrappers below act on it. */
function batchInput(graph: GraphSpec): { name: string; width: number } {
  const input = graph.inputs[0];
  const width = input?.shape[1];
  if (!input || input.shape.length !== 2 || typeof width !== 'number') throw new Error(`${graph.name}: the first input is not [batch, n]`);
  return { name: input.name, width };
}

/** Every node that read `from` reads `to` instead. */
const rewire = (nodes: readonly NodeSpec[], from: string, to: string): NodeSpec[] =>
  nodes.map((n) => ({ ...n, inputs: n.inputs.map((i) => (i === from ? to : i)) }));

/**
 * The same model, except that session.run fails for every batch whose size is not a multiple
 * of `divisor`: the input is reshaped to [divisor, -1] and back to [-1, n]. Same inputs and
 * outputs, so it passes every check at load and at admission; a canary that fails most batches.
 */
export function failingForMostBatches(graph: GraphSpec, divisor: number): GraphSpec {
  const { name, width } = batchInput(graph);
  const checked = `${name}__checked`;
  return {
    ...graph,
    initializers: [
      ...graph.initializers,
      { name: 'trap_shape', datatype: 'INT64', dims: [2], data: int64Bytes([divisor, -1]) },
      { name: 'back_shape', datatype: 'INT64', dims: [2], data: int64Bytes([-1, width]) },
    ],
    nodes: [
      { op: 'Reshape', inputs: [name, 'trap_shape'], outputs: [`${name}__trapped`] },
      // Between the two reshapes, so that they cannot be fused into one that always succeeds.
      { op: 'Neg', inputs: [`${name}__trapped`], outputs: [`${name}__negated`] },
      { op: 'Neg', inputs: [`${name}__negated`], outputs: [`${name}__back`] },
      { op: 'Reshape', inputs: [`${name}__back`, 'back_shape'], outputs: [checked] },
      ...rewire(graph.nodes, name, checked),
    ],
  };
}

/**
 * The same answers, slower: `rounds` size×size matrix products on a value taken from the input
 * (so that nothing can be folded at load), added to the first output times zero.
 */
export function slowedDown(graph: GraphSpec, rounds: number, size = 512): GraphSpec {
  const { name } = batchInput(graph);
  const output = graph.outputs[0]!.name;
  const fast = `${output}__fast`;
  const nodes: NodeSpec[] = graph.nodes.map((n) => ({ ...n, outputs: n.outputs.map((o) => (o === output ? fast : o)) }));
  nodes.push(
    { op: 'ReduceSum', inputs: [name, 'slow_axes'], outputs: ['slow_seed'], attributes: { keepdims: 0 } },
    { op: 'Mul', inputs: ['slow_seed', 'slow_base'], outputs: ['slow_m0'] },
  );
  for (let r = 0; r < rounds; r++) {
    nodes.push({ op: 'MatMul', inputs: [`slow_m${r}`, 'slow_base'], outputs: [`slow_p${r}`] });
    nodes.push({ op: 'Tanh', inputs: [`slow_p${r}`], outputs: [`slow_m${r + 1}`] });
  }
  nodes.push(
    { op: 'ReduceMean', inputs: [`slow_m${rounds}`], outputs: ['slow_level'], attributes: { keepdims: 0 } },
    { op: 'Mul', inputs: ['slow_level', 'slow_zero'], outputs: ['slow_nothing'] },
    { op: 'Add', inputs: [fast, 'slow_nothing'], outputs: [output] },
  );
  return {
    ...graph,
    initializers: [
      ...graph.initializers,
      floatInit('slow_base', [size, size], uniformFloat32(size * size, 0.05, 77)),
      floatInit('slow_zero', [], new Float32Array([0])),
      { name: 'slow_axes', datatype: 'INT64', dims: [2], data: int64Bytes([0, 1]) },
    ],
    nodes,
  };
}
