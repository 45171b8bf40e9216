/**
 * npm run bench:baseline -- [--scenarios tiny,heavy] [--connections 1,16,64] [--duration 5] [--repeat 3] [--out FILE]
 *
 * Compares in one run, per scenario and connection count: this server, a naive
 * one-request-one-inference server (bench/naive-server.ts), and the in-process
 * ONNX Runtime ceiling (bench/ceiling.ts). The load generator (autocannon, in
 * this process) shares the machine's cores with the server under test, as it
 * does for every server compared. Each point is the median of --repeat runs;
 * throughput and latency are of 2xx answers only.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { projectFile } from '../src/project-files.js';
import { measureCeiling, type CeilingResult } from './ceiling.js';
import { startBrisk, startChild, type ChildServer } from './lib/child-server.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { medianRun } from './lib/report.js';
import { requestBody, SCENARIOS, type Scenario } from './scenarios.js';

const { values: args } = parseArgs({
  options: {
    scenarios: { type: 'string', default: 'tiny,heavy' },
    connections: { type: 'string', default: '1,16,64' },
    duration: { type: 'string', default: '5' },
    repeat: { type: 'string', default: '3' },
    out: { type: 'string', default: projectFile('bench', 'results', 'rest-baseline.md') },
  },
});
const durationSeconds = Number(args.duration);
const repeat = Number(args.repeat);
const connectionCounts = args.connections.split(',').map(Number);
const scenarios = args.scenarios.split(',').map((name) => {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  return scenario;
});

type ServerKind = 'brisk' | 'naive';

interface Point {
  scenario: string;
  server: ServerKind;
  connections: number;
  runs: LoadResult[];
  median: LoadResult;
}

const isServing = (line: Record<string, unknown>) => line['msg'] === 'serving';

function startNaive(scenario: Scenario): Promise<ChildServer> {
  const modelPath = projectFile('models', scenario.model, '1', 'model.onnx');
  return startChild(process.execPath, [projectFile('dist', 'bench', 'naive-server.js'), modelPath, scenario.model], isServing);
}


async function measureServer(kind: ServerKind, scenario: Scenario, server: ChildServer): Promise<Point[]> {
  const port = (server.ready['httpPort'] ?? server.logs.find((l) => l['httpPort'])?.['httpPort']) as number;
  const { body, headers } = requestBody(scenario);
  const points: Point[] = [];
  for (const connections of connectionCounts) {
    const runs: LoadResult[] = [];
    for (let r = 0; r < repeat; r++) {
      const result = await runLoad({
        url: `http://127.0.0.1:${port}/v2/models/${scenario.model}/infer`,
        connections,
        durationSeconds,
        warmupSeconds: 1,
        body,
        headers,
      });
      runs.push(result);
      process.stderr.write(
        `  ${scenario.model} ${kind} c=${connections} run ${r + 1}: ${result.requestsPerSecond.toFixed(0)} req/s p99 ${result.latencyMs.p99.toFixed(2)} ms\n`,
      );
    }
    points.push({ scenario: scenario.model, server: kind, connections, runs, median: medianRun(runs) });
  }
  return points;
}


function table(points: Point[], ceilings: Map<string, CeilingResult>): string {
  const lines = [
    '| model | server | conns | req/s (median) | runs min–max | p50 ms | p95 ms | p99 ms | errors | × naive | × ceiling |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const p of points) {
    const naive = points.find((q) => q.scenario === p.scenario && q.server === 'naive' && q.connections === p.connections);
    const ceiling = ceilings.get(p.scenario)!;
    const rates = p.runs.map((r) => r.requestsPerSecond);
    const m = p.median;
    lines.push(
      `| ${p.scenario} | ${p.server} | ${p.connections} | ${fmt(m.requestsPerSecond)} | ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))} | ${fmt(m.latencyMs.p50, 2)} | ${fmt(m.latencyMs.p95, 2)} | ${fmt(m.latencyMs.p99, 2)} | ${m.errors + m.non2xx} | ${naive ? fmt(m.requestsPerSecond / naive.median.requestsPerSecond, 2) : ''} | ${fmt(m.requestsPerSecond / ceiling.rowsPerSecond, 2)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const command = `npm run bench:baseline -- ${process.argv.slice(2).join(' ')}`.trim();
  const ceilings = new Map<string, CeilingResult>();
  const points: Point[] = [];
  for (const scenario of scenarios) {
    process.stderr.write(`${scenario.name}: in-process ceiling\n`);
    const ceiling = await measureCeiling(
      { modelPath: projectFile('models', scenario.model, '1', 'model.onnx'), inputName: scenario.inputName, rowSize: scenario.rowSize, batchSize: 128, seconds: durationSeconds },
      os.availableParallelism(),
    );
    ceilings.set(scenario.model, ceiling);
    process.stderr.write(`  ${fmt(ceiling.rowsPerSecond)} rows/s (batch ${ceiling.batchSize}, ${ceiling.threads} threads × ${ceiling.intraOpThreads} intra-op)\n`);
    for (const kind of ['brisk', 'naive'] as const) {
      const server = kind === 'brisk' ? await startBrisk() : await startNaive(scenario);
      try {
        points.push(...(await measureServer(kind, scenario, server)));
      } finally {
        await server.stop();
      }
    }
  }
  const ceilingLines = [...ceilings.entries()].map(
    ([model, c]) => `- ${model}: ${fmt(c.rowsPerSecond)} rows/s (session.run at batch ${c.batchSize}, ${c.threads} thread(s) × ${c.intraOpThreads} intra-op)`,
  );
  const report = [
    ...reportHeading('REST baseline: brisk vs naive server vs in-process ONNX Runtime', command, machine),
    `Load generator: autocannon in one process on the same cores as the server; ${durationSeconds} s per run after 1 s warm-up, median of ${repeat} runs. Each request is one row. ` +
      'req/s and latency are of 2xx answers only; "errors" counts the other answers and the failures.',
    'The naive server runs ONNX Runtime with the session options this server gives the model (its config.json).',
    '',
    'In-process ceiling (no HTTP, no queue; all threads measured over one window):',
    ...ceilingLines,
    '',
    table(points, ceilings),
    '',
  ].join('\n');
  writeFileSync(args.out, report);
  writeFileSync(args.out.replace(/\.md$/, '.json'), JSON.stringify({ command, machine, ceilings: Object.fromEntries(ceilings), points }, null, 2));
  console.log(report);
  console.log(`written to ${path.relative(process.cwd(), args.out)}`);
}

await main();
