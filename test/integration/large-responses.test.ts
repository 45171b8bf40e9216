import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS } from '../../src/modelgen/catalog.js';
import { binaryRequest, readOutputs } from '../helpers/binary.js';
import { writeRepository } from '../helpers/repository.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  const repository = writeRepository([{ entry: TEST_MODELS.typedEcho, config: { max_batch_size: 4 } }]);
  server = await startServer(repository);
});

afterAll(async () => {
  await server?.stop();
});

/** A typed_echo request whose FP64 output is `rows × n` values: 8 bytes each. */
function echoRequest(rows: number, n: number) {
  const fp64 = Float64Array.from({ length: rows * n }, (_, i) => i * 0.5);
  const inputs = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP32', 'FP64', 'BYTES'].map((datatype) => {
    const count = rows * n;
    const data =
      datatype === 'FP64' ? fp64
      : datatype === 'BYTES' ? Array.from({ length: count }, () => '')
      : datatype === 'UINT64' ? new BigUint64Array(count)
      : datatype === 'INT64' ? new BigInt64Array(count)
      : datatype === 'FP32' ? new Float32Array(count)
      : datatype === 'INT32' ? new Int32Array(count)
      : datatype === 'UINT32' ? new Uint32Array(count)
      : datatype === 'INT16' ? new Int16Array(count)
      : datatype === 'UINT16' ? new Uint16Array(count)
      : datatype === 'INT8' ? new Int8Array(count)
      : new Uint8Array(count);
    return { name: `${datatype.toLowerCase()}_in`, datatype: datatype as never, shape: [rows, n], data };
  });
  return { fp64, ...binaryRequest(inputs, { outputs: [{ name: 'fp64_out', parameters: { binary_data: true } }] }) };
}

describe('large responses', () => {
  it('reach a client that reads slowly whole and exact, while the server keeps serving others', { timeout: 30_000 }, async () => {
    // 8 MiB of FP64 output: far past the 256 KiB written in one go, so it goes out as the client reads.
    const { fp64, body, headers } = echoRequest(1, 1024 * 1024);
    const head = [
      'POST /v2/models/typed_echo/infer HTTP/1.1',
      'Host: x',
      `Content-Length: ${body.length}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      'Connection: close',
      '',
      '',
    ].join('\r\n');
    const socket = connect(server.httpPort, '127.0.0.1');
    socket.pause();
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(head);
    socket.write(body);

    // While that client reads nothing, another is served.
    await new Promise((r) => setTimeout(r, 300));
    const small = echoRequest(1, 4);
    const quick = await fetch(`${server.url}/v2/models/typed_echo/infer`, { method: 'POST', body: small.body, headers: small.headers });
    expect(quick.status).toBe(200);

    // Now read slowly: resume in small steps.
    for (let i = 0; i < 10; i++) {
      socket.resume();
      await new Promise((r) => setTimeout(r, 20));
      socket.pause();
    }
    socket.resume();
    await closed;
    const raw = Buffer.concat(chunks);
    const split = raw.indexOf('\r\n\r\n');
    const responseHead = raw.subarray(0, split).toString();
    expect(responseHead).toMatch(/^HTTP\/1.1 200/);
    const headerLength = /inference-header-content-length: (\d+)/i.exec(responseHead)![1]!;
    const { outputs } = readOutputs(raw.subarray(split + 4), headerLength);
    const out = outputs[0]!.data as Float64Array;
    expect(out.length).toBe(fp64.length);
    // Every value in place: a wrong write offset would shift or repeat bytes.
    for (const i of [0, 1, 4095, 32768, 500_000, fp64.length - 1]) expect(out[i]).toBe(fp64[i]);
    expect(Buffer.from(out.buffer, out.byteOffset, out.byteLength).equals(Buffer.from(fp64.buffer))).toBe(true);
  });
});
