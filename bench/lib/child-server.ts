/**
 * Starts a server as a child process and waits for the JSON log line that
 * says it is serving. Used by the benchmarks and by the integration tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { projectFile } from '../../src/project-files.js';

export interface ChildServer {
  process: ChildProcess;
  /** The serving line's fields (httpPort, ...). */
  ready: Record<string, unknown>;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function startChild(
  command: string,
  args: readonly string[],
  isReady: (line: Record<string, unknown>) => boolean,
  env: NodeJS.ProcessEnv = {},
): Promise<ChildServer> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (isReady(entry)) resolve(entry);
    });
    void exited.then((code) => reject(new Error(`${command} exited with ${code} before it was ready: ${stderr.slice(-2000)}`)));
  });
  return {
    process: child,
    ready,
    logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** This server from the compiled CLI on free loopback ports, with a fresh state folder. */
export function startBrisk(extraArgs: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  return startChild(
    process.execPath,
    [
      projectFile('dist', 'src', 'cli.js'), 'serve', '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--admin-port', '0',
      '--state-dir', mkdtempSync(path.join(tmpdir(), 'brisk-bench-state-')),
      // A bench's server has no load balancer to warn: it stops at once (a later flag wins).
      '--drain-delay', '0', ...extraArgs,
    ],
    (line) => line['msg'] === 'serving',
    env,
  );
}
