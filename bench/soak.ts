/**
 * npm run soak -- [--model heavy|tiny] [--duration 600] [--overload 3] [--rate N] [--connections 2048] [--queue-size 512]
 *
 * Overload and hostile-input soak: starts the server on a copy of the bundled
 * models whose soaked model holds at most `--queue-size` requests (with the
 * default 8,192 a generator could not keep enough requests in flight to overload
 * it: their queueing time would need tens of thousands of connections),
 * measures the model's capacity (closed loop, 5 s), then sends `--overload` ×
 * that rate (or `--rate`) for `--duration` seconds, open loop, seven valid
 * requests in ten and the rest malformed, wrong-shaped or for unknown models.
 * Reports sent, answered by status, lost (reset or never answered) and the
 * server's resident memory, and exits non-zero if anything was lost. A request
 * due while every connection is busy is counted as not sent: the generator,
 * not the server, is then the limit.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt } from '../src/loadtool/format.js';
import { machineInfo } from '../src/loadtool/machine.js';
import { projectFile } from '../src/project-files.js';
import { startBrisk } from './lib/child-server.js';
import { runLoad } from './lib/load.js';
import { processRss, runSoak } from './lib/soak.js';
import { requestBody, SCENARIOS } from './scenarios.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'heavy' },
    duration: { type: 'string', default: '600' },
    overload: { type: 'string', default: '3' },
    rate: { type: 'string' },
    connections: { type: 'string', default: '2048' },
    'queue-size': { type: 'string', default: '512' },
  },
});
const scenario = SCENARIOS[args.model];
if (!scenario) throw new Error(`unknown model scenario ${args.model}; known: ${Object.keys(SCENARIOS).join(', ')}`);

/** A copy of the bundled models in which `model` holds at most `queueSize` requests. */
function repositoryWithQueueSize(model: string, queueSize: number): string {
  const copy = path.join(mkdtempSync(path.join(tmpdir(), 'brisk-soak-')), 'models');
  cpSync(projectFile('models'), copy, { recursive: true });
  const configFile = path.join(copy, model, 'config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { dynamic_batching?: Record<string, unknown> };
  config.dynamic_batching = { ...config.dynamic_batching, max_queue_size: queueSize };
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return copy;
}

const server = await startBrisk(['--model-repository', repositoryWithQueueSize(scenario.model, Number(args['queue-size']))]);
try {
  const port = server.ready['httpPort'] as number;
  // The soak sends JSON, so capacity is measured with the same JSON body.
  const jsonScenario = { ...scenario, encoding: 'json' as const };
  const { body } = requestBody(jsonScenario);
  let rate = Number(args.rate ?? 0);
  if (!rate) {
    const capacity = await runLoad({ url: `http://127.0.0.1:${port}/v2/models/${scenario.model}/infer`, connections: 64, durationSeconds: 5, warmupSeconds: 1, body, headers: { 'content-type': 'application/json' } });
    rate = Math.round(capacity.requestsPerSecond * Number(args.overload));
    process.stderr.write(`capacity ${fmt(capacity.requestsPerSecond)} req/s; soaking at ${fmt(rate)} req/s\n`);
  }
  const result = await runSoak({
    host: '127.0.0.1',
    port,
    model: scenario.model,
    validBody: body.toString(),
    ratePerSecond: rate,
    durationSeconds: Number(args.duration),
    drainSeconds: 30,
    connections: Number(args.connections),
    rss: () => processRss(server.process.pid!),
  });
  const machine = machineInfo();
  const rss = result.rssSamples;
  // About twelve points over the run, one sample a second.
  const rssStep = Math.max(1, Math.round(rss.length / 12));
  console.log(
    [
      `soak: ${scenario.model} (max_queue_size ${args['queue-size']}), ${fmt(rate)} req/s offered for ${args.duration} s, ${args.connections} connections; ${machine.cpu}, ${machine.cores} cores; revision ${machine.gitRevision}`,
      `sent ${fmt(result.sent)} (${fmt(result.notSent)} more were due while all ${args.connections} connections were busy); answered ${Object.entries(result.answered).map(([s, n]) => `${s}: ${fmt(n)}`).join(', ')}; lost ${fmt(result.lost)}${result.lost ? ` (${JSON.stringify(result.lostReasons)})` : ''}`,
      rss.length
        ? `server RSS: first ${fmt(rss[0]! / 2 ** 20)} MiB, peak ${fmt(result.peakRssBytes! / 2 ** 20)} MiB, last ${fmt(rss.at(-1)! / 2 ** 20)} MiB; ` +
          `every ${rssStep} s: ${rss.filter((_, i) => i % rssStep === 0).map((b) => fmt(b / 2 ** 20)).join(' ')} MiB`
        : 'server RSS: not available',
    ].join('\n'),
  );
  process.exitCode = result.lost === 0 ? 0 : 1;
} finally {
  await server.stop();
}
