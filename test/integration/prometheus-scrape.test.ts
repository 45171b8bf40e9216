import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { waitFor } from '../helpers/conditions.js';
import { externalTool } from '../helpers/external-tools.js';
import { tempDir, writeRepository } from '../helpers/repository.js';
import { postJson, startServer, type TestServer } from '../helpers/server.js';

type QueryResult = { metric: Record<string, string>; value: [number, string] }[];

const prometheus = externalTool('prometheus');

// A real Prometheus (Debian's package, which .ci/run installs) scraping the server.
describe.skipIf(!prometheus.available)(`a real Prometheus scraping the server${prometheus.skipNote}`, () => {
  let server: TestServer;
  let prometheusProcess: ChildProcess | undefined;
  let prometheusUrl = '';

  beforeAll(async () => {
    const repository = writeRepository([{ entry: BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!, config: { max_batch_size: 16 } }]);
    server = await startServer(repository);
    const dir = tempDir('prometheus');
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: brisk\n    static_configs:\n      - targets: ['127.0.0.1:${server.httpPort}']\n`,
    );
    const port = 19_090 + (process.pid % 500);
    prometheusUrl = `http://127.0.0.1:${port}`;
    prometheusProcess = spawn(
      'prometheus',
      [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: 'ignore' },
    );
  });

  afterAll(async () => {
    prometheusProcess?.kill('SIGTERM');
    await server?.stop();
  });

  async function query(expr: string): Promise<QueryResult> {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { data: { result: QueryResult } };
    return body.data.result;
  }

  it('answers histogram_quantile(0.99, ...) for a model', { timeout: 60_000 }, async () => {
    const send = () =>
      Promise.all(
        Array.from({ length: 20 }, () =>
          postJson(`${server.url}/v2/models/tiny_classifier/infer`, {
            inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0.25) }],
          }),
        ),
      );
    const expr = 'histogram_quantile(0.99, sum by (le, model) (rate(brisk_request_duration_seconds_bucket[30s])))';
    let result: QueryResult = [];
    // Traffic goes on until Prometheus has scraped twice with requests in between (scrape_interval 1 s).
    await waitFor(
      'Prometheus to answer the query',
      async () => {
        await send();
        result = (await query(expr).catch(() => [])).filter((r) => Number.isFinite(Number(r.value[1])));
        return result.length > 0;
      },
      40_000,
      500,
    );
    expect(result.map((r) => r.metric['model'])).toContain('tiny_classifier');
    const p99 = Number(result.find((r) => r.metric['model'] === 'tiny_classifier')!.value[1]);
    expect(p99).toBeGreaterThan(0);
    expect(p99).toBeLessThan(10);
  });
});
