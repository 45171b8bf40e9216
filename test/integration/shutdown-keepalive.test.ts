/**
 * SIGTERM under closed-loop load on keep-alive connections: every request that
 * reached the server is answered with its result, and each connection ends with
 * an answer that says `Connection: close`, never with a reset or a hang-up.
 */
import { Agent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { writeRepository } from '../helpers/repository.js';
import { GrpcTestClient } from '../helpers/grpc-client.js';
import { startServer } from '../helpers/server.js';

const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;
const CONNECTIONS = 32;
const INFER_BODY = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0.5) }] });

interface Outcome {
  started: number;
  ended: number;
  status?: number;
  /** The answer said `Connection: close`. */
  closes?: boolean;
  socket?: number;
  /** No answer: the error's code (ECONNREFUSED, ECONNRESET, ...). */
  error?: string;
}

const socketIds = new WeakMap<Socket, number>();
let sockets = 0;
const socketId = (socket: Socket): number => {
  if (!socketIds.has(socket)) socketIds.set(socket, ++sockets);
  return socketIds.get(socket)!;
};

function exchange(agent: Agent, port: number, method: string, path: string, body?: string): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const failed = (error: NodeJS.ErrnoException): void => resolve({ started, ended: performance.now(), error: error.code ?? error.message });
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const socket = socketId(res.socket);
      res.on('error', failed);
      res.resume();
      res.on('end', () =>
        resolve({ started, ended: performance.now(), status: res.statusCode ?? 0, closes: res.headers.connection === 'close', socket }),
      );
    });
    req.on('error', failed);
    req.end(body);
  });
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SIGTERM under keep-alive load', () => {
  it('serves through the drain delay with readiness off, then closes each connection after an answer: nothing reset, nothing unanswered, exit 0', async () => {
    const server = await startServer(writeRepository([{ entry: tiny }]), ['--drain-delay', '1']);
    const port = server.httpPort;
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const outcomes: Outcome[] = [];
    // Each loop runs until a connection is refused (the listener is closed), or any other error.
    const giveUp = performance.now() + 20_000;
    const loop = async (): Promise<void> => {
      for (;;) {
        const outcome = await exchange(agent, port, 'POST', '/v2/models/tiny_classifier/infer', INFER_BODY);
        outcomes.push(outcome);
        if (outcome.error !== undefined || performance.now() > giveUp) return;
      }
    };
    try {
      expect((await exchange(probeAgent, port, 'GET', '/v2/health/ready')).status).toBe(200);
      const loops = Array.from({ length: CONNECTIONS }, loop);
      await until(() => outcomes.length >= 4 * CONNECTIONS, 'load under way');

      const exited = server.stop();
      // Readiness fails at once, on a connection opened before: the answer does not close it,
      // so the listener is still open.
      let probe: Outcome;
      do probe = await exchange(probeAgent, port, 'GET', '/v2/health/ready');
      while (probe.status === 200);
      expect(probe).toMatchObject({ status: 503, closes: false });
      probeAgent.destroy();

      await Promise.all(loops);
      expect(await exited).toBe(0);
      await until(() => server.logs.some((l) => l['msg'] === 'stopped'), 'the last log line');
      expect(server.logs.find((l) => l['msg'] === 'stopped')?.['drained']).toBe(true);

      const answered = outcomes.filter((o) => o.status !== undefined);
      const refused = outcomes.filter((o) => o.error === 'ECONNREFUSED');
      const unanswered = outcomes.filter((o) => o.error !== undefined && o.error !== 'ECONNREFUSED');
      expect(unanswered).toEqual([]);
      expect(answered.filter((o) => o.status !== 200)).toEqual([]);
      // Every loop ended on a refused connection, none by giving up.
      expect(refused).toHaveLength(CONNECTIONS);
      // Normal service during the delay: answers after readiness failed, on connections kept open.
      expect(answered.filter((o) => o.started > probe.ended && !o.closes).length).toBeGreaterThan(0);

      // After the listener closed, each connection's next answer said `Connection: close` and was its last.
      const lastOnSocket = new Map<number, Outcome>();
      for (const o of answered.sort((a, b) => a.ended - b.ended)) lastOnSocket.set(o.socket!, o);
      expect([...lastOnSocket.values()].filter((o) => !o.closes)).toEqual([]);
      expect(answered.filter((o) => o.closes)).toHaveLength(lastOnSocket.size);
      // Refusals came only once connections were being closed.
      const firstClose = Math.min(...answered.filter((o) => o.closes).map((o) => o.started));
      expect(refused.every((o) => o.started > firstClose)).toBe(true);
    } finally {
      agent.destroy();
      probeAgent.destroy();
      await server.stop();
    }
  });
});

describe('SIGTERM with idle keep-alive connections', () => {
  it('answers a request that comes on an idle connection just after the listener closed, with Connection: close', async () => {
    const server = await startServer(writeRepository([{ entry: tiny }]), ['--drain-delay', '0']);
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    try {
      // Eight connections, used once and then idle since before the signal.
      const first = await Promise.all(Array.from({ length: 8 }, () => exchange(agent, server.httpPort, 'POST', '/v2/models/tiny_classifier/infer', INFER_BODY)));
      expect(first.map((o) => o.status)).toEqual(new Array(8).fill(200));
      const exited = server.stop();
      await until(() => server.logs.some((l) => String(l['msg']).startsWith('listeners closed')), 'the listeners to close');
      // Idle until now, they send again: the server waits a full quiet period after the close.
      const late = await Promise.all(Array.from({ length: 8 }, () => exchange(agent, server.httpPort, 'POST', '/v2/models/tiny_classifier/infer', INFER_BODY)));
      expect(late.map((o) => ({ status: o.status, closes: o.closes, error: o.error }))).toEqual(new Array(8).fill({ status: 200, closes: true, error: undefined }));
      expect(await exited).toBe(0);
    } finally {
      agent.destroy();
      await server.stop();
    }
  });
});

describe('gRPC health Watch streams on SIGTERM', () => {
  it('report NOT_SERVING and end when the listeners close, so they do not hold the shutdown', async () => {
    const server = await startServer(writeRepository([{ entry: tiny }]), ['--drain-delay', '0.2', '--drain-timeout', '30']);
    const client = new GrpcTestClient(server.grpcAddress);
    try {
      const statuses: string[] = [];
      const stream = client.health['Watch']!({ service: '' }) as NodeJS.EventEmitter;
      const ended = new Promise<void>((resolve, reject) => {
        stream.on('data', (message: { status: string }) => statuses.push(message.status));
        stream.on('end', () => resolve());
        stream.on('error', reject);
      });
      await waitUntil(() => statuses.length > 0);
      expect(statuses).toEqual(['SERVING']);
      const signalled = performance.now();
      const exited = server.stop();
      await ended;
      expect(statuses.at(-1)).toBe('NOT_SERVING');
      expect(await exited).toBe(0);
      // Well inside the 30 s drain timeout a Watch stream used to hold the shutdown for.
      expect(performance.now() - signalled).toBeLessThan(10_000);
    } finally {
      client.close();
    }
  });
});

async function waitUntil(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}
