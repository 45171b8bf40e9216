/**
 * Warmup plans from config.json's `model_warmup` (Triton's shape). The plan is
 * resolved on the main thread, where files are read and checked; each worker
 * builds the tensors and runs them before its version may take traffic.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { lookupDatatype } from '../tensor/datatypes.js';
import type { WarmupPlan } from '../runtime/messages.js';
import type { WarmupSample } from './model-config.js';

/** Elements in one warmup tensor, batch included: enough for any real warmup, never an allocation to fear. */
export const MAX_WARMUP_ELEMENTS = 1 << 24;
const MAX_WARMUP_FILE_BYTES = 64 * 1024 * 1024;

/** Reads an input_data_file, which must lie inside the model's folder (no `..`, no absolute path, no symlink out). */
function readWarmupFile(modelDir: string, file: string, where: string): Uint8Array {
  if (path.isAbsolute(file) || file.split(/[\\/]/).includes('..')) {
    throw new Error(`${where}: input_data_file ${JSON.stringify(file)} must be a relative path inside the model folder`);
  }
  let real: string;
  try {
    real = realpathSync(path.join(modelDir, file));
  } catch {
    throw new Error(`${where}: input_data_file ${JSON.stringify(file)} does not exist in the model folder`);
  }
  const root = realpathSync(modelDir) + path.sep;
  if (!real.startsWith(root)) throw new Error(`${where}: input_data_file ${JSON.stringify(file)} leads outside the model folder`);
  const size = statSync(real).size;
  if (size > MAX_WARMUP_FILE_BYTES) throw new Error(`${where}: input_data_file is ${size} bytes, more than ${MAX_WARMUP_FILE_BYTES}`);
  return new Uint8Array(readFileSync(real));
}

/** Checks and resolves the warmup samples; errors name the sample and input. */
export function planWarmup(samples: readonly WarmupSample[], modelDir: string): WarmupPlan[] {
  return samples.map((sample) => ({
    name: sample.name,
    batchSize: Math.max(1, sample.batch_size),
    count: sample.count,
    inputs: Object.entries(sample.inputs).map(([name, input]) => {
      const where = `model_warmup ${JSON.stringify(sample.name)} input ${JSON.stringify(name)}`;
      const info = lookupDatatype(input.data_type);
      if (!info?.ortType) throw new Error(`${where}: data_type ${JSON.stringify(input.data_type)} is not a datatype the server can run`);
      const elements = input.dims.reduce((n, d) => n * d, 1) * Math.max(1, sample.batch_size);
      if (elements > MAX_WARMUP_ELEMENTS) throw new Error(`${where}: ${elements} elements, more than ${MAX_WARMUP_ELEMENTS}`);
      if (input.input_data_file === undefined) {
        return { name, datatype: info.name, dims: input.dims, fill: input.zero_data ? 'zero' : 'random' } as const;
      }
      const bytes = readWarmupFile(modelDir, input.input_data_file, where);
      const row = input.dims.reduce((n, d) => n * d, 1);
      if (info.byteSize > 0 && bytes.byteLength !== row * info.byteSize) {
        throw new Error(`${where}: input_data_file holds ${bytes.byteLength} bytes, one row of ${info.name} [${input.dims.join(', ')}] is ${row * info.byteSize}`);
      }
      return { name, datatype: info.name, dims: input.dims, fill: 'file', bytes } as const;
    }),
  }));
}
