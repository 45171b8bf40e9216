/**
 * A real server process for integration tests: the compiled CLI on free
 * loopback ports, stopped with SIGTERM like in production.
 */
import type { ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { startChild } from '../../bench/lib/child-server.js';
import { projectFile } from '../../src/project-files.js';
import { tempDir } from './repository.js';

export interface TestServer {
  url: string;
  httpPort: number;
  /** host:port of the gRPC listener. */
  grpcAddress: string;
  process: ChildProcess;
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
  stop(): Promise<number | null>;
}

/** Resolves once `isReady` holds for a log line (by default the serving line); that line must carry the ports. */
export async function startServer(
  repository: string,
  extraArgs: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
  isReady: (line: Record<string, unknown>) => boolean = (line) => line['msg'] === 'serving',
): Promise<TestServer> {
  const child = await startChild(
    process.execPath,
    [projectFile('dist', 'src', 'cli.js'), 'serve', '--model-repository', repository, '--host', '127.0.0.1',
      '--http-port', '0', '--grpc-port', '0', '--admin-port', '0', '--state-dir', tempDir('state'),
      // Stopped at once rather than after the 5 s a SIGTERM allows load balancers; a test's own flag wins (last one counts).
      '--drain-delay', '0', ...extraArgs],
    isReady,
    env,
  );
  const httpPort = child.ready['httpPort'] as number;
  return {
    url: `http://127.0.0.1:${httpPort}`,
    httpPort,
    grpcAddress: `127.0.0.1:${child.ready['grpcPort'] as number}`,
    process: child.process,
    logs: child.logs,
    stop: child.stop,
  };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

export async function request(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const response = await fetch(url, init);
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body, json: <T>() => JSON.parse(body.toString()) as T };
}

export const postJson = (url: string, value: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
  request(url, { method: 'POST', body: JSON.stringify(value), headers: { 'content-type': 'application/json', ...headers } });

/** A request whose path goes out exactly as written (fetch would normalise `..` and `%2e%2e`). */
export function rawRequest(port: number, method: string, path: string, body?: string | Buffer): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buffer = Buffer.concat(chunks);
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers, body: buffer, json: <T>() => JSON.parse(buffer.toString()) as T });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
