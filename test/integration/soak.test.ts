import { Agent, request as httpRequest } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { processRss, runSoak } from '../../bench/lib/soak.js';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { binaryRequest } from '../helpers/binary.js';
import { writeRepository } from '../helpers/repository.js';
import { startServer, type TestServer } from '../helpers/server.js';

// A test that times out is abandoned, not unwound: its `finally` may never run, and it may
// time out while its server is still starting. So every server started is also stopped here,
// once started (stopping twice is harmless).
const servers: Promise<TestServer>[] = [];
const serve = (repository: string): Promise<TestServer> => {
  const server = startServer(repository);
  servers.push(server);
  return server;
};
afterAll(async () => {
  await Promise.all(servers.map((s) => s.then((server) => server.stop(), () => undefined)));
});

describe('a short soak far past capacity', () => {
  it('answers every request with 200, 4xx or 503, and loses none', { timeout: 60_000 }, async () => {
    // `slow` serves about five requests a second; 200 a second is forty times that.
    const repository = writeRepository([
      { entry: TEST_MODELS.slow, as: 'tiny_classifier', config: { max_batch_size: 1, dynamic_batching: { max_queue_size: 8 } } },
      { entry: BUNDLED_MODELS.find((e) => e.model === 'scorer')! },
    ]);
    const server = await serve(repository);
    try {
      const result = await runSoak({
        host: '127.0.0.1',
        port: server.httpPort,
        model: 'tiny_classifier',
        validBody: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }),
        ratePerSecond: 200,
        durationSeconds: 3,
        drainSeconds: 20,
        connections: 64,
        rss: () => processRss(server.process.pid!),
      });
      expect(result.lost, JSON.stringify(result.lostReasons)).toBe(0);
      const statuses = Object.keys(result.answered).map(Number);
      expect(statuses.every((s) => s === 200 || (s >= 400 && s < 500) || s === 503), JSON.stringify(result.answered)).toBe(true);
      expect(result.answered['200']).toBeGreaterThan(0);
      expect(result.answered['503']).toBeGreaterThan(0);
      expect(result.answered['400']).toBeGreaterThan(0);
      expect(result.answered['404']).toBeGreaterThan(0);
      expect(Object.values(result.answered).reduce((a, b) => a + b, 0)).toBe(result.sent);
    } finally {
      await server.stop();
    }
  });
});

describe('memory under steady load', () => {
  // A fixed amount of work, not a duration: 700 requests of 1 MiB each way, about 10 ms of CPU
  // each between client and server (7 s), plus a start. Seen taking 16 s alone at load 6, and
  // 50 to 72 s beside another test file at load 10 to 12: the timeout allows for that, with margin.
  it('stays bounded: a finished batch’s tensors are not kept', { timeout: 120_000 }, async () => {
    const repository = writeRepository([{ entry: TEST_MODELS.floatEcho, config: { max_batch_size: 8 } }]);
    const server = await serve(repository);
    // node:http, not fetch: fetch's web streams cost the client about three times the server's
    // CPU per 1 MiB answer, which made this test several times longer on a busy machine.
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    try {
      // 1 MiB in and 1 MiB out per request: a leak of either shows within a few hundred.
      const { body, headers } = binaryRequest([{ name: 'fp32_in', datatype: 'FP32', shape: [1, 262_144], data: new Float32Array(262_144).fill(0.5) }], {
        outputs: [{ name: 'fp32_out', parameters: { binary_data: true } }],
      });
      const infer = (): Promise<{ status: number; bytes: number }> =>
        new Promise((resolve, reject) => {
          const req = httpRequest(
            { host: '127.0.0.1', port: server.httpPort, path: '/v2/models/float_echo/infer', method: 'POST', agent, headers: { ...headers, 'content-length': body.length } },
            (res) => {
              let bytes = 0;
              res.on('data', (chunk: Buffer) => (bytes += chunk.length));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      const send = async (count: number): Promise<void> => {
        const workers = Array.from({ length: 8 }, async (_, w) => {
          for (let i = w; i < count; i += 8) {
            const answer = await infer();
            expect(answer.status).toBe(200);
            // The whole 1 MiB output came back: the server really built and sent it.
            expect(answer.bytes).toBeGreaterThan(2 ** 20);
          }
        });
        await Promise.all(workers);
      };
      await send(100);
      const warm = processRss(server.process.pid!)!;
      await send(600);
      const grown = processRss(server.process.pid!)! - warm;
      expect(grown / 2 ** 20).toBeLessThan(200);
    } finally {
      agent.destroy();
      await server.stop();
    }
  });
});
