/**
 * npm run bench:observability -- [--duration 5] [--repeat 3] [--connections 64]
 *
 * The cost of observability, in one run on the tiny model (JSON, autocannon,
 * the server saturated): everything off; metrics; metrics and tracing sampling
 * 1% of requests; metrics and tracing every request. Tracing has an OTLP
 * exporter configured but no collector listening, so every sampled span is
 * made, batched and offered for export. Runs alternate.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { projectFile } from '../src/project-files.js';
import { startBrisk } from './lib/child-server.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { medianRun } from './lib/report.js';
import { requestBody, SCENARIOS } from './scenarios.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    repeat: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    out: { type: 'string', default: projectFile('bench', 'results', 'observability.md') },
  },
});

const MODES = {
  off: { args: ['--metrics', 'false'], env: { OTEL_SDK_DISABLED: 'true' } },
  metrics: { args: ['--metrics', 'true'], env: { OTEL_SDK_DISABLED: 'true' } },
  sampled: { args: ['--metrics', 'true'], env: { ...tracingEnv(), OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' } },
  all: { args: ['--metrics', 'true'], env: tracingEnv() },
} as const;

/** Port 9 (discard) has no collector: exports fail quietly, as with a collector that is down. */
function tracingEnv(): Record<string, string> {
  return { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' };
}

/** CPU seconds (user + system, all threads) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, counted in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Measurement {
  saturated: LoadResult;
  /** Server CPU per request at a fixed rate: what observability costs, whatever the neighbours do. */
  cpuMicrosPerRequest: number;
}

const FIXED_RATE = 4000;

async function measure(mode: keyof typeof MODES): Promise<Measurement> {
  const server = await startBrisk([...MODES[mode].args], MODES[mode].env);
  try {
    const { body, headers } = requestBody(SCENARIOS['tiny']!);
    const load = { url: `http://127.0.0.1:${server.ready['httpPort'] as number}/v2/models/tiny_classifier/infer`, connections: Number(args.connections), body, headers };
    const saturated = await runLoad({ ...load, durationSeconds: Number(args.duration), warmupSeconds: 1 });
    const pid = server.process.pid!;
    const cpuBefore = cpuSeconds(pid);
    const fixed = await runLoad({ ...load, durationSeconds: Number(args.duration), ratePerSecond: FIXED_RATE });
    const cpuMicrosPerRequest = ((cpuSeconds(pid) - cpuBefore) / fixed.requests) * 1e6;
    process.stderr.write(
      `  observability ${mode}: ${saturated.requestsPerSecond.toFixed(0)} req/s p99 ${saturated.latencyMs.p99.toFixed(2)} ms; ${cpuMicrosPerRequest.toFixed(1)} µs CPU per request at ${FIXED_RATE} req/s\n`,
    );
    return { saturated, cpuMicrosPerRequest };
  } finally {
    await server.stop();
  }
}

const machine = machineInfo();
const runs: Record<keyof typeof MODES, Measurement[]> = { off: [], metrics: [], sampled: [], all: [] };
for (let r = 0; r < Number(args.repeat); r++) {
  for (const mode of ['off', 'metrics', 'sampled', 'all'] as const) runs[mode].push(await measure(mode));
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const cpu = (mode: keyof typeof MODES) => median(runs[mode].map((m) => m.cpuMicrosPerRequest));
const row = (label: string, mode: keyof typeof MODES) => {
  const all = runs[mode].map((m) => m.saturated);
  const m = medianRun(all);
  return `| ${label} | ${fmt(cpu(mode), 1)} | ${fmt(cpu(mode) / cpu('off'), 3)} | ${fmt(m.requestsPerSecond)} | ${fmt(Math.min(...all.map((x) => x.requestsPerSecond)))}–${fmt(Math.max(...all.map((x) => x.requestsPerSecond)))} | ${fmt(m.latencyMs.p99, 2)} |`;
};
const report = [
  ...reportHeading('The cost of observability on the tiny model', `npm run bench:observability -- ${process.argv.slice(2).join(' ')}`, machine),
  `Load: autocannon, ${args.connections} connections, JSON; a fresh server per mode and repeat, modes alternating, median of ${args.repeat}. ` +
    `CPU per request is the server process's user + system time (all threads, from /proc) over ${args.duration} s at a fixed ${fmt(FIXED_RATE)} req/s; ` +
    `saturated throughput is over ${args.duration} s after 1 s warm-up with every connection sending as fast as it is answered.`,
  '',
  '| metrics and tracing | server CPU µs per request | × off | saturated req/s (median) | runs min–max | p99 ms |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  row('off', 'off'),
  row('metrics on', 'metrics'),
  row('metrics, and tracing sampling 1% (OTLP exporter, no collector)', 'sampled'),
  row('metrics, and tracing every request (OTLP exporter, no collector)', 'all'),
  '',
].join('\n');
writeFileSync(args.out, report);
console.log(report);
