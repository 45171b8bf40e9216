/**
 * The tensors of one warmup sample, built in the worker from its plan. The
 * batch dimension is added when the model's input has one more dimension than
 * the sample's dims; a file or generated row is repeated for every row.
 */
import { datatypeInfo, viewBytes, type Datatype, type TensorData } from '../tensor/datatypes.js';
import type { WarmupInputPlan, WarmupPlan, WireTensor } from './messages.js';

export function decodeStrings(bytes: Uint8Array, count: number): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const strings: string[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (offset + 4 > bytes.byteLength) throw new Error('input_data_file ends inside a BYTES length prefix');
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength) throw new Error('input_data_file ends inside a BYTES element');
    strings.push(Buffer.from(bytes.subarray(offset, offset + length)).toString('utf8'));
    offset += length;
  }
  if (strings.length !== count) throw new Error(`input_data_file holds ${strings.length} BYTES elements, one row needs ${count}`);
  return strings;
}

function randomRow(datatype: Datatype, count: number): TensorData {
  const info = datatypeInfo(datatype);
  if (!info.arrayType) return Array.from({ length: count }, () => Math.random().toString(36).slice(2, 10));
  const row = new info.arrayType(count);
  for (let i = 0; i < count; i++) {
    if (info.json === 'float') row[i] = Math.random() * 2 - 1;
    else if (info.json === 'bigint') row[i] = BigInt(Math.floor(Math.random() * 100));
    else if (datatype === 'BOOL') row[i] = Math.random() < 0.5 ? 1 : 0;
    else if (datatype === 'FP16') row[i] = 0x3c00; // 1.0: random bit patterns could be NaN
    else row[i] = Math.floor(Math.random() * 100);
  }
  return row;
}

function row(input: WarmupInputPlan, count: number): TensorData {
  const info = datatypeInfo(input.datatype);
  if (input.fill === 'file') return info.arrayType ? viewBytes(info, input.bytes!) : decodeStrings(input.bytes!, count);
  if (input.fill === 'random') return randomRow(input.datatype, count);
  return info.arrayType ? new info.arrayType(count) : Array.from({ length: count }, () => '');
}

function repeat(data: TensorData, times: number): TensorData {
  if (times === 1) return data;
  if (Array.isArray(data)) return Array.from({ length: data.length * times }, (_, i) => data[i % data.length]!);
  const out = new (data.constructor as new (n: number) => Float64Array)(data.length * times);
  for (let i = 0; i < times; i++) out.set(data as unknown as Float64Array, i * data.length);
  return out as unknown as TensorData;
}

/** `rankOf` gives the model's declared rank for an input, or undefined when it has no such input. */
export function warmupTensors(plan: WarmupPlan, rankOf: (name: string) => number | undefined): WireTensor[] {
  return plan.inputs.map((input) => {
    const rank = rankOf(input.name);
    if (rank === undefined) throw new Error(`warmup ${plan.name}: the model has no input ${input.name}`);
    const batched = rank === input.dims.length + 1;
    const count = input.dims.reduce((n, d) => n * d, 1);
    const data = repeat(row(input, count), batched ? plan.batchSize : 1);
    const info = datatypeInfo(input.datatype);
    return { name: input.name, type: info.ortType!, shape: batched ? [plan.batchSize, ...input.dims] : input.dims, data };
  });
}
