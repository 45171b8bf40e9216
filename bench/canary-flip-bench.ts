/**
 * npm run bench:canary -- [--duration 10] [--concurrency 32]
 *
 * Canary flips under load: the route `scorer` takes closed-loop traffic while an
 * operator moves its weights every second, promotes and rolls back through the
 * admin API. Reports every answer by status; any failed request fails the run.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import { runRestLoad } from '../src/loadtool/rest-load.js';
import { summarize } from '../src/loadtool/summary.js';
import { projectFile } from '../src/project-files.js';
import { startBrisk } from './lib/child-server.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '32' },
    out: { type: 'string', default: projectFile('bench', 'results', 'canary-flip.md') },
  },
});
const TOKEN = `canary-${process.pid}-${Date.now()}-token`;
const server = await startBrisk([], { ADMIN_TOKEN: TOKEN });
try {
  const admin = `http://127.0.0.1:${server.ready['adminPort'] as number}/admin/routes/scorer`;
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const weights = (v1: number) => ({
    targets: [{ model: 'scorer', version: '1', weight: v1 }, { model: 'scorer', version: '2', weight: 100 - v1 }],
    shadows: [],
  });
  const changes: string[] = [];
  const operator = async (): Promise<void> => {
    const steps: [string, () => Promise<Response>][] = [
      ['set 90/10', () => fetch(admin, { method: 'PUT', headers, body: JSON.stringify(weights(90)) })],
      ['set 50/50', () => fetch(admin, { method: 'PUT', headers, body: JSON.stringify(weights(50)) })],
      ['set 0/100', () => fetch(admin, { method: 'PUT', headers, body: JSON.stringify(weights(0)) })],
      ['set 70/30', () => fetch(admin, { method: 'PUT', headers, body: JSON.stringify(weights(70)) })],
      ['promote', () => fetch(`${admin}/promote`, { method: 'POST', headers })],
      ['rollback', () => fetch(`${admin}/rollback`, { method: 'POST', headers })],
    ];
    const end = performance.now() + Number(args.duration) * 1000 - 500;
    for (let i = 0; performance.now() < end; i++) {
      const [name, step] = steps[i % steps.length]!;
      const response = await step();
      changes.push(`${name}: ${response.status}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  const body = Buffer.from(
    JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: Array.from({ length: 32 }, (_, i) => Math.sin(i)) }] }),
  );
  const [raw] = await Promise.all([
    runRestLoad({
      url: new URL(`http://127.0.0.1:${server.ready['httpPort'] as number}/v2/models/scorer/infer`),
      body,
      headers: { 'content-type': 'application/json' },
      mode: 'closed',
      concurrency: Number(args.concurrency),
      connections: Number(args.concurrency),
      durationSeconds: Number(args.duration),
      warmupSeconds: 0,
    }),
    operator(),
  ]);
  const point = summarize(raw, 'closed', Number(args.concurrency), 1);
  const failed = point.sent - (point.outcomes['200'] ?? 0);
  const machine = machineInfo();
  const report = [
    ...reportHeading('Canary flips under load', `npm run bench:canary -- ${process.argv.slice(2).join(' ')}`, machine),
    '',
    `Route \`scorer\` under ${args.concurrency} closed-loop connections for ${args.duration} s; admin changes, one a second: ${changes.join(', ')}.`,
    '',
    `Requests: ${fmt(point.sent)} sent, ${Object.entries(point.outcomes).map(([k, n]) => `${k}: ${fmt(n)}`).join(', ')}; ${fmt(point.requestsPerSecond)} req/s, p99 ${fmt(point.latencyMs.p99, 2)} ms.`,
    '',
    `**Failed requests: ${failed}.**`,
    '',
  ].join('\n');
  writeFileSync(args.out, report);
  console.log(report);
  process.exitCode = failed === 0 ? 0 : 1;
} finally {
  await server.stop();
}
