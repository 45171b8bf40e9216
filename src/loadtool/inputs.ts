/**
 * A request body for any Open Inference Protocol model, generated from its
 * metadata (GET /v2/models/{m}): every input filled with deterministic values
 * of its datatype, `rows` rows, variable dimensions set to `dim`.
 */
import { readFileSync } from 'node:fs';
import { CONTENT_FIELD } from '../grpc/messages.js';

interface TensorMeta {
  name: string;
  datatype: string;
  shape: number[];
}

export async function fetchMetadata(base: string, model: string): Promise<{ inputs: TensorMeta[]; batched: boolean }> {
  const response = await fetch(`${base}/v2/models/${encodeURIComponent(model)}`);
  if (!response.ok) throw new Error(`GET /v2/models/${model}: ${response.status} ${await response.text()}`);
  const meta = (await response.json()) as { inputs: TensorMeta[] };
  return { inputs: meta.inputs, batched: meta.inputs.every((i) => i.shape[0] === -1) };
}

function values(datatype: string, count: number): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const x = Math.sin(i + 1);
    switch (datatype) {
      case 'BOOL':
        out.push(x > 0);
        break;
      case 'BYTES':
        out.push(`item-${i}`);
        break;
      case 'FP32':
      case 'FP64':
        out.push(Math.round(x * 1e6) / 1e6);
        break;
      default:
        out.push(Math.abs(Math.round(x * 100)) % 100);
    }
  }
  return out;
}

/** A JSON request body for the model: generated, or read from `file` when given. */
export function requestBody(inputs: TensorMeta[], batched: boolean, rows: number, dim: number, file?: string): Buffer {
  if (file) return readFileSync(file);
  return Buffer.from(
    JSON.stringify({
      inputs: inputs.map((input) => {
        const shape = input.shape.map((d, i) => (i === 0 && batched ? rows : d === -1 ? dim : d));
        if (input.datatype === 'FP16' || input.datatype === 'BF16') throw new Error(`input ${input.name} is ${input.datatype}: give a request with --input`);
        return { name: input.name, datatype: input.datatype, shape, data: values(input.datatype, shape.reduce((a, b) => a * b, 1)) };
      }),
    }),
  );
}

/** The same request as a gRPC ModelInferRequest with typed contents. */
export function grpcMessage(model: string, jsonBody: Buffer): unknown {
  const { inputs } = JSON.parse(jsonBody.toString()) as { inputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[] };
  return {
    model_name: model,
    inputs: inputs.map((input) => {
      const field = CONTENT_FIELD[input.datatype];
      if (!field) throw new Error(`input ${input.name}: ${input.datatype} has no typed gRPC contents`);
      const data =
        input.datatype === 'BYTES' ? input.data.map((v) => Buffer.from(String(v)))
        : input.datatype.endsWith('INT64') ? input.data.map(String)
        : input.data;
      return { name: input.name, datatype: input.datatype, shape: input.shape, contents: { [field]: data } };
    }),
  };
}
