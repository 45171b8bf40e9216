/**
 * Concatenating requests along the batch dimension and splitting the outputs
 * back. Inputs are copied once into fresh, compact arrays that move to the
 * worker thread without a second copy; outputs come back as one array per
 * output and each request receives views of its own rows.
 */
import { ServingError } from '../errors.js';
import { datatypeFromOrt, datatypeInfo, type NumericArray, type TensorData } from '../tensor/datatypes.js';
import type { InputTensor, OutputTensor } from '../types.js';
import type { WireTensor } from '../runtime/messages.js';

export interface AssembledBatch {
  inputs: WireTensor[];
  /** Buffers the worker may take over: allocated here, referenced by nothing else. */
  transfer: ArrayBuffer[];
}

/** True when the array is the whole of its own buffer, so moving the buffer moves only it. */
const isCompact = (data: NumericArray): boolean =>
  data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;

/**
 * Builds the model's inputs for a batch. Each request's inputs must already be
 * in `inputNames` order and validated against the model (same datatypes, same
 * non-batch dimensions within the batch).
 */
export function assembleBatch(requests: readonly InputTensor[][], inputNames: readonly string[]): AssembledBatch {
  const inputs: WireTensor[] = [];
  const transfer: ArrayBuffer[] = [];
  for (let i = 0; i < inputNames.length; i++) {
    const first = requests[0]![i]!;
    const info = datatypeInfo(first.datatype);
    const type = info.ortType!;
    let rows = 0;
    for (const request of requests) rows += request[i]!.shape[0]!;
    const shape = requests.length === 1 ? first.shape : [rows, ...first.shape.slice(1)];
    let data: TensorData;
    if (Array.isArray(first.data)) {
      data = requests.length === 1 ? first.data : requests.flatMap((r) => r[i]!.data as string[]);
    } else if (requests.length === 1 && isCompact(first.data)) {
      // A request's own array (decoded from JSON) moves as it is: nothing else holds it.
      data = first.data;
      transfer.push(first.data.buffer as ArrayBuffer);
    } else {
      let total = 0;
      for (const request of requests) total += (request[i]!.data as NumericArray).length;
      const out = new info.arrayType!(total);
      let offset = 0;
      for (const request of requests) {
        const part = request[i]!.data as NumericArray;
        (out as Uint8Array).set(part as Uint8Array, offset);
        offset += part.length;
      }
      data = out;
      transfer.push(out.buffer as ArrayBuffer);
    }
    inputs.push({ name: inputNames[i]!, type, shape, data });
  }
  return { inputs, transfer };
}

/** Converts the worker's outputs to protocol tensors, checking their datatypes are known. */
export function toOutputTensors(outputs: readonly WireTensor[]): OutputTensor[] {
  return outputs.map((o) => {
    const info = datatypeFromOrt(o.type);
    if (!info) throw new ServingError('INTERNAL', `output ${o.name} has a type (${o.type}) the server cannot return`);
    return { name: o.name, datatype: info.name, shape: o.shape, data: o.data };
  });
}

/** Splits each batch output into per-request outputs by rows, as views of the batch arrays. */
export function splitOutputs(outputs: readonly OutputTensor[], rowCounts: readonly number[]): OutputTensor[][] {
  const totalRows = rowCounts.reduce((a, b) => a + b, 0);
  const perRequest: OutputTensor[][] = rowCounts.map(() => []);
  for (const output of outputs) {
    if (output.shape[0] !== totalRows) {
      throw new ServingError(
        'INTERNAL',
        `output ${output.name} has ${output.shape[0]} rows for a batch of ${totalRows}; the model does not keep the batch dimension`,
      );
    }
    const rowSize = totalRows === 0 ? 0 : output.data.length / totalRows;
    let row = 0;
    rowCounts.forEach((rows, r) => {
      const start = row * rowSize;
      const end = (row + rows) * rowSize;
      const data = Array.isArray(output.data) ? output.data.slice(start, end) : output.data.subarray(start, end);
      perRequest[r]!.push({ name: output.name, datatype: output.datatype, shape: [rows, ...output.shape.slice(1)], data });
      row += rows;
    });
  }
  return perRequest;
}
