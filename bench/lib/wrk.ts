/**
 * HTTP load from wrk (C, keep-alive): POSTs of one fixed body on every connection,
 * as fast as each is answered. The body and headers go in a generated Lua script;
 * the script's done() prints wrk's own counts and latency percentiles as one JSON
 * line, so nothing is scraped from its human-readable report.
 *
 * wrk counts every complete answer in `requests` and the ones with a status above
 * 399 apart (`errors.status`); socket errors (connect, read, write, timeout) are
 * not answers. So the 2xx answers are requests less status errors: 1xx and 3xx
 * would pass for 2xx, and none of the servers measured here sends them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const WRK = 'wrk';

export interface WrkOptions {
  url: string;
  body: Uint8Array;
  headers: Record<string, string>;
  connections: number;
  threads: number;
  /** Whole seconds: wrk reads no fractions. */
  seconds: number;
  /** Runs wrk with `taskset -c <cpu>`; undefined leaves it where the scheduler puts it. */
  cpu?: number | undefined;
}

export interface SocketErrors {
  connect: number;
  read: number;
  write: number;
  timeout: number;
}

export interface WrkRun {
  /** wrk's own measured duration. */
  seconds: number;
  /** Complete answers of any status. */
  answered: number;
  /** 2xx answers. */
  ok: number;
  /** Answers with a status above 399. */
  non2xx: number;
  socketErrors: SocketErrors;
  /** Over every answer, in µs, from wrk's histogram. */
  latencyUs: { p50: number; p90: number; p99: number; mean: number; max: number };
}

export async function wrkAvailable(): Promise<boolean> {
  // wrk has no --version that exits 0; -v prints its version and exits 1.
  const answer = await run(WRK, ['-v']).catch((error: { stdout?: string; code?: unknown }) => error);
  return typeof answer.stdout === 'string' && answer.stdout.startsWith('wrk ');
}

const luaString = (s: string): string => JSON.stringify(s); // ASCII names and values only: JSON escapes read the same in Lua.

function script(bodyFile: string, headers: Record<string, string>): string {
  return [
    `local file = assert(io.open(${luaString(bodyFile)}, "rb"))`,
    'wrk.method = "POST"',
    'wrk.body = file:read("*a")',
    'file:close()',
    ...Object.entries(headers).map(([name, value]) => `wrk.headers[${luaString(name)}] = ${luaString(value)}`),
    'function done(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRK_SUMMARY {"durationUs":%d,"requests":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' +
      '"p50":%d,"p90":%d,"p99":%d,"mean":%.3f,"max":%d}\\n\',',
    '    summary.duration, summary.requests, e.status, e.connect, e.read, e.write, e.timeout,',
    '    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))',
    'end',
    '',
  ].join('\n');
}

interface Summary {
  durationUs: number;
  requests: number;
  status: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
}

export function parseWrkOutput(stdout: string): WrkRun {
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_SUMMARY '));
  if (!line) throw new Error(`wrk printed no summary: ${stdout.slice(-500)}`);
  const s = JSON.parse(line.slice('WRK_SUMMARY '.length)) as Summary;
  return {
    seconds: s.durationUs / 1e6,
    answered: s.requests,
    ok: s.requests - s.status,
    non2xx: s.status,
    socketErrors: { connect: s.connect, read: s.read, write: s.write, timeout: s.timeout },
    latencyUs: { p50: s.p50, p90: s.p90, p99: s.p99, mean: s.mean, max: s.max },
  };
}

export async function runWrk(options: WrkOptions): Promise<WrkRun> {
  if (!Number.isInteger(options.seconds) || options.seconds < 1) throw new Error(`wrk runs whole seconds; got ${options.seconds}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'brisk-wrk-'));
  try {
    const bodyFile = path.join(dir, 'body.bin');
    const scriptFile = path.join(dir, 'post.lua');
    writeFileSync(bodyFile, options.body);
    writeFileSync(scriptFile, script(bodyFile, options.headers));
    const wrkArgs = [
      '-t', String(options.threads),
      '-c', String(options.connections),
      '-d', `${options.seconds}s`,
      // wrk's default 2 s would count a slow answer under overload as a socket error.
      '--timeout', '30s',
      '-s', scriptFile,
      options.url,
    ];
    const [command, args] = options.cpu === undefined ? [WRK, wrkArgs] : ['taskset', ['-c', String(options.cpu), WRK, ...wrkArgs]];
    const { stdout } = await run(command, args, { maxBuffer: 1024 * 1024 });
    return parseWrkOutput(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
