/**
 * Warmup plans from config.json's `model_warmup` (Triton's shape). The plan is
 * resolved on the main thread, where files are read and checked; each worker
 * builds the tensors and runs them before its version may take traffic. A load
 * request may carry the config, so every size here is bounded: inputs per sample,
 * elements per sample, and file bytes per load.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { lookupDatatype } from '../tensor/datatypes.js';
import type { WarmupInputPlan, WarmupPlan } from '../runtime/messages.js';
import { decodeStrings } from '../runtime/warmup-tensors.js';
import type { WarmupSample } from './model-config.js';
import { readRegularFile } from './regular-file.js';

/** Elements in one warmup sample, over its inputs, batch included. */
export const MAX_WARMUP_ELEMENTS = 1 << 24;
export const MAX_WARMUP_INPUTS = 64;
/** File bytes one load may read for its warmup (each worker gets a copy). */
export const MAX_WARMUP_FILE_BYTES = 64 * 1024 * 1024;
/** Triton's place for input_data_file: `<model>/warmup/`. */
export const WARMUP_FOLDER = 'warmup';

/** Reads input_data_files from `<model>/warmup/` only, each once per load, within the byte bound. */
class WarmupFiles {
  private readonly read = new Map<string, Uint8Array>();
  private total = 0;

  constructor(private readonly modelDir: string) {}

  get(file: string, where: string): Uint8Array {
    if (path.isAbsolute(file) || file.split(/[\\/]/).includes('..')) {
      throw new Error(`${where}: input_data_file ${JSON.stringify(file)} must be a relative path inside the model's ${WARMUP_FOLDER} folder`);
    }
    let real: string;
    let folder: string;
    try {
      folder = realpathSync(path.join(this.modelDir, WARMUP_FOLDER)) + path.sep;
      real = realpathSync(path.join(this.modelDir, WARMUP_FOLDER, file));
    } catch {
      throw new Error(`${where}: input_data_file ${JSON.stringify(file)} does not exist in the model's ${WARMUP_FOLDER} folder`);
    }
    if (!real.startsWith(folder)) throw new Error(`${where}: input_data_file ${JSON.stringify(file)} leads outside the model's ${WARMUP_FOLDER} folder`);
    const cached = this.read.get(real);
    if (cached) return cached;
    const bytes = new Uint8Array(readRegularFile(real, MAX_WARMUP_FILE_BYTES - this.total, `${where}: input_data_file ${JSON.stringify(file)}`));
    this.total += bytes.byteLength;
    this.read.set(real, bytes);
    return bytes;
  }
}

function planInput(name: string, input: WarmupSample['inputs'][string], batchSize: number, files: WarmupFiles, where: string): WarmupInputPlan {
  const info = lookupDatatype(input.data_type);
  if (!info?.ortType) throw new Error(`${where}: data_type ${JSON.stringify(input.data_type)} is not a datatype the server can run`);
  const row = input.dims.reduce((n, d) => n * d, 1);
  if (input.input_data_file === undefined) {
    return { name, datatype: info.name, dims: input.dims, fill: input.zero_data ? 'zero' : 'random' };
  }
  const bytes = files.get(input.input_data_file, where);
  if (info.byteSize > 0 && bytes.byteLength !== row * info.byteSize) {
    throw new Error(`${where}: input_data_file holds ${bytes.byteLength} bytes, one row of ${info.name} [${input.dims.join(', ')}] is ${row * info.byteSize}`);
  }
  if (info.byteSize === 0) {
    try {
      decodeStrings(bytes, row);
    } catch (error) {
      throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { name, datatype: info.name, dims: input.dims, fill: 'file', bytes };
}

/** Checks and resolves the warmup samples; errors name the sample and input. */
export function planWarmup(samples: readonly WarmupSample[], modelDir: string): WarmupPlan[] {
  const files = new WarmupFiles(modelDir);
  return samples.map((sample) => {
    const where = `model_warmup ${JSON.stringify(sample.name)}`;
    const inputs = Object.entries(sample.inputs);
    if (inputs.length > MAX_WARMUP_INPUTS) throw new Error(`${where}: ${inputs.length} inputs, more than ${MAX_WARMUP_INPUTS}`);
    const batchSize = Math.max(1, sample.batch_size);
    const elements = inputs.reduce((sum, [, input]) => sum + input.dims.reduce((n, d) => n * d, 1) * batchSize, 0);
    if (elements > MAX_WARMUP_ELEMENTS) throw new Error(`${where}: ${elements} elements, more than ${MAX_WARMUP_ELEMENTS}`);
    return {
      name: sample.name,
      batchSize,
      count: sample.count,
      inputs: inputs.map(([name, input]) => planInput(name, input, batchSize, files, `${where} input ${JSON.stringify(name)}`)),
    };
  });
}
