/**
 * npm run bench:grpc -- [--duration 5] [--repeat 3] [--connections 16] [--streams 32]
 *
 * In one run: unary ModelInfer calls from h2load (prepared gRPC frames) against
 * a bare grpc-js echo server (the transport's ceiling), against this server on
 * the tiny model and on the compute-heavy model, and the heavy model's
 * in-process ONNX Runtime ceiling. Every call carries one row as raw contents,
 * as tritonclient sends it. h2load sees only HTTP statuses, so the server's own
 * inference counter is checked against the calls answered.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadServiceDefinitions } from '../src/grpc/protos.js';
import { projectFile } from '../src/project-files.js';
import { measureCeiling } from './ceiling.js';
import { startBrisk, startChild, type ChildServer } from './lib/child-server.js';
import { h2loadAvailable, runGrpcLoad } from './lib/h2load.js';
import type { LoadResult } from './lib/load.js';
import { machineInfo } from './lib/machine.js';
import { fmt, medianRun, reportHeading } from './lib/report.js';
import { SCENARIOS, type Scenario } from './scenarios.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    repeat: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    streams: { type: 'string', default: '32' },
    out: { type: 'string', default: projectFile('bench', 'results', 'grpc-baseline.md') },
  },
});
const durationSeconds = Number(args.duration);
const repeat = Number(args.repeat);
const connections = Number(args.connections);
const streams = Number(args.streams);
const METHOD = '/inference.GRPCInferenceService/ModelInfer';

const { definition } = loadServiceDefinitions();
const serialize = (definition['inference.GRPCInferenceService'] as Record<string, { requestSerialize(v: unknown): Buffer }>)[
  'ModelInfer'
]!.requestSerialize;

function requestMessage(scenario: Scenario): Buffer {
  const values = Float32Array.from({ length: scenario.rowSize }, (_, i) => Math.sin(i) * 0.5);
  return serialize({
    model_name: scenario.model,
    inputs: [{ name: scenario.inputName, datatype: 'FP32', shape: [1, scenario.rowSize] }],
    raw_input_contents: [Buffer.from(values.buffer)],
  });
}

interface Row {
  target: string;
  runs: LoadResult[];
  median: LoadResult;
  inferencesCounted?: number;
}


async function load(target: string, port: number, scenario: Scenario): Promise<Row> {
  const runs: LoadResult[] = [];
  for (let r = 0; r < repeat; r++) {
    const result = await runGrpcLoad({
      host: '127.0.0.1',
      port,
      method: METHOD,
      message: requestMessage(scenario),
      connections,
      streamsPerConnection: streams,
      durationSeconds,
      warmupSeconds: 1,
    });
    runs.push(result);
    process.stderr.write(`  ${target} run ${r + 1}: ${result.requestsPerSecond.toFixed(0)} calls/s p99 ${result.latencyMs.p99.toFixed(2)} ms\n`);
  }
  return { target, runs, median: medianRun(runs) };
}

async function inferenceCount(httpPort: number, model: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/v2/models/${model}/stats`);
  const body = (await response.json()) as { model_stats: { inference_count: number }[] };
  return body.model_stats[0]!.inference_count;
}


async function main(): Promise<void> {
  if (!(await h2loadAvailable())) throw new Error('h2load is not installed (Debian: apt-get install nghttp2-client)');
  const machine = machineInfo();
  const command = `npm run bench:grpc -- ${process.argv.slice(2).join(' ')}`.trim();
  const rows: Row[] = [];
  const tiny = SCENARIOS['tiny']!;
  const heavy = SCENARIOS['heavy']!;

  process.stderr.write('heavy_mlp in-process ceiling\n');
  const ceiling = await measureCeiling(
    { modelPath: projectFile('models', heavy.model, '1', 'model.onnx'), inputName: heavy.inputName, rowSize: heavy.rowSize, batchSize: 128, seconds: durationSeconds },
    os.availableParallelism(),
  );

  const echo: ChildServer = await startChild(process.execPath, [projectFile('dist', 'bench', 'grpc-echo-server.js')], (l) => l['msg'] === 'serving');
  try {
    rows.push(await load('grpc-js echo (transport ceiling)', echo.ready['grpcPort'] as number, tiny));
  } finally {
    await echo.stop();
  }

  const brisk = await startBrisk();
  try {
    const httpPort = brisk.ready['httpPort'] as number;
    for (const scenario of [tiny, heavy]) {
      const before = await inferenceCount(httpPort, scenario.model);
      const row = await load(`brisk ModelInfer ${scenario.model}`, brisk.ready['grpcPort'] as number, scenario);
      row.inferencesCounted = (await inferenceCount(httpPort, scenario.model)) - before;
      rows.push(row);
    }
  } finally {
    await brisk.stop();
  }

  const echoRate = rows[0]!.median.requestsPerSecond;
  const lines = [
    '| target | calls/s (median) | runs min–max | p50 ms | p95 ms | p99 ms | non-200 | × echo | × ceiling |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => {
      const m = row.median;
      const rates = row.runs.map((r) => r.requestsPerSecond);
      const vsCeiling = row.target.includes('heavy') ? fmt(m.requestsPerSecond / ceiling.rowsPerSecond, 2) : '';
      return `| ${row.target} | ${fmt(m.requestsPerSecond)} | ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))} | ${fmt(m.latencyMs.p50, 2)} | ${fmt(m.latencyMs.p95, 2)} | ${fmt(m.latencyMs.p99, 2)} | ${m.non2xx + m.errors} | ${fmt(m.requestsPerSecond / echoRate, 2)} | ${vsCeiling} |`;
    }),
  ];
  const checks = rows
    .filter((r) => r.inferencesCounted !== undefined)
    .map((r) => `- ${r.target}: the server counted ${fmt(r.inferencesCounted!)} successful inferences for ${fmt(r.runs.reduce((a, b) => a + b.requests, 0))} calls logged by h2load (warm-up calls are counted by the server only).`);
  const report = [
    ...reportHeading('gRPC baseline: brisk vs a bare grpc-js server vs in-process ONNX Runtime', command, machine),
    `Load generator: h2load, ${connections} connections × ${streams} streams, unary ModelInfer with one row in raw_input_contents; ${durationSeconds} s per run after 1 s warm-up, median of ${repeat} runs; on the same cores as the server.`,
    '',
    `In-process ceiling for heavy_mlp: ${fmt(ceiling.rowsPerSecond)} rows/s (batch ${ceiling.batchSize}, ${ceiling.threads} thread(s) × ${ceiling.intraOpThreads} intra-op).`,
    '',
    ...lines,
    '',
    'Every call answered by the server is checked against its own count of successful inferences:',
    ...checks,
    '',
  ].join('\n');
  writeFileSync(args.out, report);
  writeFileSync(args.out.replace(/\.md$/, '.json'), JSON.stringify({ command, machine, ceiling, rows }, null, 2));
  console.log(report);
}

await main();
