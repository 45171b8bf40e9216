/**
 * Compares two benchmark result files (the .json written beside each report):
 *   npm run bench:compare -- <baseline.json> <candidate.json> [--threshold 0.1]
 * Prints each point's throughput and p99 in both, and exits 1 when any point's
 * throughput fell, or its p99 rose, by more than the threshold (a fraction).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import type { LoadResult } from './lib/load.js';

interface ResultFile {
  /** REST baseline: per scenario, server and connection count; the load tool: per mode and load. */
  points?: (
    | { scenario: string; server: string; connections: number; median: LoadResult }
    | { mode: 'closed' | 'open'; load: number; requestsPerSecond: number; latencyMs: LoadResult['latencyMs'] }
  )[];
  /** gRPC baseline: per target. */
  rows?: { target: string; median: LoadResult }[];
}

export interface PointComparison {
  id: string;
  baseline: LoadResult;
  candidate: LoadResult;
  throughputChange: number;
  p99Change: number;
  regressed: boolean;
}

export function pointsOf(file: ResultFile): Map<string, LoadResult> {
  const points = new Map<string, LoadResult>();
  for (const p of file.points ?? []) {
    if ('median' in p) points.set(`${p.scenario} ${p.server} c=${p.connections}`, p.median);
    else points.set(`${p.mode} ${p.load}`, { connections: 0, requests: 0, errors: 0, non2xx: 0, requestsPerSecond: p.requestsPerSecond, latencyMs: p.latencyMs });
  }
  for (const r of file.rows ?? []) points.set(r.target, r.median);
  return points;
}

export function compareResults(baseline: ResultFile, candidate: ResultFile, threshold: number): PointComparison[] {
  const before = pointsOf(baseline);
  const after = pointsOf(candidate);
  return [...before.entries()].flatMap(([id, b]) => {
    const c = after.get(id);
    if (!c) return [];
    const throughputChange = c.requestsPerSecond / b.requestsPerSecond - 1;
    const p99Change = c.latencyMs.p99 / b.latencyMs.p99 - 1;
    return [{ id, baseline: b, candidate: c, throughputChange, p99Change, regressed: throughputChange < -threshold || p99Change > threshold }];
  });
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${fmt(x * 100, 1)}%`;

export function formatComparison(rows: readonly PointComparison[], threshold: number): string {
  const lines = [
    `| point | req/s before → after | change | p99 ms before → after | change | verdict (threshold ${fmt(threshold * 100, 0)}%) |`,
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${r.id} | ${fmt(r.baseline.requestsPerSecond)} → ${fmt(r.candidate.requestsPerSecond)} | ${pct(r.throughputChange)} | ${fmt(r.baseline.latencyMs.p99, 2)} → ${fmt(r.candidate.latencyMs.p99, 2)} | ${pct(r.p99Change)} | ${r.regressed ? 'REGRESSED' : 'ok'} |`,
    ),
  ];
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { threshold: { type: 'string', default: '0.1' } } });
  const [baselineFile, candidateFile] = positionals;
  if (!baselineFile || !candidateFile) {
    console.error('usage: npm run bench:compare -- <baseline.json> <candidate.json> [--threshold 0.1]');
    process.exit(2);
  }
  const threshold = Number(values.threshold);
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as ResultFile;
  const rows = compareResults(read(baselineFile), read(candidateFile), threshold);
  if (rows.length === 0) {
    console.error('the two files share no benchmark point');
    process.exit(2);
  }
  console.log(formatComparison(rows, threshold));
  const regressed = rows.filter((r) => r.regressed).length;
  console.log(regressed ? `${regressed} point(s) regressed beyond ${fmt(threshold * 100, 0)}%` : 'no regression');
  process.exit(regressed ? 1 : 0);
}
