/**
 * A real server process for integration tests: the compiled CLI on free
 * loopback ports, stopped with SIGTERM like in production.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';
import { projectFile } from '../../src/project-files.js';

export interface TestServer {
  url: string;
  httpPort: number;
  process: ChildProcess;
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
  stop(): Promise<number | null>;
}

export async function startServer(repository: string, extraArgs: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<TestServer> {
  const child = spawn(
    process.execPath,
    [projectFile('dist', 'src', 'cli.js'), 'serve', '--model-repository', repository, '--host', '127.0.0.1',
      '--http-port', '0', '--grpc-port', '0', '--admin-port', '0', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const serving = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry['msg'] === 'serving') resolve(entry['httpPort'] as number);
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before serving: ${stderr}`)));
  });
  const httpPort = await serving;
  return {
    url: `http://127.0.0.1:${httpPort}`,
    httpPort,
    process: child,
    logs,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
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
