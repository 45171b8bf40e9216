/**
 * The internal InferResponse as a REST body: JSON, or a JSON header followed by
 * raw tensor bytes (binary tensor data extension) for the outputs that ask for
 * it. FP16 and BF16 have no JSON form, so they always go binary.
 */
import type { InferResponse, OutputTensor, Parameters } from '../types.js';
import { encodeBytesElements } from '../tensor/bytes-elements.js';
import { bytesOf, datatypeInfo } from '../tensor/datatypes.js';
import { encodeJsonData } from '../tensor/json-data.js';
import type { Header } from './respond.js';

export interface EncodedResponse {
  body: string | Buffer;
  contentType: string;
  headers: Header[];
}

function wantsBinary(output: OutputTensor, response: InferResponse): boolean {
  if (datatypeInfo(output.datatype).json === 'binary-only') return true;
  const requested = response.requestedOutputs?.find((o) => o.name === output.name);
  const own = requested?.parameters?.['binary_data'];
  if (typeof own === 'boolean') return own;
  return response.requestParameters['binary_data_output'] === true;
}

const shapeJson = (shape: readonly number[]): string => `[${shape.join(',')}]`;

/**
 * `{"model_name":…,"model_version":…` per name and version, made once: names are those of
 * served models and routes (a request for any other is refused before it gets an answer), so
 * the table stays as small as the repository.
 */
const prefixes = new Map<string, Map<string, string>>();

function prefix(modelName: string, modelVersion: string): string {
  let byVersion = prefixes.get(modelName);
  if (!byVersion) prefixes.set(modelName, (byVersion = new Map()));
  let made = byVersion.get(modelVersion);
  if (made === undefined) {
    made = `{"model_name":${JSON.stringify(modelName)},"model_version":${JSON.stringify(modelVersion)}`;
    byVersion.set(modelVersion, made);
  }
  return made;
}

function head(response: InferResponse): string {
  let s = prefix(response.modelName, response.modelVersion);
  if (response.id !== undefined) s += `,"id":${JSON.stringify(response.id)}`;
  if (response.parameters) s += `,"parameters":${JSON.stringify(response.parameters)}`;
  return s + ',"outputs":[';
}

function outputHead(output: OutputTensor, parameters?: Parameters): string {
  let s = `{"name":${JSON.stringify(output.name)},"datatype":"${output.datatype}","shape":${shapeJson(output.shape)}`;
  if (parameters) s += `,"parameters":${JSON.stringify(parameters)}`;
  return s;
}

function binaryBytes(output: OutputTensor): Uint8Array {
  return Array.isArray(output.data) ? encodeBytesElements(output.data) : bytesOf(output.data);
}

export function encodeInferResponse(response: InferResponse): EncodedResponse {
  const binaryParts: Uint8Array[] = [];
  let json = head(response);
  response.outputs.forEach((output, i) => {
    if (i > 0) json += ',';
    if (wantsBinary(output, response)) {
      const bytes = binaryBytes(output);
      binaryParts.push(bytes);
      json += outputHead(output, { binary_data_size: bytes.byteLength }) + '}';
    } else {
      json += outputHead(output) + `,"data":${encodeJsonData(datatypeInfo(output.datatype), output.data)}}`;
    }
  });
  json += ']}';
  if (binaryParts.length === 0) return { body: json, contentType: 'application/json', headers: [] };
  const header = Buffer.from(json);
  const body = Buffer.concat([header, ...binaryParts]);
  return {
    body,
    contentType: 'application/octet-stream',
    headers: [['Inference-Header-Content-Length', String(header.byteLength)]],
  };
}
