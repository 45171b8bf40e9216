import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
const LIMIT = 64 * 1024;

beforeAll(async () => {
  const repository = writeRepository([{ entry: BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!, config: { max_batch_size: 8 } }]);
  server = await startServer(repository, ['--max-body-bytes', String(LIMIT), '--body-timeout-ms', '300']);
});

afterAll(async () => {
  await server?.stop();
});

const inferUrl = () => `${server.url}/v2/models/tiny_classifier/infer`;
const valid = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0.1) }] };

/** Whether `text` holds a whole HTTP response with a Content-Length body. */
function completeResponse(text: string): boolean {
  const headerEnd = text.indexOf('\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headerEnd));
  return headerEnd >= 0 && length !== null && Buffer.byteLength(text.slice(headerEnd + 4)) >= Number(length[1]);
}

/** Writes raw bytes on a fresh connection and returns the server's answer, once whole or once the server closed. */
function rawExchange(payload: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.httpPort, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => {
      received += d.toString();
      if (completeResponse(received)) socket.end();
    });
    socket.on('error', () => resolve(received));
    socket.on('close', () => resolve(received));
    socket.write(payload, (err) => err && reject(err));
  });
}

describe('bodies over the limit', () => {
  it('refuses a declared Content-Length over the limit with 413, before reading it', async () => {
    const answer = await rawExchange(
      `POST /v2/models/tiny_classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT * 1000}\r\n\r\n{"inputs":`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 413/);
    expect(answer).toMatch(/over the limit of 65536 bytes/);
  });

  it('cuts off a chunked body when it passes the limit', async () => {
    const chunk = 'a'.repeat(16 * 1024);
    const chunks = Array.from({ length: 8 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
    const answer = await rawExchange(
      `POST /v2/models/tiny_classifier/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 413/);
  });

  it('accepts a chunked body under the limit', async () => {
    const body = JSON.stringify(valid);
    const answer = await rawExchange(
      `POST /v2/models/tiny_classifier/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 200/);
  });
});

describe('slow clients', () => {
  it('cuts off a body trickled in past --body-timeout-ms with 408 and closes the connection', async () => {
    const started = performance.now();
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(server.httpPort, '127.0.0.1');
      let received = '';
      socket.on('data', (d) => (received += d.toString()));
      socket.on('close', () => resolve(received));
      socket.on('error', () => resolve(received));
      socket.write('POST /v2/models/tiny_classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"inputs":');
      // A byte now and then, never the whole body.
      const trickle = setInterval(() => socket.write(' '), 100);
      socket.on('close', () => clearInterval(trickle));
    });
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(answer).toMatch(/did not arrive within 300 ms/);
    // A guard far from both 300 ms and the 100 s the whole body would take to trickle in.
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});

describe('slow headers', () => {
  it('closes a connection whose headers trickle in, within uWebSockets.js’s 10 s limit', { timeout: 30_000 }, async () => {
    const header = `GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(100)}`;
    const sentBytes = await new Promise<number>((resolve) => {
      const socket = connect(server.httpPort, '127.0.0.1');
      let sent = 0;
      const trickle = setInterval(() => sent < header.length && socket.write(header[sent++]!), 500);
      socket.on('close', () => {
        clearInterval(trickle);
        resolve(sent);
      });
      socket.on('error', () => undefined);
    });
    // Bytes kept arriving every half second; the connection was cut all the same, long before the
    // headers (a minute of trickling) were complete.
    expect(sentBytes).toBeGreaterThan(10);
    expect(sentBytes).toBeLessThan(header.length);
  });
});

describe('requests that disagree with the model', () => {
  it.each([
    ['a wrong datatype', { inputs: [{ name: 'input', datatype: 'FP64', shape: [1, 64], data: new Array(64).fill(0) }] }, /datatype FP64 does not match the model's FP32/],
    ['a wrong shape', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 63], data: new Array(63).fill(0) }] }, /shape \[1, 63\] does not match the model's \[-1, 64\]/],
    ['a wrong rank', { inputs: [{ name: 'input', datatype: 'FP32', shape: [64], data: new Array(64).fill(0) }] }, /has 1 dimensions, the model expects 2/],
    ['a batch over max_batch_size', { inputs: [{ name: 'input', datatype: 'FP32', shape: [9, 64], data: new Array(9 * 64).fill(0) }] }, /batch size 9 must be between 1 and max_batch_size 8/],
    ['a missing input', { inputs: [{ name: 'other', datatype: 'FP32', shape: [1], data: [0] }] }, /unknown input "other"/],
    ['a duplicate input', { inputs: [valid.inputs[0], valid.inputs[0]] }, /given more than once/],
    ['data shorter than the shape', { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: [1] }] }, /data has 1 elements but shape \[1, 64\] needs 64/],
    ['a huge declared shape with a tiny body', { inputs: [{ name: 'input', datatype: 'FP32', shape: [2 ** 40, 64], data: [1] }] }, /declares more elements/],
    ['a negative timeout', { parameters: { timeout: -5 }, ...valid }, /parameter timeout must be an integer/],
  ])('answers 400 for %s', async (_, body, message) => {
    const answer = await postJson(inferUrl(), body);
    expect(answer.status).toBe(400);
    expect(answer.json()['error']).toMatch(message);
  });

  it.each([
    ['data nested 10,000 deep', `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,64],"data":${'['.repeat(10_000)}${']'.repeat(10_000)}}]}`, /data\[0\] must be an array of 64/],
    ['a shape whose element count overflows', JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [16, 2 ** 60], data: [1] }] }), /declares more elements/],
    ['a negative dimension', JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 64], data: [1] }] }), /shape\[0\] must be a non-negative integer, got -1/],
    ['a fractional dimension', JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1.5, 64], data: [1] }] }), /shape\[0\] must be a non-negative integer, got 1.5/],
    ['NaN text in numeric data', JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: [1, 'NaN'] }] }), /data\[1\] must be a number, got the string "NaN"/],
    ['ragged nested data', JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 2], data: [[1, 2, 3], [4]] }] }), /data\[0\] must be an array of 2/],
    ['a requested output that does not exist', JSON.stringify({ ...valid, outputs: [{ name: 'no_such_output' }] }), /no_such_output/],
  ])('answers 400 end to end for %s, naming the problem and no server path', async (_, body, message) => {
    const answer = await request(inferUrl(), { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(400);
    expect(answer.json()['error']).toMatch(message);
    expect(answer.json()['error']).not.toMatch(/\/(tmp|work|home|usr)\//);
  });

  it.each([['abc'], ['99999999999999999999'], ['-1']])('answers 400 for Inference-Header-Content-Length %s', async (value) => {
    const answer = await request(inferUrl(), {
      method: 'POST',
      body: JSON.stringify(valid),
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': value },
    });
    expect(answer.status).toBe(400);
    expect(answer.json()['error']).toMatch(/Inference-Header-Content-Length/);
  });

  it('answers 400 for malformed and truncated JSON', async () => {
    for (const body of ['{"inputs": [', 'not json', '']) {
      const answer = await request(inferUrl(), { method: 'POST', body });
      expect(answer.status, body).toBe(400);
      expect(answer.json()['error']).toMatch(/JSON|empty/);
    }
  });

  it('keeps serving after all of the above', async () => {
    const answer = await postJson(inferUrl(), valid);
    expect(answer.status).toBe(200);
    expect((await request(`${server.url}/v2/health/live`)).status).toBe(200);
  });
});
