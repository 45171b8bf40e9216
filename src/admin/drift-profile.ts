/**
 * `brisk drift profile MODEL VERSION --input rows.json`: a reference profile from a file
 * of rows, with no server. The rows' outputs come from ONNX Runtime in this process,
 * running the version's own model.onnx in batches; the model's config.json gives bins
 * and class_scores, as the server would. The file holds every input of the model, one
 * array per row (nested as the input's inner dimensions, or flat):
 *   {"inputs": {"input": [[0.1, 0.2, …], [0.3, 0.1, …], …]}}
 * BOOL inputs take true/false or 0/1.
 */
import path from 'node:path';
import type ortModule from 'onnxruntime-node';
import { readRegularFile } from '../models/regular-file.js';
import { discoverModel } from '../models/repository.js';
import { resolveModelSpec, type ModelSpec } from '../models/model-spec.js';
import { modelConfigFileSchema } from '../models/model-config.js';
import { buildReference, rowsKey, type TensorRows } from '../drift/reference-builder.js';
import { profiledTensors, type ProfiledTensor } from '../drift/profiled-tensors.js';
import { parseReference } from '../drift/reference-file.js';
import type { ReferenceProfile } from '../drift/reference-profile.js';
import { datatypeFromOrt, datatypeInfo, type NumericArray } from '../tensor/datatypes.js';
import type { DescribeResult, WireTensorSpec } from '../runtime/messages.js';
import { CliError } from './cli-client.js';

/** A file of rows is read whole: this bounds it. */
export const MAX_ROWS_FILE_BYTES = 512 * 1024 * 1024;
/** Rows per session.run: bounded whatever the model's max_batch_size. */
const RUN_ROWS = 256;

interface Loaded {
  spec: ModelSpec;
  session: ortModule.InferenceSession;
  ort: typeof ortModule;
}

async function loadModel(repository: string, model: string, version: string): Promise<Loaded & { bins: number; classScores: string[] }> {
  const discovered = discoverModel(repository, model);
  if (!discovered) throw new CliError(`model ${model} is not in the model repository ${repository}`);
  if (discovered.problem) throw new CliError(`model ${model}: ${discovered.problem}`);
  const modelPath = path.join(repository, model, version, 'model.onnx');
  // Loaded only here: the other drift commands start without ONNX Runtime.
  const ort = (await import('onnxruntime-node')).default;
  let session;
  try {
    session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (error) {
    throw new CliError(`cannot load ${model}/${version}/model.onnx: ${error instanceof Error ? error.message : String(error)}`);
  }
  const describe = (meta: (typeof session.inputMetadata)[number]): WireTensorSpec =>
    meta.isTensor
      ? { name: meta.name, type: meta.type, isTensor: true, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) }
      : { name: meta.name, type: 'non-tensor', isTensor: false, shape: [] };
  const described: DescribeResult = { inputs: session.inputMetadata.map(describe), outputs: session.outputMetadata.map(describe), executionProvider: 'cpu' };
  const config = discovered.config ?? modelConfigFileSchema.parse({});
  const spec = resolveModelSpec(model, Number(version), config, described);
  return { spec, session, ort, bins: config.drift.bins, classScores: [...new Set(config.drift.class_scores)] };
}

/** The rows of each input, checked against the model: every input, the same number of rows, each of the input's width. */
function readRows(file: string, spec: ModelSpec): { rows: number; values: Map<string, Float64Array> } {
  let raw: unknown;
  try {
    raw = JSON.parse(readRegularFile(file, MAX_ROWS_FILE_BYTES, `--input ${file}`).toString('utf8'));
  } catch (error) {
    throw new CliError(`--input ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const given = (raw as { inputs?: unknown } | null)?.inputs;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new CliError(`--input ${file}: expected {"inputs": {"<input name>": [[row], …]}}`);
  let rows: number | undefined;
  const values = new Map<string, Float64Array>();
  for (const input of spec.inputs) {
    const list = Object.hasOwn(given, input.name) ? (given as Record<string, unknown>)[input.name] : undefined;
    if (!Array.isArray(list)) throw new CliError(`--input ${file}: inputs.${input.name} must be an array of rows (the model needs every input)`);
    if (rows !== undefined && list.length !== rows) throw new CliError(`--input ${file}: inputs.${input.name} has ${list.length} rows, another input has ${rows}`);
    rows = list.length;
    const width = input.shape.slice(1).reduce((a, b) => a * b, 1);
    if (width < 1) throw new CliError(`input ${input.name} has a variable dimension besides the batch dimension: drift cannot profile it`);
    const out = new Float64Array(list.length * width);
    list.forEach((row: unknown, r) => {
      const flat = Array.isArray(row) ? (row as unknown[]).flat(8) : [row];
      if (flat.length !== width) throw new CliError(`--input ${file}: inputs.${input.name} row ${r} has ${flat.length} values, the input has ${width} per row`);
      for (let i = 0; i < width; i++) {
        const v = flat[i];
        const n = typeof v === 'boolean' ? Number(v) : v;
        if (typeof n !== 'number' || !Number.isFinite(n)) throw new CliError(`--input ${file}: inputs.${input.name} row ${r} value ${i} is not a finite number`);
        out[r * width + i] = n;
      }
    });
    values.set(input.name, out);
  }
  if (!rows) throw new CliError(`--input ${file}: no rows`);
  return { rows, values };
}

function toTensor(ort: Loaded['ort'], datatype: ModelSpec['inputs'][number]['datatype'], values: Float64Array, shape: number[]) {
  const info = datatypeInfo(datatype);
  if (!info.arrayType || !info.ortType || info.name === 'FP16' || info.name === 'BF16') throw new CliError(`input datatype ${datatype} cannot be given in a rows file`);
  const big = info.json === 'bigint';
  const data = new info.arrayType(values.length) as NumericArray;
  for (let i = 0; i < values.length; i++) (data as unknown as (number | bigint)[])[i] = big ? BigInt(Math.trunc(values[i]!)) : values[i]!;
  return new ort.Tensor(info.ortType, data as never, shape);
}

export async function profileFromRows(repository: string, model: string, version: string, file: string): Promise<ReferenceProfile> {
  const { spec, session, ort, bins, classScores } = await loadModel(repository, model, version);
  try {
    let profiled: ProfiledTensor[];
    try {
      profiled = profiledTensors(spec, classScores).tensors;
    } catch (error) {
      throw new CliError(`${model}/${version}: ${(error as Error).message}`);
    }
    const { rows, values } = readRows(file, spec);
    const rowsOf = new Map<string, TensorRows>();
    for (const input of spec.inputs) rowsOf.set(`input:${input.name}`, { data: values.get(input.name)!, rows });
    const outputs = new Map<string, Float64Array>();
    const widthOf = (shape: number[]): number => shape.slice(1).reduce((a, b) => a * b, 1);
    for (const output of spec.outputs) if (widthOf(output.shape) > 0) outputs.set(output.name, new Float64Array(rows * widthOf(output.shape)));
    const step = Math.min(RUN_ROWS, Math.max(1, spec.maxBatchSize));
    for (let start = 0; start < rows; start += step) {
      const n = Math.min(step, rows - start);
      const feeds: Record<string, ortModule.Tensor> = {};
      for (const input of spec.inputs) {
        const width = widthOf(input.shape);
        feeds[input.name] = toTensor(ort, input.datatype, values.get(input.name)!.subarray(start * width, (start + n) * width), [n, ...input.shape.slice(1)]);
      }
      const results = await session.run(feeds);
      for (const [name, store] of outputs) {
        const data = results[name]!.data;
        const width = store.length / rows;
        if (Array.isArray(data) || !datatypeFromOrt(results[name]!.type)) continue;
        for (let i = 0; i < n * width; i++) store[start * width + i] = Number((data as ArrayLike<number | bigint>)[i]);
      }
    }
    for (const [name, data] of outputs) rowsOf.set(`output:${name}`, { data, rows });
    for (const t of profiled) if (!rowsOf.has(rowsKey(t))) throw new CliError(`${t.source} ${t.name} has no rows to profile`);
    const profile = await buildReference(profiled, rowsOf, { model, version, bins, source: 'profiled' });
    // What the server will check when it loads the file, checked now.
    return parseReference(JSON.stringify(profile), profiled);
  } finally {
    await session.release();
  }
}
