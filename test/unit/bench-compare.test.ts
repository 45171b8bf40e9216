import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareResults } from '../../bench/compare.js';
import type { LoadResult } from '../../bench/lib/load.js';
import { projectFile } from '../../src/project-files.js';
import { tempDir } from '../helpers/repository.js';

const result = (requestsPerSecond: number, p99: number): LoadResult => ({
  connections: 64,
  requests: requestsPerSecond * 5,
  requestsPerSecond,
  errors: 0,
  non2xx: 0,
  latencyMs: { p50: p99 / 3, p90: p99 / 2, p95: p99 * 0.8, p99, max: p99 * 2 },
});
const restFile = (rps: number, p99: number) => ({ points: [{ scenario: 'tiny_classifier', server: 'brisk', connections: 64, median: result(rps, p99) }] });

describe('bench compare', () => {
  it('flags a throughput drop or a p99 rise beyond the threshold, and nothing within it', () => {
    const baseline = restFile(20_000, 6);
    expect(compareResults(baseline, restFile(19_000, 6.3), 0.1)[0]!.regressed).toBe(false);
    expect(compareResults(baseline, restFile(17_000, 6), 0.1)[0]!.regressed).toBe(true);
    expect(compareResults(baseline, restFile(20_000, 7), 0.1)[0]!.regressed).toBe(true);
    const gain = compareResults(baseline, restFile(25_000, 5), 0.1)[0]!;
    expect(gain.regressed).toBe(false);
    expect(gain.throughputChange).toBeCloseTo(0.25);
  });

  it('reads the load tool’s results, point by mode and load', () => {
    const point = (rps: number, p99: number) => ({ points: [{ mode: 'open' as const, load: 2000, requestsPerSecond: rps, latencyMs: result(rps, p99).latencyMs }] });
    const [row] = compareResults(point(2000, 20), point(1990, 30), 0.1);
    expect(row!.id).toBe('open 2000');
    expect(row!.regressed).toBe(true);
  });

  it('exits 1 on a regression and 0 without one, as CI jobs need', () => {
    const dir = tempDir('compare');
    const write = (name: string, value: unknown) => {
      const file = path.join(dir, name);
      writeFileSync(file, JSON.stringify(value));
      return file;
    };
    const baseline = write('a.json', { rows: [{ target: 'brisk ModelInfer tiny', median: result(10_000, 50) }] });
    const same = write('b.json', { rows: [{ target: 'brisk ModelInfer tiny', median: result(9_800, 51) }] });
    const slower = write('c.json', { rows: [{ target: 'brisk ModelInfer tiny', median: result(7_000, 80) }] });
    const run = (b: string) => spawnSync(process.execPath, [projectFile('dist', 'bench', 'compare.js'), baseline, b], { encoding: 'utf8' });
    const ok = run(same);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/no regression/);
    const bad = run(slower);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/REGRESSED/);
    expect(bad.stdout).toMatch(/-30.0%/);
  });
});
