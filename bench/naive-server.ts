/**
 * The baseline: a naive inference server. node:http, one session.run per
 * request on the main thread, no batching, no worker threads. It shares our
 * request decoder and response encoder, and the ONNX Runtime session options
 * this server gives the model (its config.json: intra-op threads, no spinning),
 * so the comparison measures the serving architecture, not the JSON code or
 * ONNX Runtime's defaults (intra-op threads spinning on every core, beside the
 * load generator).
 *
 * node dist/bench/naive-server.js <model.onnx> <model-name> [port]
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { decodeInferRequest } from '../src/http/infer-request.js';
import { encodeInferResponse } from '../src/http/infer-response.js';
import { datatypeFromOrt, datatypeInfo } from '../src/tensor/datatypes.js';
import { toServingError } from '../src/errors.js';
import { modelConfigFileSchema } from '../src/models/model-config.js';
import { sessionOptions } from '../src/runtime/session-options.js';

const [modelPath, modelName, portArg] = process.argv.slice(2);
if (!modelPath || !modelName) {
  console.error('usage: naive-server <model.onnx> <model-name> [port]');
  process.exit(2);
}
// <model>/<version>/model.onnx: the model's config.json is two folders up.
const configFile = path.join(path.dirname(path.dirname(modelPath)), 'config.json');
const config = modelConfigFileSchema.parse(existsSync(configFile) ? JSON.parse(readFileSync(configFile, 'utf8')) : {});
const session = await ort.InferenceSession.create(
  modelPath,
  sessionOptions({ intraOpThreads: config.intra_op_threads, intraOpSpinning: config.intra_op_spinning }, config.execution_providers),
);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      try {
        const headerLength = req.headers['inference-header-content-length'];
        const request = decodeInferRequest(Buffer.concat(chunks), {
          modelName,
          headerLength: typeof headerLength === 'string' ? headerLength : '',
        });
        const feeds = Object.fromEntries(
          request.inputs.map((i) => [i.name, new ort.Tensor(datatypeInfo(i.datatype).ortType!, i.data as ort.Tensor.DataType, i.shape)]),
        );
        const results = await session.run(feeds);
        const encoded = encodeInferResponse({
          modelName,
          modelVersion: '1',
          outputs: Object.entries(results).map(([name, t]) => ({
            name,
            datatype: datatypeFromOrt(t.type)!.name,
            shape: [...t.dims],
            data: t.data as Float32Array,
          })),
          ...(request.outputs ? { requestedOutputs: request.outputs } : {}),
          requestParameters: request.parameters,
        });
        res.writeHead(200, { 'content-type': encoded.contentType, ...Object.fromEntries(encoded.headers) });
        res.end(encoded.body);
      } catch (error) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: toServingError(error).message }));
      }
    })();
  });
});

server.listen(Number(portArg ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ msg: 'serving', httpPort: typeof address === 'object' && address ? address.port : 0 }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
