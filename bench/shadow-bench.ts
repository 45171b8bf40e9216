/**
 * npm run bench:shadow -- [--duration 5] [--repeat 3] [--connections 64]
 *
 * In one run on the tiny model (JSON, one row per request), with autocannon
 * driving the route `tiny` at full load: no shadow, then a 100% shadow on an
 * identical copy of the model, alternating runs. Reports throughput and p99 of
 * the primary answers, and how many shadow copies were compared or shed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { writeModel } from '../src/modelgen/build.js';
import { BUNDLED_MODELS } from '../src/modelgen/catalog.js';
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
    out: { type: 'string', default: projectFile('bench', 'results', 'shadow.md') },
  },
});
const TOKEN = `bench-${process.pid}-${Date.now()}-token`;
const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;

function benchRepository(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'brisk-shadow-bench-'));
  const config = { max_batch_size: 256, dynamic_batching: { max_queue_delay_us: 200, max_queue_size: 8192 }, instances: 2 };
  for (const name of ['tiny_classifier', 'tiny_shadow']) {
    writeModel(root, { ...tiny, model: name });
    writeFileSync(path.join(root, name, 'config.json'), JSON.stringify(config));
  }
  return root;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const command = `npm run bench:shadow -- ${process.argv.slice(2).join(' ')}`.trim();
  const server = await startBrisk(['--model-repository', benchRepository()], { ADMIN_TOKEN: TOKEN });
  const http = `http://127.0.0.1:${server.ready['httpPort'] as number}`;
  const admin = `http://127.0.0.1:${server.ready['adminPort'] as number}`;
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const setShadow = async (percent: number) => {
    const response = await fetch(`${admin}/admin/routes/tiny`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({
        targets: [{ model: 'tiny_classifier', version: '1', weight: 100 }],
        shadows: percent ? [{ model: 'tiny_shadow', version: '1', percent, class_scores: ['probabilities'] }] : [],
      }),
    });
    if (!response.ok) throw new Error(`cannot set the route: ${await response.text()}`);
  };
  const shadowStats = async () =>
    ((await (await fetch(`${admin}/admin/routes/tiny`, { headers })).json()) as { shadow_stats: Record<string, number>[] }).shadow_stats[0];

  const { body, headers: requestHeaders } = requestBody(SCENARIOS['tiny']!);
  type Mode = 'without' | 'with';
  interface Run { result: LoadResult; compared: number; shed: number }
  const runs: Record<string, Run[]> = {};
  const measure = async (phase: string, mode: Mode, ratePerSecond?: number): Promise<Run> => {
    await setShadow(mode === 'with' ? 100 : 0);
    const before = (await shadowStats()) ?? {};
    const result = await runLoad({
      url: `${http}/v2/models/tiny/infer`,
      connections: Number(args.connections),
      durationSeconds: Number(args.duration),
      warmupSeconds: 1,
      body,
      headers: requestHeaders,
      ...(ratePerSecond ? { ratePerSecond } : {}),
    });
    const after = (await shadowStats()) ?? {};
    const run = {
      result,
      compared: (after['compared'] ?? 0) - (before['compared'] ?? 0),
      shed: (after['dropped'] ?? 0) - (before['dropped'] ?? 0),
    };
    (runs[`${phase}|${mode}`] ??= []).push(run);
    process.stderr.write(`  ${phase} ${mode} shadow: ${result.requestsPerSecond.toFixed(0)} req/s p99 ${result.latencyMs.p99.toFixed(2)} ms, compared ${run.compared}, shed ${run.shed}\n`);
    return run;
  };
  try {
    const repeat = Number(args.repeat);
    for (let r = 0; r < repeat; r++) for (const mode of ['without', 'with'] as const) await measure('saturated', mode);
    // Half the saturated throughput: load the server carries with room to spare.
    const rate = Math.round(medianRun(runs['saturated|without']!.map((x) => x.result)).requestsPerSecond / 2);
    for (let r = 0; r < repeat; r++) for (const mode of ['without', 'with'] as const) await measure('half', mode, rate);

    const median = (key: string): Run => {
      const list = runs[key]!;
      const m = medianRun(list.map((x) => x.result));
      return list.find((x) => x.result === m)!;
    };
    const line = (label: string, key: string) => {
      const run = median(key);
      const m = run.result;
      const rates = runs[key]!.map((x) => x.result.requestsPerSecond);
      return `| ${label} | ${fmt(m.requestsPerSecond)} | ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))} | ${fmt(m.latencyMs.p50, 2)} | ${fmt(m.latencyMs.p99, 2)} | ${m.errors + m.non2xx} | ${fmt(run.compared)} | ${fmt(run.shed)} |`;
    };
    const ratio = (key: string, what: 'rps' | 'p99') => {
      const a = median(`${key}|with`).result;
      const b = median(`${key}|without`).result;
      return what === 'rps' ? a.requestsPerSecond / b.requestsPerSecond : a.latencyMs.p99 / b.latencyMs.p99;
    };
    const stats = (await shadowStats()) ?? {};
    const report = [
      ...reportHeading('Shadow traffic on the tiny model', command, machine),
      `Load: autocannon, ${args.connections} connections, ${args.duration} s per run after 1 s warm-up, runs alternating without and with the shadow, median of ${args.repeat}. ` +
        `"Saturated": every connection sends as fast as it is answered; "half": a fixed ${fmt(rate)} req/s, half the saturated throughput. ` +
        'The shadow is a 100% copy of the traffic on an identical model, shed while the I/O thread is over 80% busy (--shadow-max-load 0.8).',
      '',
      '| route `tiny` | req/s (median) | runs min–max | p50 ms | p99 ms | errors | shadow copies compared | shed |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      line('saturated, no shadow', 'saturated|without'),
      line('saturated, 100% shadow', 'saturated|with'),
      line('half load, no shadow', 'half|without'),
      line('half load, 100% shadow', 'half|with'),
      '',
      `Saturated: with the shadow, throughput ${fmt(ratio('saturated', 'rps'), 2)}× and p99 ${fmt(ratio('saturated', 'p99'), 2)}× the no-shadow figures.`,
      `Half load: with the shadow, p99 ${fmt(ratio('half', 'p99'), 2)}× the no-shadow figure.`,
      `Shadow copies compared over the whole run: max |diff| ${stats['max_abs_diff'] ?? 0}, argmax agreement ${stats['argmax_agreement'] ?? 'n/a'} (identical models).`,
      '',
    ].join('\n');
    writeFileSync(args.out, report);
    console.log(report);
  } finally {
    await server.stop();
  }
}

await main();
