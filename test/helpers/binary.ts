/** Building and reading bodies of the binary tensor data extension, as tritonclient does. */
import { encodeBytesElements } from '../../src/tensor/bytes-elements.js';
import type { TensorData } from '../../src/tensor/datatypes.js';
import { bytesOf, datatypeInfo, viewBytes, type Datatype } from '../../src/tensor/datatypes.js';
import { decodeBytesElements } from '../../src/tensor/bytes-elements.js';

export interface BinaryInput {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
}

export function binaryRequest(inputs: BinaryInput[], extra: Record<string, unknown> = {}): { body: Buffer; headers: Record<string, string> } {
  const parts = inputs.map((i) => (Array.isArray(i.data) ? encodeBytesElements(i.data) : Buffer.from(bytesOf(i.data))));
  const header = Buffer.from(
    JSON.stringify({
      ...extra,
      inputs: inputs.map((i, k) => ({ name: i.name, datatype: i.datatype, shape: i.shape, parameters: { binary_data_size: parts[k]!.length } })),
    }),
  );
  return {
    body: Buffer.concat([header, ...parts]),
    headers: { 'inference-header-content-length': String(header.length), 'content-type': 'application/octet-stream' },
  };
}

export interface DecodedOutput {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData | unknown[];
}

/** Reads a response whose outputs may be JSON or binary. */
export function readOutputs(body: Buffer, headerLengthHeader: string | null): { header: Record<string, unknown>; outputs: DecodedOutput[] } {
  const headerLength = headerLengthHeader ? Number(headerLengthHeader) : body.length;
  const header = JSON.parse(body.subarray(0, headerLength).toString()) as Record<string, unknown>;
  let offset = headerLength;
  const outputs = (header['outputs'] as Record<string, unknown>[]).map((o) => {
    const datatype = o['datatype'] as Datatype;
    const size = (o['parameters'] as Record<string, number> | undefined)?.['binary_data_size'];
    if (size === undefined) return o as unknown as DecodedOutput;
    const bytes = new Uint8Array(body.subarray(offset, offset + size));
    offset += size;
    const shape = o['shape'] as number[];
    const count = shape.reduce((a, b) => a * b, 1);
    const data = datatype === 'BYTES' ? decodeBytesElements(bytes, count, o['name'] as string) : viewBytes(datatypeInfo(datatype), bytes);
    return { name: o['name'] as string, datatype, shape, data };
  });
  return { header, outputs };
}
