import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tracing } from '@opentelemetry/sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import { GrpcTestClient } from '../helpers/grpc-client.js';
import { tempDir, writeRepository } from '../helpers/repository.js';
import { postJson } from '../helpers/server.js';

// The compiled server runs in this process, so the spans land in an in-memory exporter here.
type Main = typeof import('../../src/main.js');
type Tracing = typeof import('../../src/observability/tracing.js');
type Config = typeof import('../../src/config/load-config.js');
type Logging = typeof import('../../src/observability/logger.js');
const dist = async <T>(file: string): Promise<T> => (await import(projectFile('dist', 'src', file))) as T;

const exporter = new tracing.InMemorySpanExporter();
let server: Awaited<ReturnType<Main['startServer']>>;
let url: string;
const scorers = BUNDLED_MODELS.filter((e) => e.model === 'scorer');

beforeAll(async () => {
  const repository = writeRepository(scorers.map((entry) => ({ entry, config: { max_batch_size: 16, version_policy: { all: {} } } })));
  writeFileSync(
    path.join(repository, 'routes.json'),
    JSON.stringify({ mirrored: { targets: [{ model: 'scorer', version: '1', weight: 100 }], shadows: [{ model: 'scorer', version: '2', percent: 100 }] } }),
  );
  (await dist<Tracing>('observability/tracing.js')).startTracing(exporter);
  const { loadConfig } = await dist<Config>('config/load-config.js');
  const { createLogger } = await dist<Logging>('observability/logger.js');
  const config = loadConfig(
    ['--model-repository', repository, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--admin-port', '0', '--state-dir', tempDir('state'), '--shadow-max-load', '1'],
    {},
  );
  server = await (await dist<Main>('main.js')).startServer(config, createLogger('silent'));
  url = `http://127.0.0.1:${server.httpPort}`;
});

afterAll(async () => {
  await server?.shutdown(1);
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';
const body = (seed: number) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: Array.from({ length: 32 }, (_, i) => Math.sin(seed + i)) }] });

const spans = () => exporter.getFinishedSpans();
const waitFor = async (predicate: () => boolean): Promise<void> => {
  for (let i = 0; i < 100 && !predicate(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe('tracing', () => {
  it('continues the caller’s trace, with queue and batch spans for the request', async () => {
    exporter.reset();
    const answers = await Promise.all(
      [1, 2, 3].map((i) => postJson(`${url}/v2/models/scorer/versions/1/infer`, body(i), { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` })),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    await waitFor(() => spans().filter((s) => s.name.startsWith('POST')).length === 3);
    const requests = spans().filter((s) => s.name === 'POST /v2/models/{model}/infer');
    expect(requests).toHaveLength(3);
    for (const request of requests) {
      expect(request.spanContext().traceId).toBe(TRACE_ID);
      expect(request.parentSpanContext?.spanId).toBe(PARENT_SPAN);
      expect(request.attributes).toMatchObject({ 'brisk.model': 'scorer', 'brisk.version': '1', 'brisk.protocol': 'rest' });
      const queue = spans().find((s) => s.name === 'queue' && s.parentSpanContext?.spanId === request.spanContext().spanId);
      expect(queue, 'queue span').toBeDefined();
      const batch = spans().find((s) => s.name === 'batch scorer/1' && s.links.some((l) => l.context.spanId === request.spanContext().spanId));
      expect(batch, 'batch span').toBeDefined();
      expect(batch!.attributes['brisk.batch_size']).toBeGreaterThanOrEqual(1);
    }
    // One span per batch, however many requests it carried.
    const batches = spans().filter((s) => s.name === 'batch scorer/1');
    expect(batches.reduce((n, b) => n + b.links.length, 0)).toBe(3);
  });

  it('traces gRPC requests and shadow executions', async () => {
    exporter.reset();
    const client = new GrpcTestClient(`127.0.0.1:${server.grpcPort}`);
    await client.call(
      'ModelInfer',
      { model_name: 'mirrored', inputs: [{ name: 'features', datatype: 'FP32', shape: ['1', '32'], contents: { fp32_contents: body(4).inputs[0]!.data } }] },
      { metadata: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` } },
    );
    client.close();
    await waitFor(() => spans().some((s) => s.name === 'shadow scorer/2'));
    const request = spans().find((s) => s.name === 'inference.GRPCInferenceService/ModelInfer')!;
    expect(request.spanContext().traceId).toBe(TRACE_ID);
    expect(request.attributes['brisk.served_by']).toBe('scorer/1');
    const shadow = spans().find((s) => s.name === 'shadow scorer/2')!;
    expect(shadow.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(shadow.attributes['brisk.shadow.max_abs_diff']).toBeCloseTo(0.05, 5);
  });
});
