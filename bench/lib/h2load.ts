/**
 * gRPC load from h2load (nghttp2): unary calls as prepared HTTP/2 frames, many
 * streams on each connection. Written in C, it leaves the cores to the server
 * under test. It reads only HTTP statuses, so callers check gRPC results by
 * other means (the server's own counters).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { percentile, type LoadResult } from './load.js';

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
  warmupSeconds: number;
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

export async function runGrpcLoad(options: GrpcLoadOptions): Promise<LoadResult> {
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
        '--warm-up-time', String(options.warmupSeconds),
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
    let non2xx = 0;
    for (const line of lines) {
      const [, statusText, elapsed] = line.split('\t');
      const httpStatus = Number(statusText);
      if (!(httpStatus >= 100)) continue;
      if (httpStatus !== 200) non2xx += 1;
      samples.push(Number(elapsed) / 1000);
    }
    const latencies = Float64Array.from(samples).sort();
    const failed = /(\d+) failed/.exec(stdout);
    const errored = /(\d+) errored/.exec(stdout);
    const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout);
    return {
      connections: options.connections * options.streamsPerConnection,
      requests: latencies.length,
      requestsPerSecond: rate ? Number(rate[1]) : latencies.length / options.durationSeconds,
      errors: Number(failed?.[1] ?? 0) + Number(errored?.[1] ?? 0),
      non2xx,
      latencyMs: {
        p50: percentile(latencies, 0.5),
        p90: percentile(latencies, 0.9),
        p95: percentile(latencies, 0.95),
        p99: percentile(latencies, 0.99),
        max: latencies.length ? latencies[latencies.length - 1]! : Number.NaN,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
