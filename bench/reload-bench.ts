/**
 * npm run bench:reload -- [--repeat 3] [--clients 32] [--gap 1] [--drain-delay 1] [--warmup-cycles 5]
 *
 * Zero-downtime model lifecycle (issue 11): a new version loaded, canaried and
 * promoted, the old one removed and unloaded, and the server stopped by SIGTERM,
 * all under closed-loop keep-alive load on the route `scorer` (bench/lib/lifecycle-run.ts);
 * and the first-request latency after a load with and without warmup. Every
 * request sent must be answered 200; a run fails on any other answer, any request
 * left without one, a refusal before SIGTERM, a step that did not do what it should,
 * or an exit code other than 0.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { projectFile } from '../src/project-files.js';
import { lifecycleRun, SHUTDOWN_STEP, type LifecycleResult } from './lib/lifecycle-run.js';
import { phaseLatency, totalOf, type PhaseTally } from './lib/until-refused.js';
import type { WarmupSample } from './lib/warmup-latency.js';

const { values: args } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    clients: { type: 'string', default: '32' },
    gap: { type: 'string', default: '1' },
    'drain-delay': { type: 'string', default: '1' },
    'warmup-cycles': { type: 'string', default: '5' },
    out: { type: 'string', default: projectFile('bench', 'results', 'reload.md') },
  },
});

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const tally = (r: Record<string, number>): string =>
  Object.entries(r)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}: ${fmt(n)}`)
    .join(', ') || '–';
const seconds = (s: number | undefined): string => (s === undefined ? '–' : fmt(s, 2));
const isShutdown = (p: PhaseTally): boolean => p.phase === SHUTDOWN_STEP;
const not200 = (answers: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(answers).filter(([status]) => status !== '200'));

/** What went wrong in a run, one line each; empty when it was clean. */
function failuresOf(run: LifecycleResult): string[] {
  const failures: string[] = [];
  const total = totalOf(run.phases);
  const other = not200(total.answers);
  if (Object.keys(other).length) failures.push(`answers other than 200: ${tally(other)}`);
  if (Object.keys(total.unanswered).length) failures.push(`requests without an answer: ${tally(total.unanswered)}`);
  const early = totalOf(run.phases.filter((p) => !isShutdown(p))).refused;
  if (early) failures.push(`${early} connections refused before SIGTERM`);
  for (const s of run.steps) if (s.problem) failures.push(`${s.step}: ${s.problem}`);
  if (run.exitCode !== 0) failures.push(`exit code ${run.exitCode}`);
  return failures;
}

function requestsTable(runs: LifecycleResult[]): string[] {
  const row = (label: string, phases: PhaseTally[], exitCode: string) => {
    const total = totalOf(phases);
    const lateRefusals = totalOf(phases.filter(isShutdown)).refused;
    return `| ${label} | ${fmt(total.sent)} | ${fmt(total.answers['200'] ?? 0)} | ${tally(not200(total.answers))} | ${tally(total.unanswered)} | ${fmt(lateRefusals)} | ${fmt(total.refused - lateRefusals)} | ${exitCode} | ${tally(total.servedBy)} |`;
  };
  return [
    '| run | sent | answered 200 | other answers | no answer | refused after SIGTERM | refused before SIGTERM | exit code | 200s by x-served-by |',
    '| ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- |',
    ...runs.map((run, i) => row(String(i + 1), run.phases, String(run.exitCode))),
    row('all', runs.flatMap((r) => r.phases), runs.map((r) => r.exitCode).join(', ')),
  ];
}

function stepsTable(run: LifecycleResult): string[] {
  return [
    '| step | at s | admin call ms | status | index | answers while it lasted | req/s | p99 ms | max ms | 200s by x-served-by |',
    '| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- |',
    ...run.phases.map((phase) => {
      const step = run.steps.find((s) => s.step === phase.phase);
      const answered = Object.values(phase.answers).reduce((a, b) => a + b, 0);
      const lasted = ((phase.endedAt ?? phase.startedAt) - phase.startedAt) / 1000;
      const latency = phaseLatency(phase);
      const call = step && step.status ? `${fmt(step.callMs, 1)} | ${step.status}${step.status !== 200 ? ` (${step.problem})` : ''}` : '– | –';
      return `| ${phase.phase} | ${step ? fmt(step.atSeconds, 2) : '0.00'} | ${call} | ${step?.detail ?? '–'} | ${tally(phase.answers)} | ${fmt(answered / lasted)} | ${fmt(latency.p99, 2)} | ${fmt(latency.max, 1)} | ${tally(phase.servedBy)} |`;
    }),
  ];
}

function warmupTable(samples: WarmupSample[]): string[] {
  return [
    '| model_warmup | loads | load call ms | first request ms | second request ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...(['without', 'with'] as const).map((mode) => {
      const of = samples.filter((s) => s.mode === mode);
      const m = (key: 'loadMs' | 'firstMs' | 'secondMs') => fmt(median(of.map((s) => s[key])), 2);
      return `| ${mode} | ${of.length} | ${m('loadMs')} | ${m('firstMs')} | ${m('secondMs')} |`;
    }),
  ];
}

const options = {
  clients: Number(args.clients),
  gapSeconds: Number(args.gap),
  drainDelaySeconds: Number(args['drain-delay']),
  warmupCycles: Number(args['warmup-cycles']),
};
const command = ['npm run bench:reload', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
const machine = machineInfo();
// Whatever else runs on these cores shows in every figure here.
const loadAverage = os.loadavg();
const runs: LifecycleResult[] = [];
for (let i = 0; i < Number(args.repeat); i++) {
  const run = await lifecycleRun(options);
  runs.push(run);
  console.log(`run ${i + 1}: ${JSON.stringify(totalOf(run.phases))}, exit ${run.exitCode}`);
}

const failures = runs.flatMap((run, i) => failuresOf(run).map((f) => `run ${i + 1}: ${f}`));
const warmup = runs.flatMap((r) => r.warmup);
const report = [
  ...reportHeading('Zero-downtime model lifecycle (issue 11)', command, machine),
  '',
  `Load average when the runs began: ${loadAverage.map((l) => fmt(l, 2)).join(', ')} (1, 5, 15 min); the load generator shares the server's cores.`,
  '',
  `Each run: a fresh server on a copy of the bundled repository, \`--drain-delay ${options.drainDelaySeconds}\`; the route \`scorer\` ` +
    `(scorer/1 at 100%, a 10% shadow of scorer/2) under ${options.clients} closed-loop keep-alive clients (REST, node:http, one [1, 32] FP32 row ` +
    `as JSON). About ${options.gapSeconds} s apart, through the admin port: version 3's folder appears and \`POST /v2/repository/models/scorer/load\`; ` +
    'the route set to 90/10 on versions 1/3 (no shadow); promote; version 1\'s folder removed and scorer loaded again, which must unload version 1 ' +
    '(the index shows it UNAVAILABLE, "unloaded"); then SIGTERM, the load going on until every client has been refused a connection (it stops there: ' +
    'a refused request was never sent) and the server has exited. Answers are counted in the step during which they arrived.',
  '',
  '## Requests',
  '',
  ...requestsTable(runs),
  '',
  failures.length ? `**Failures:**\n\n${failures.map((f) => `- ${f}`).join('\n')}` : '**Every request sent was answered 200; none was left without an answer; every exit code was 0.**',
  '',
  '## Shutdown, in seconds after SIGTERM',
  '',
  '| run | "listeners closed" logged | first refusal | last client stopped | server exited | exit code |',
  '| ---: | ---: | ---: | ---: | ---: | ---: |',
  ...runs.map((r, i) =>
    `| ${i + 1} | ${seconds(r.shutdown.listenersClosed)} | ${seconds(r.shutdown.firstRefusal)} | ${seconds(r.shutdown.lastClientStopped)} | ${seconds(r.shutdown.exited)} | ${r.exitCode} |`,
  ),
  '',
  '## Steps',
  '',
  ...runs.flatMap((run, i) => [`Run ${i + 1}:`, '', ...stepsTable(run), '']),
  '## First request after a load, with and without warmup',
  '',
  `On the quiet server before each run's load, once it has answered 50 requests to heavy_mlp (its own request path is compiled by then): ` +
    `a copy of heavy_mlp loaded as \`heavy_cold\`, its config given with the load, with \`model_warmup\` (five single-row runs of random data) or without; ` +
    `asked twice (REST, one [1, 512] FP32 row as binary tensor data, on a connection opened before); unloaded. ` +
    `${options.warmupCycles} loads of each mode per run, alternating which comes first. Medians of ${warmup.length / 2} loads each:`,
  '',
  ...warmupTable(warmup),
  '',
  `Every first request, ms: without warmup ${warmup.filter((s) => s.mode === 'without').map((s) => fmt(s.firstMs, 1)).join(', ')}; ` +
    `with ${warmup.filter((s) => s.mode === 'with').map((s) => fmt(s.firstMs, 1)).join(', ')}.`,
  '',
].join('\n');

writeFileSync(args.out, report);
writeFileSync(
  args.out.replace(/\.md$/, '.json'),
  `${JSON.stringify(
    {
      command,
      machine,
      options,
      failures,
      runs: runs.map((r) => ({ ...r, phases: r.phases.map(({ latenciesMs, ...p }) => ({ ...p, latencyMs: phaseLatency({ ...p, latenciesMs }) })) })),
    },
    null,
    2,
  )}\n`,
);
console.log(report);
process.exitCode = failures.length ? 1 : 0;
