/**
 * node dist/bench/console-state-cost.js
 *
 * What the console's one polling endpoint costs at its largest: the bundled repository's
 * six versions, each with a full 15-minute history (450 samples), 50 audit entries and a
 * route with a shadow. Measures building the document with and without the series (the
 * page asks for the series once, then only the latest sample), its size raw and gzipped,
 * and the size of what the page loads (the browser bundle). In process, no server: the
 * build is what the server's I/O thread spends; it is cached for a second, so any number
 * of browsers polling every 2 s cost at most one build of each kind per second.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ConsoleState, type ConsoleSources } from '../src/console/console-state.js';
import { HISTORY_SECONDS, SAMPLE_INTERVAL_MS } from '../src/console/figure-history.js';
import { projectFile } from '../src/project-files.js';
import { ShadowStatsTable } from '../src/routing/shadow-stats.js';
import { VersionStats } from '../src/scheduling/version-stats.js';

const versions = ['tiny_classifier/1', 'heavy_mlp/1', 'scorer/1', 'scorer/2', 'mixed_types/1', 'channel_stats/1'].map((id) => {
  const [name, version] = id.split('/') as [string, string];
  return { name, version, stats: new VersionStats() };
});
const spec = { targets: [{ model: 'scorer', version: '1', weight: 80 }, { model: 'scorer', version: '2', weight: 20 }], shadows: [] };
const sources: ConsoleSources = {
  registry: {
    list: () =>
      versions.map((v) => ({
        name: v.name,
        versions: [{ name: v.name, version: v.version, state: 'READY', leases: 0, loadSeconds: 2.1, warmupSeconds: 0.0001, scheduler: { queued: 3 } } as never],
      })),
  },
  service: { stats: () => versions.map((v) => ({ name: v.name, version: v.version, stats: v.stats, recent: { count: 100, p50: 0.0021, p95: 0.0093, p99: 0.0154 } })) },
  store: {
    list: () => [{ name: 'scorer', spec, slots: [], revision: 7, updatedAt: new Date().toISOString() }],
    audit: () => Array.from({ length: 50 }, (_, i) => ({ at: new Date().toISOString(), token: 'dana', route: 'scorer', action: 'set' as const, before: spec, after: spec, revision: i + 1 })),
  },
  shadowStats: new ShadowStatsTable(),
  rollouts: { get: () => undefined },
};

let clock = 0;
const state = new ConsoleState(sources, () => clock);
const samples = (HISTORY_SECONDS * 1000) / SAMPLE_INTERVAL_MS;
for (let i = 0; i <= samples; i++) {
  for (const v of versions) {
    v.stats.recordBatch(8, 0.001);
    for (let r = 0; r < 40 + (i % 17); r++) v.stats.recordRequest(r % 50 !== 0, 1, 2, 0.4);
  }
  clock += SAMPLE_INTERVAL_MS;
  state.sample();
}

function measure(withSeries: boolean): { ms: number; bytes: number; gzip: number } {
  const runs = 50;
  let text = '';
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    // Past the cache: every call builds.
    clock += 1000;
    text = state.json(withSeries);
  }
  return { ms: (performance.now() - started) / runs, bytes: Buffer.byteLength(text), gzip: gzipSync(text).length };
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
for (const [label, withSeries] of [['first poll (with the 15-minute series)', true], ['every later poll (latest sample only)', false]] as const) {
  const m = measure(withSeries);
  console.log(`${label}: build ${m.ms.toFixed(2)} ms, ${kb(m.bytes)} (${kb(m.gzip)} gzipped)`);
}

const built = projectFile('dist', 'web', 'console');
const files = [
  ...readdirSync(built).filter((f) => f.endsWith('.js')).map((f) => path.join(built, f)),
  projectFile('web', 'console', 'console.css'),
  projectFile('node_modules', 'uplot', 'dist', 'uPlot.iife.min.js'),
  projectFile('node_modules', 'uplot', 'dist', 'uPlot.min.css'),
];
const own = files.filter((f) => !f.includes('uplot'));
const sum = (list: string[]) => list.reduce((s, f) => s + statSync(f).size, 0);
const gz = (list: string[]) => list.reduce((s, f) => s + gzipSync(readFileSync(f)).length, 0);
console.log(`page bundle: ${kb(sum(files))} (${kb(gz(files))} gzipped), of which the console's own code and styles ${kb(sum(own))} (${kb(gz(own))} gzipped) and uPlot ${kb(sum(files) - sum(own))}`);
