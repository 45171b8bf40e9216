/**
 * npm run bench:replicas -- [--duration 20] [--flips 5] [--connections 24]
 *
 * Three replicas sharing their routes in a real etcd (--route-store etcd), on loopback. The
 * generator's keep-alive connections go to them in turn, closed loop, on the route `scorer`,
 * while its weights are flipped through replica A's admin API: for each flip, the time from the
 * admin call returning to each replica serving the new weights (seen in the model_version of its
 * answers to a fixed routing key), and every request by outcome. Any failed request, or a flip
 * not served everywhere, fails the run.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { latencySummary } from '../src/loadtool/samples.js';
import { projectFile } from '../src/project-files.js';
import { AdminClient } from './lib/admin-client.js';
import { startBrisk, type ChildServer } from './lib/child-server.js';
import { etcdAvailable, startEtcd, type LocalEtcd } from './lib/etcd.js';
import { agreementSummary, flipSchedule, flipVersion } from './lib/flip-schedule.js';
import { countOf, runSpreadLoad, tallyOutcomes } from './lib/replica-load.js';
import { timeToServe, type ProbeResult, type ProbeTarget } from './lib/serving-probe.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    flips: { type: 'string', default: '5' },
    connections: { type: 'string', default: '24' },
    out: { type: 'string', default: projectFile('bench', 'results', 'replicas.md') },
  },
});
const durationSeconds = Number(args.duration);
const flips = Number(args.flips);
const connections = Number(args.connections);
const schedule = flipSchedule(durationSeconds, flips);
/** Longer than any agreement could honestly take: past it the flip counts as not served. */
const AGREEMENT_TIMEOUT_MS = 10_000;
const NAMES = ['A', 'B', 'C'] as const;
const ROUTE = 'scorer';

if (!etcdAvailable()) {
  console.error("etcd is not installed: apt-get install etcd-server (Debian's package, which .ci/run installs)");
  process.exit(1);
}

const TOKEN = `replicas-${process.pid}-${Date.now()}-token`;
const weights = (one: number) => ({
  targets: [{ model: ROUTE, version: '1', weight: one }, { model: ROUTE, version: '2', weight: 100 - one }],
  shadows: [],
});
const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: Array.from({ length: 32 }, (_, i) => Math.sin(i)) }] });

interface FlipResult {
  flip: number;
  atSeconds: number;
  version: string;
  status: number;
  revision: number | undefined;
  adminCallMs: number;
  /** Per replica, A B C: ms from the admin call returning to serving the new version. */
  servedAfterMs: (number | undefined)[];
  /** Per replica: the revision its admin API showed once it served the flip. */
  revisions: (number | undefined)[];
  probeRoundTripMs: number[];
  /** Per replica: probes sent until one showed the new version (1: the first already did). */
  probesToSee: number[];
}

let etcd: LocalEtcd | undefined;
let replicas: ChildServer[] = [];
try {
  etcd = await startEtcd();
  const endpoint = etcd.endpoint;
  replicas = await Promise.all(
    NAMES.map((name) =>
      startBrisk(['--route-store', 'etcd', '--etcd-endpoints', endpoint, '--etcd-prefix', `/brisk/bench-${process.pid}/`, '--replica-name', `replica-${name}`], {
        ADMIN_TOKEN: TOKEN,
      }),
    ),
  );
  const admins = replicas.map((r) => new AdminClient(`http://127.0.0.1:${r.ready['adminPort'] as number}`, TOKEN));
  const inferUrls = replicas.map((r) => `http://127.0.0.1:${r.ready['httpPort'] as number}/v2/models/${ROUTE}/infer`);
  const probes: ProbeTarget[] = inferUrls.map((url, i) => ({ url, body, routingKey: `probe-${NAMES[i]}` }));
  const probeFailures: Record<string, number> = {};
  let probeCount = 0;
  const probeAll = async (version: string, since: number): Promise<ProbeResult[]> => {
    const results = await Promise.all(probes.map((p) => timeToServe(p, version, since, AGREEMENT_TIMEOUT_MS)));
    for (const r of results) {
      probeCount += r.probes;
      for (const [kind, n] of Object.entries(r.failures)) probeFailures[kind] = (probeFailures[kind] ?? 0) + n;
    }
    return results;
  };
  const revisionOn = async (admin: AdminClient): Promise<number | undefined> => {
    const answer = await admin.call('GET', `/admin/routes/${ROUTE}`);
    return answer.status === 200 ? (JSON.parse(answer.text) as { revision: number }).revision : undefined;
  };

  // The starting point: all of the route on version 1, served so by every replica.
  const initial = await admins[0]!.call('PUT', `/admin/routes/${ROUTE}`, weights(100));
  if (initial.status !== 200) throw new Error(`setting the route answered ${initial.status}: ${initial.text}`);
  const settled = await probeAll('1', performance.now());
  if (settled.some((r) => r.ms === undefined)) throw new Error('the replicas did not all serve the starting weights');

  const flipResults: FlipResult[] = [];
  const loadStart = performance.now();
  const operator = async (): Promise<void> => {
    for (const [index, atSeconds] of schedule.entries()) {
      const wait = loadStart + atSeconds * 1000 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const flip = index + 1;
      const version = flipVersion(flip);
      const answer = await admins[0]!.call('PUT', `/admin/routes/${ROUTE}`, weights(version === '1' ? 100 : 0));
      const returnedAt = performance.now();
      const revision = answer.status === 200 ? (JSON.parse(answer.text) as { revision: number }).revision : undefined;
      const served = await probeAll(version, returnedAt);
      flipResults.push({
        flip,
        atSeconds: (returnedAt - loadStart) / 1000,
        version,
        status: answer.status,
        revision,
        adminCallMs: answer.ms,
        servedAfterMs: served.map((r) => r.ms),
        revisions: await Promise.all(admins.map(revisionOn)),
        probeRoundTripMs: served.map((r) => r.lastRoundTripMs),
        probesToSee: served.map((r) => r.probes),
      });
      console.log(`flip ${flip} to version ${version}: served by ${NAMES.map((n, i) => `${n} after ${served[i]!.ms?.toFixed(0) ?? 'never'} ms`).join(', ')}`);
    }
  };
  const [raw] = await Promise.all([
    runSpreadLoad({
      urls: inferUrls.map((u) => new URL(u)),
      body: Buffer.from(body),
      headers: { 'content-type': 'application/json' },
      mode: 'closed',
      connections,
      durationSeconds,
      warmupSeconds: 0,
    }),
    operator(),
  ]);

  const tally = tallyOutcomes(raw);
  const refused = countOf(tally.refused);
  const transport = countOf(tally.transport);
  const probeFailed = countOf(probeFailures);
  const failed = refused + transport + probeFailed;
  const agreed = flipResults.flatMap((f) => f.servedAfterMs.slice(1)).filter((ms): ms is number => ms !== undefined);
  const unserved = flipResults.filter((f) => f.status !== 200 || f.servedAfterMs.some((ms) => ms === undefined) || f.revisions.some((r) => r !== f.revision));
  const others = agreementSummary(agreed);
  const successes = new Float64Array(raw.reduce((n, r) => n + r.successLatenciesMs.length, 0));
  raw.reduce((at, r) => (successes.set(r.successLatenciesMs, at), at + r.successLatenciesMs.length), 0);
  const latency = latencySummary(successes);
  const elapsed = Math.max(...raw.map((r) => r.elapsedSeconds));
  const machine = machineInfo();
  const command = ['npm run bench:replicas', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  const ms = (v: number | undefined): string => (v === undefined ? 'never' : fmt(v));
  const report = [
    ...reportHeading('Replicas: weight flips agreed through etcd under load', command, machine),
    '',
    `Three replicas (A, B, C) with \`--route-store etcd\` on one local etcd, all on loopback on this machine. ${connections} closed-loop keep-alive connections, dealt to the replicas in turn (${raw.map((r, i) => `${NAMES[i]}: ${fmt(r.sent)} requests`).join(', ')}), on route \`${ROUTE}\` for ${durationSeconds} s. ${flips} flips through A's admin API move every slot between versions 1 and 2. "Served after" runs from A's admin call returning to the first answer by the new version from that replica to a fixed routing key (its arrival: an upper bound, over by at most one probe round trip).`,
    '',
    '| flip | at (s) | to version | admin call (ms) | revision | served by A after (ms) | by B (ms) | by C (ms) | probe round trip (ms) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...flipResults.map(
      (f) =>
        `| ${f.flip} | ${fmt(f.atSeconds, 1)} | ${f.version} | ${fmt(f.adminCallMs, 1)} | ${f.status === 200 ? f.revision : `answered ${f.status}`}${f.revisions.every((r) => r === f.revision) ? '' : ` (replicas showed ${f.revisions.join('/')})`} | ${ms(f.servedAfterMs[0])} | ${ms(f.servedAfterMs[1])} | ${ms(f.servedAfterMs[2])} | ${f.probeRoundTripMs.map((v) => fmt(v, 1)).join(' / ')} |`,
    ),
    '',
    `Served by B and C after: median ${fmt(others.median)} ms, longest ${fmt(others.max)} ms (goal: 1,000 ms). ${flipResults.every((f) => f.probesToSee.every((n) => n === 1)) ? "Every replica's first probe after the call already got the new version: each time above is that probe's round trip, and the replicas agreed sooner. " : ''}${unserved.length === 0 ? 'Every flip was served by all three, at the revision A returned.' : `**Flips not served everywhere: ${unserved.map((f) => f.flip).join(', ')}.**`}`,
    '',
    `Requests: ${fmt(tally.sent)} sent, ${fmt(tally.ok)} 2xx; ${fmt(tally.ok / elapsed)} req/s over the three, p50 ${fmt(latency.p50, 2)} ms, p99 ${fmt(latency.p99, 2)} ms. Probes: ${fmt(probeCount)}.`,
    '',
    `**Failed requests: ${failed}** (non-2xx answers: ${refused}${refused ? ` ${JSON.stringify(tally.refused)}` : ''}; transport errors: ${transport}${transport ? ` ${JSON.stringify(tally.transport)}` : ''}; failed probes: ${probeFailed}${probeFailed ? ` ${JSON.stringify(probeFailures)}` : ''}).`,
    '',
  ].join('\n');
  writeFileSync(args.out, report);
  writeFileSync(
    args.out.replace(/\.md$/, '.json'),
    `${JSON.stringify({ command, machine, options: { durationSeconds, flips, connections }, flips: flipResults, agreementOthersMs: others, requests: { ...tally, perReplica: raw.map((r) => r.sent), probes: probeCount, probeFailures }, latencyMs: latency }, null, 2)}\n`,
  );
  console.log(report);
  process.exitCode = failed === 0 && unserved.length === 0 ? 0 : 1;
} finally {
  await Promise.all(replicas.map((r) => r.stop()));
  await etcd?.close();
}
