/**
 * Which tensors of a model version drift profiles, from its spec and the config's
 * class_scores: every numeric input and output with a batch dimension and fixed inner
 * dimensions (each element of a row is a feature), and for each class_scores output
 * also the argmax class of each row ("kind": "output_class"). BYTES, FP16 and BF16
 * tensors are passed over (no order to bin strings; half floats arrive as raw bits).
 */
import type { Datatype } from '../tensor/datatypes.js';
import type { TensorMetadata } from '../types.js';

export type TensorKind = 'input' | 'output' | 'output_class';

export interface ProfiledTensor {
  name: string;
  kind: TensorKind;
  source: 'input' | 'output';
  datatype: Datatype;
  /** Features per row: the product of the inner dimensions; classes for output_class. */
  width: number;
  /** BOOL and integer inputs: profiled by value when the reference holds few distinct ones. */
  categorical: boolean;
}

/** More features than this in one tensor are not profiled: counts and edges are per feature. */
export const MAX_FEATURES = 4096;

const UNPROFILED: readonly Datatype[] = ['BYTES', 'FP16', 'BF16'];
const INTEGER: readonly Datatype[] = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64'];

export interface ProfiledTensors {
  tensors: ProfiledTensor[];
  /** Tensors passed over, with why: logged at load. */
  skipped: string[];
}

/**
 * Throws when drift cannot run on the model as configured: no batch dimension, or a
 * class_scores name that is no profiled output.
 */
export function profiledTensors(
  model: { maxBatchSize: number; inputs: readonly TensorMetadata[]; outputs: readonly TensorMetadata[] },
  classScores: readonly string[],
): ProfiledTensors {
  if (model.maxBatchSize <= 0) throw new Error('drift needs a batch dimension (max_batch_size above 0): each row is one observation');
  const tensors: ProfiledTensor[] = [];
  const skipped: string[] = [];
  const consider = (t: TensorMetadata, source: 'input' | 'output'): ProfiledTensor | undefined => {
    const inner = t.shape.slice(1);
    let why: string | undefined;
    if (UNPROFILED.includes(t.datatype)) why = `${t.datatype} is not profiled`;
    else if (inner.includes(-1)) why = 'it has a variable dimension besides the batch dimension';
    const width = inner.reduce((a, b) => a * b, 1);
    if (!why && width > MAX_FEATURES) why = `${width} features per row, more than ${MAX_FEATURES}`;
    if (!why && width === 0) why = 'its rows are empty';
    if (why) {
      skipped.push(`${source} ${t.name}: ${why}`);
      return undefined;
    }
    const profiled: ProfiledTensor = { name: t.name, kind: source, source, datatype: t.datatype, width, categorical: source === 'input' && INTEGER.includes(t.datatype) };
    tensors.push(profiled);
    return profiled;
  };
  for (const input of model.inputs) consider(input, 'input');
  const outputs = new Map<string, ProfiledTensor | undefined>();
  for (const output of model.outputs) outputs.set(output.name, consider(output, 'output'));
  for (const name of classScores) {
    if (!outputs.has(name)) throw new Error(`drift.class_scores names output ${name}, which the model does not have`);
    const output = outputs.get(name);
    if (!output) throw new Error(`drift.class_scores names output ${name}, which drift cannot profile (see the log)`);
    if (output.width < 2) throw new Error(`drift.class_scores names output ${name}, which has ${output.width} column: an argmax needs two or more`);
    tensors.push({ ...output, kind: 'output_class' });
  }
  return { tensors, skipped };
}
