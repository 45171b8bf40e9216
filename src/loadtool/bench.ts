/**
 * The load tool: load any Open Inference Protocol server over REST or gRPC and report.
 * Part of the product (`brisk bench`), so it imports nothing from bench/ or test/ and
 * needs no dev dependency. USAGE below lists its flags.
 *
 * Inputs are generated from the model's metadata unless --input gives a body.
 * A list of concurrencies or rates is a sweep, to find the knee. Writes
 * <out>.json (command, machine, git revision, every point) and <out>.md with a
 * table and SVG charts (<out>-latency.svg, <out>-throughput.svg).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt } from './format.js';
import { grpcMetadata, inferenceClients, runGrpcLoad } from './grpc-load.js';
import { fetchMetadata, grpcMessage, requestBody } from './inputs.js';
import type { LoopOptions, RawLoadResult } from './load-loop.js';
import { runRestLoad } from './rest-load.js';
import { summarize, type PointSummary } from './summary.js';
import { machineInfo, reportHeading, type MachineInfo } from './machine.js';
import { lineChart } from './svg.js';

export const USAGE = `usage: brisk bench [flags]        (or: npm run bench -- [flags])
  --protocol rest|grpc          default rest
  --url URL                     http://host:port for REST (default http://127.0.0.1:8000), host:port for gRPC (default 127.0.0.1:8001)
  --model NAME                  default tiny_classifier
  --mode closed|open            closed: --concurrency requests in flight; open: requests due at --rate req/s
  --concurrency 1,4,16,64       closed loop; a list is a sweep
  --rate 500,1000               open loop, req/s; a list is a sweep
  --connections 256             open loop: connections (REST) or their share of gRPC channels
  --duration 10 | --requests N  seconds per point, or requests per point
  --warmup 2                    seconds of load before each point, not counted
  --rows 1 --dim 1              rows per request; size of variable dimensions
  --input FILE [--header-length N]   send this body (JSON, or binary extension with its header length)
  --out bench/results/run       writes <out>.json, <out>.md and two SVG charts
Goodput counts successes only (2xx, OK); latency percentiles are of successes, and other answers
(refusals, errors) have their own. After sending, answers are awaited as long as they keep coming;
requests still unanswered once none has come for 30 s count as "no answer".`;

export interface BenchOptions {
  /** REST base URL (http://host:port), or host:port for gRPC. */
  url: string;
  protocol: 'rest' | 'grpc';
  model: string;
  mode: 'closed' | 'open';
  /** Concurrencies (closed loop) or rates in req/s (open loop): one point each. */
  loads: number[];
  /** Open loop: connections available. */
  connections: number;
  durationSeconds: number;
  /** Stop each point after this many requests instead of after durationSeconds. */
  requests?: number;
  warmupSeconds: number;
  rows: number;
  dim: number;
  input?: string;
  /** With --input: the file is a binary-extension body whose JSON header is this many bytes. */
  headerLength?: number;
  progress?: boolean;
  /** The command line, for the report; by default the process's own arguments after `npm run bench --`. */
  command?: string;
}

export interface BenchResult {
  command: string;
  machine: MachineInfo;
  target: { url: string; model: string; protocol: 'rest' | 'grpc' };
  points: PointSummary[];
}

/** Load for one point, over the chosen protocol. */
type Runner = (loop: LoopOptions) => Promise<RawLoadResult>;

async function prepare(options: BenchOptions): Promise<{ run: Runner; batched: boolean; close(): void }> {
  if (options.protocol === 'grpc') {
    // Channels: enough HTTP/2 connections that one is never the limit.
    const clients = inferenceClients(options.url, Math.min(8, Math.max(1, Math.ceil(options.connections / 32))));
    const meta = await grpcMetadata(clients[0]!, options.model);
    const batched = meta.inputs.every((i) => i.shape[0] === -1);
    const message = grpcMessage(options.model, requestBody(meta.inputs, batched, options.rows, options.dim, options.input));
    return { run: (loop) => runGrpcLoad(clients, message, loop), batched, close: () => clients.forEach((c) => c.close()) };
  }
  const base = options.url.replace(/\/$/, '');
  const { inputs, batched } = await fetchMetadata(base, options.model);
  const body = requestBody(inputs, batched, options.rows, options.dim, options.input);
  const url = new URL(`${base}/v2/models/${encodeURIComponent(options.model)}/infer`);
  const headers: Record<string, string> =
    options.headerLength !== undefined
      ? { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(options.headerLength) }
      : { 'content-type': 'application/json' };
  return {
    run: (loop) => runRestLoad({ ...loop, url, body, headers, connections: loop.mode === 'closed' ? loop.concurrency : options.connections }),
    batched,
    close: () => undefined,
  };
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const { run, batched, close } = await prepare(options);
  const points: PointSummary[] = [];
  try {
    for (const load of options.loads) {
      const raw = await run({
        mode: options.mode,
        concurrency: options.mode === 'closed' ? load : options.connections,
        ...(options.mode === 'open' ? { rate: load } : {}),
        durationSeconds: options.durationSeconds,
        ...(options.requests ? { requests: options.requests } : {}),
        warmupSeconds: options.warmupSeconds,
        ...(options.progress
          ? {
              progress: (sent: number, answered: number, elapsed: number) =>
                process.stderr.write(`\r  ${options.mode} ${load}: ${elapsed.toFixed(0)} s, sent ${sent}, answered ${answered}, ${fmt(answered / Math.max(elapsed, 0.001))} answers/s   `),
            }
          : {}),
      });
      const point = summarize(raw, options.mode, load, batched ? options.rows : 1);
      points.push(point);
      if (options.progress) process.stderr.write(`\r  ${options.mode} ${load}: ${fmt(point.requestsPerSecond)} successes/s, p99 ${fmt(point.latencyMs.p99, 2)} ms${' '.repeat(20)}\n`);
    }
  } finally {
    close();
  }
  return {
    command: options.command ?? `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machineInfo(),
    target: { url: options.url, model: options.model, protocol: options.protocol },
    points,
  };
}

/** A latency figure, or a dash where there was nothing to measure. */
const ms = (value: number): string => (Number.isNaN(value) ? '–' : fmt(value, 2));

export function table(result: BenchResult): string {
  const loadName = result.points[0]?.mode === 'open' ? 'offered req/s' : 'concurrency';
  return [
    `| ${loadName} | sent | answered | goodput req/s | rows/s | outcomes | p50 ms | p90 ms | p95 ms | p99 ms | max ms | other answers p50 ms | p99 ms |`,
    '| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...result.points.map(
      (p) =>
        `| ${fmt(p.load)} | ${fmt(p.sent)} | ${fmt(p.answered)} | ${fmt(p.requestsPerSecond)} | ${fmt(p.rowsPerSecond)} | ${Object.entries(p.outcomes).map(([k, n]) => `${k}: ${n}`).join(', ')} | ${ms(p.latencyMs.p50)} | ${ms(p.latencyMs.p90)} | ${ms(p.latencyMs.p95)} | ${ms(p.latencyMs.p99)} | ${ms(p.latencyMs.max)} | ${ms(p.errorLatencyMs.p50)} | ${ms(p.errorLatencyMs.p99)} |`,
    ),
  ].join('\n');
}

/** Writes <out>.json, <out>.md and the two charts; returns the markdown. */
export function writeReport(result: BenchResult, out: string): string {
  mkdirSync(path.dirname(out), { recursive: true });
  const loadName = result.points[0]?.mode === 'open' ? 'offered load (req/s)' : 'concurrency (requests in flight)';
  const successes = (['p50', 'p95', 'p99'] as const).map((q) => ({ name: q, points: result.points.map((p) => [p.load, p.latencyMs[q]] as [number, number]) }));
  const refused = result.points.filter((p) => p.answered > p.succeeded);
  const others = refused.length ? [{ name: 'p99, other answers', points: refused.map((p) => [p.load, p.errorLatencyMs.p99] as [number, number]) }] : [];
  const latency = lineChart(`Latency of successes against ${loadName}`, loadName, 'latency (ms)', [...successes, ...others]);
  const throughput = lineChart(`Goodput against ${loadName}`, loadName, 'successes/s', [
    { name: 'successes/s', points: result.points.map((p) => [p.load, p.requestsPerSecond] as [number, number]) },
  ]);
  writeFileSync(`${out}-latency.svg`, latency);
  writeFileSync(`${out}-throughput.svg`, throughput);
  writeFileSync(`${out}.json`, JSON.stringify(result, null, 2));
  const markdown = [
    ...reportHeading(`${result.target.model} at ${result.target.url} (${result.target.protocol})`, result.command, result.machine),
    '',
    table(result),
    '',
    `![latency](${path.basename(out)}-latency.svg)`,
    `![throughput](${path.basename(out)}-throughput.svg)`,
    '',
  ].join('\n');
  writeFileSync(`${out}.md`, markdown);
  return markdown;
}

/** `brisk bench ...` and `npm run bench -- ...`: runs the sweep, writes the report, returns the markdown. */
export async function benchCommand(argv: string[], invokedAs = 'brisk bench'): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      url: { type: 'string' },
      protocol: { type: 'string', default: 'rest' },
      model: { type: 'string', default: 'tiny_classifier' },
      mode: { type: 'string', default: 'closed' },
      concurrency: { type: 'string', default: '1,4,16,64' },
      rate: { type: 'string' },
      connections: { type: 'string', default: '256' },
      duration: { type: 'string', default: '10' },
      requests: { type: 'string' },
      warmup: { type: 'string', default: '2' },
      rows: { type: 'string', default: '1' },
      dim: { type: 'string', default: '1' },
      input: { type: 'string' },
      'header-length': { type: 'string' },
      out: { type: 'string', default: 'bench/results/run' },
    },
  });
  if (values.help) return USAGE;
  const mode = values.mode === 'open' ? 'open' : 'closed';
  if (mode === 'open' && !values.rate) throw new Error('--mode open needs --rate (one or more req/s, comma-separated)');
  const protocol = values.protocol === 'grpc' ? 'grpc' : 'rest';
  const result = await runBench({
    url: values.url ?? (protocol === 'grpc' ? '127.0.0.1:8001' : 'http://127.0.0.1:8000'),
    protocol,
    model: values.model,
    mode,
    loads: (mode === 'open' ? values.rate! : values.concurrency).split(',').map(Number),
    connections: Number(values.connections),
    durationSeconds: Number(values.duration),
    ...(values.requests ? { requests: Number(values.requests) } : {}),
    warmupSeconds: Number(values.warmup),
    rows: Number(values.rows),
    dim: Number(values.dim),
    ...(values.input ? { input: values.input } : {}),
    ...(values['header-length'] ? { headerLength: Number(values['header-length']) } : {}),
    progress: true,
    command: [invokedAs, ...argv].join(' '),
  });
  return writeReport(result, values.out);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await benchCommand(process.argv.slice(2), 'npm run bench --'));
}
