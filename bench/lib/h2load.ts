/**
 * gRPC load from h2load (nghttp2): unary calls as prepared HTTP/2 frames, many
 * streams on each connection. Written in C, it leaves the cores to the server
 * under test. It reads only HTTP statuses, and a gRPC error is an HTTP 200 with
 * grpc-status in the trailers, so its counts and rate include failed calls:
 * callers count grpc-status by other means (the server's own counters).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { latencySummary, type LatencySummary } from '../../src/loadtool/samples.js';

const run = promisify(execFile);

export interface GrpcLoadOptions {
  host: string;
  port: number;
  /** "/package.Service/Method" */
  method: string;
  /** One serialized request message (protobuf bytes, without the gRPC frame). */
  message: Uint8Array;
  connections: number;
  streamsPerConnection: number;
  durationSeconds: number;
}

/** What h2load saw of one run: calls by HTTP status only, whatever their grpc-status. */
export interface H2loadRun {
  /** Calls that got an HTTP answer (200 even when the call failed). */
  completed: number;
  non200: number;
  /** Streams reset, connections lost. */
  failed: number;
  /** Seconds from the first call to the last. */
  seconds: number;
  /** Latency of every completed call, whatever its grpc-status. */
  latencyMs: LatencySummary;
}

/** The gRPC length-prefixed message: a compression flag, a 4-byte big-endian length, the bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.byteLength);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

export async function h2loadAvailable(): Promise<boolean> {
  try {
    await run('h2load', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** One h2load run with no warm-up of its own: a caller that reads server counters around it runs its warm-up as a run before. */
export async function runH2load(options: GrpcLoadOptions): Promise<H2loadRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'brisk-h2load-'));
  try {
    const body = path.join(dir, 'request.bin');
    const log = path.join(dir, 'requests.log');
    writeFileSync(body, grpcFrame(options.message));
    const { stdout } = await run(
      'h2load',
      [
        '-c', String(options.connections),
        '-m', String(options.streamsPerConnection),
        '-D', String(options.durationSeconds),
        '-d', body,
        '-H', 'content-type: application/grpc',
        '-H', 'te: trailers',
        '--log-file', log,
        `http://${options.host}:${options.port}${options.method}`,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    // Log lines: start time (µs since epoch), HTTP status, elapsed µs. Calls cut off when the
    // run ends have no HTTP status (h2load logs a negative one): unfinished, not failed.
    const lines = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
    const samples: number[] = [];
    let non200 = 0;
    for (const line of lines) {
      const [, statusText, elapsed] = line.split('\t');
      const httpStatus = Number(statusText);
      if (!(httpStatus >= 100)) continue;
      if (httpStatus !== 200) non200 += 1;
      samples.push(Number(elapsed) / 1000);
    }
    const failed = /(\d+) failed/.exec(stdout);
    const errored = /(\d+) errored/.exec(stdout);
    const finished = /finished in ([\d.]+)(m?s)/.exec(stdout);
    return {
      completed: samples.length,
      non200,
      failed: Number(failed?.[1] ?? 0) + Number(errored?.[1] ?? 0),
      seconds: finished ? Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1) : options.durationSeconds,
      latencyMs: latencySummary(samples),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
