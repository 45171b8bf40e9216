/**
 * npm run bench:rollout-analysis -- [--interval 10] [--concurrency 32] [--warmup 2]
 *
 * A failing canary under load: route `scorer` serves version 1 to closed-loop traffic; a
 * progressive rollout of version 3 (built here by the project's modelgen: session.run fails
 * unless the batch size is a multiple of 7) starts with the default steps and gates. Measures
 * the time from the rollout's start to its rollback (the route carrying weight 0 again), and
 * the requests answered with an error: over the two intervals after the start (the goal's
 * window) and while the canary had traffic. Counts come from the server's own counters
 * (brisk_requests_total, scraped at the start and the end of each window) and are checked
 * against what the load tool's clients saw.
 *
 * Goal (issue 14): rolled back within 2 intervals, and under 2% of all requests answered with an error.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { runRestLoad } from '../src/loadtool/rest-load.js';
import { BUNDLED_MODELS, ROLLOUT_TEST_MODELS } from '../src/modelgen/catalog.js';
import { writeModel } from '../src/modelgen/build.js';
import { projectFile } from '../src/project-files.js';
import type { RolloutView } from '../src/rollout/rollout-controller.js';
import { startBrisk } from './lib/child-server.js';

const { values: args } = parseArgs({
  options: {
    interval: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '2' },
    out: { type: 'string', default: projectFile('bench', 'results', 'rollout-analysis.md') },
  },
});
const intervalSeconds = Number(args.interval);
const concurrency = Number(args.concurrency);
const warmupSeconds = Number(args.warmup);

/** scorer 1 and its failing version 3, served as they would be: batching, every version loaded. */
function repository(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'brisk-rollout-bench-'));
  for (const entry of [BUNDLED_MODELS.find((e) => e.model === 'scorer' && e.version === 1)!, ROLLOUT_TEST_MODELS.scorerFailing]) writeModel(root, entry);
  writeFileSync(path.join(root, 'scorer', 'config.json'), JSON.stringify({ max_batch_size: 64, version_policy: { all: {} }, dynamic_batching: { max_queue_delay_us: 500 } }));
  return root;
}

/** Requests the server answered on route scorer, and those it answered with an error, so far. */
async function answered(metricsUrl: string): Promise<{ all: number; errors: number }> {
  const text = await (await fetch(metricsUrl)).text();
  let all = 0;
  let errors = 0;
  for (const match of text.matchAll(/^brisk_requests_total\{model="scorer",version="\d+",protocol="rest",role="(?:primary|canary)",outcome="([a-z_]+)"\} (\d+)$/gm)) {
    all += Number(match[2]);
    if (match[1] !== 'success') errors += Number(match[2]);
  }
  return { all, errors };
}

const TOKEN = `rollout-bench-${process.pid}-${Date.now()}`;
const server = await startBrisk(['--model-repository', repository()], { ADMIN_TOKEN: TOKEN });
try {
  const adminBase = `http://127.0.0.1:${server.ready['adminPort'] as number}/admin/routes/scorer`;
  const metricsUrl = `http://127.0.0.1:${server.ready['httpPort'] as number}/metrics`;
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const admin = async <T>(method: string, suffix: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${adminBase}${suffix}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${suffix}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };
  await admin('PUT', '', { targets: [{ model: 'scorer', version: '1', weight: 100 }] });
  const body = Buffer.from(
    JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: Array.from({ length: 32 }, (_, i) => Math.sin(i)) }] }),
  );

  interface Timeline {
    startedAt: number;
    rolledBackAt?: number;
    atStart: { all: number; errors: number };
    atRollback?: { all: number; errors: number };
    atWindowEnd?: { all: number; errors: number };
    final?: RolloutView;
  }
  const operator = async (): Promise<Timeline> => {
    await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
    const atStart = await answered(metricsUrl);
    const startedAt = performance.now();
    await admin('PUT', '/rollout', { target: { model: 'scorer', version: '3' }, interval_seconds: intervalSeconds });
    const timeline: Timeline = { startedAt, atStart };
    const windowEnd = startedAt + 2 * intervalSeconds * 1000;
    while (performance.now() < windowEnd) {
      if (timeline.rolledBackAt === undefined) {
        const view = await admin<RolloutView>('GET', '/rollout');
        if (view.state !== 'progressing' && view.applied) {
          timeline.rolledBackAt = performance.now();
          timeline.atRollback = await answered(metricsUrl);
          timeline.final = view;
        }
      }
      await new Promise((r) => setTimeout(r, timeline.rolledBackAt === undefined ? 20 : 100));
    }
    timeline.atWindowEnd = await answered(metricsUrl);
    timeline.final ??= await admin<RolloutView>('GET', '/rollout');
    return timeline;
  };

  const [raw, timeline] = await Promise.all([
    runRestLoad({
      url: new URL(`http://127.0.0.1:${server.ready['httpPort'] as number}/v2/models/scorer/infer`),
      body,
      headers: { 'content-type': 'application/json' },
      mode: 'closed',
      concurrency,
      connections: concurrency,
      // The load outlasts the goal's window a little, so that the window is under load throughout.
      durationSeconds: warmupSeconds + 2 * intervalSeconds + 1,
      warmupSeconds: 0,
    }),
    operator(),
  ]);
  const final = timeline.final!;
  const window = { all: timeline.atWindowEnd!.all - timeline.atStart.all, errors: timeline.atWindowEnd!.errors - timeline.atStart.errors };
  const live = timeline.atRollback ? { all: timeline.atRollback.all - timeline.atStart.all, errors: timeline.atRollback.errors - timeline.atStart.errors } : undefined;
  const seconds = timeline.rolledBackAt === undefined ? undefined : (timeline.rolledBackAt - timeline.startedAt) / 1000;
  const clientErrors = Object.entries(raw.outcomes).filter(([status]) => status !== '200').reduce((sum, [, n]) => sum + n, 0);
  const share = window.errors / window.all;
  const met = final.state === 'rolled_back' && seconds !== undefined && seconds <= 2 * intervalSeconds && share < 0.02;
  const machine = machineInfo();
  const rows = final.intervals.map(
    (i) =>
      `| ${i.index} | ${i.weight}% | ${i.verdict}${i.early ? ' (early)' : ''} | ${fmt(i.canary.requests)} | ${fmt(i.canary.errors)} | ${i.canary.error_rate === null ? '-' : `${(i.canary.error_rate * 100).toFixed(1)}%`} | ${i.reasons.join('; ')} |`,
  );
  const report = [
    ...reportHeading('A failing canary under load: time to rollback, and requests answered with an error', `npm run bench:rollout-analysis -- ${process.argv.slice(2).join(' ')}`.trim(), machine),
    '',
    `Route \`scorer\` (version 1) under ${concurrency} closed-loop REST connections. After ${warmupSeconds} s, a rollout of version 3, which fails every`,
    `batch whose size is not a multiple of 7, starts with the default steps (5, 25, 50, 100) and gates (min_requests 200,`,
    `max_error_rate 1%, max_p99_ratio 1.5, failure_limit 2) and \`interval_seconds\` ${intervalSeconds}.`,
    '',
    '| interval | weight | verdict | canary requests | canary errors | error rate | why |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `- Final state: **${final.state}**${final.reason ? ` (${final.reason})` : ''}.`,
    `- Time from the start to the rollback (the route at weight 0 again): **${seconds === undefined ? 'not rolled back' : `${seconds.toFixed(2)} s`}**` +
      (seconds === undefined ? '' : `, ${(seconds / intervalSeconds).toFixed(2)} intervals.`),
    `- Requests answered with an error in the two intervals after the start: **${fmt(window.errors)} of ${fmt(window.all)} (${(share * 100).toFixed(2)}%)**.`,
    live ? `- While the canary had traffic (start to rollback): ${fmt(live.errors)} of ${fmt(live.all)} (${((live.errors / live.all) * 100).toFixed(2)}%): the canary's ${final.steps[0]}% share times its failure rate.` : '- The canary was not rolled back within the window.',
    `- The server counted ${fmt(final.totals.canary_errors)} errors on the canary; the clients saw ${fmt(clientErrors)} non-200 answers over the whole run (${fmt(raw.sent)} requests).`,
    '',
    `Goal (rolled back within 2 intervals, under 2% of all requests answered with an error): **${met ? 'met' : 'not met'}**.`,
    '',
  ].join('\n');
  writeFileSync(args.out, report);
  console.log(report);
  process.exitCode = met ? 0 : 1;
} finally {
  await server.stop();
}
