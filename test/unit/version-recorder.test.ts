/**
 * The per-version recorders (the hot path) and the ServerMetrics methods that delegate
 * to them, against the series prom-client made when every call went through
 * `labels(...).observe()` / `.inc()`: same names, help, labels, buckets and values.
 */
import { execFileSync } from 'node:child_process';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BATCH_SIZE_BUCKETS, LATENCY_BUCKETS, ServerMetrics, type MetricSources } from '../../src/observability/metrics.js';
import type { Protocol } from '../../src/types.js';
import type { Role } from '../../src/observability/metrics.js';
import { externalTool } from '../helpers/external-tools.js';

const promtool = externalTool('promtool');

const noSources: MetricSources = { inFlight: () => 0, heldBytes: () => 0, versions: () => [], shadows: () => [] };

/** The request and batch metrics as they were defined with prom-client's own classes. */
function promClientReference() {
  const registers = [new Registry()];
  const versionLabels = ['model', 'version'];
  return {
    registry: registers[0]!,
    requests: new Counter({
      name: 'brisk_requests_total',
      help: 'Inference requests answered, by outcome (success or the error code).',
      labelNames: ['model', 'version', 'protocol', 'role', 'outcome'],
      registers,
    }),
    requestDuration: new Histogram({
      name: 'brisk_request_duration_seconds',
      help: 'Time from a decoded request to its answer: queue, batch and split, without the network.',
      labelNames: ['model', 'version', 'protocol', 'role'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    queueDuration: new Histogram({
      name: 'brisk_queue_duration_seconds',
      help: 'Time requests waited in the queue before their batch started.',
      labelNames: versionLabels,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    computeDuration: new Histogram({
      name: 'brisk_compute_duration_seconds',
      help: 'Time inside ONNX Runtime per batch, on the worker thread.',
      labelNames: versionLabels,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    batchSize: new Histogram({ name: 'brisk_batch_size', help: 'Rows per executed batch.', labelNames: versionLabels, buckets: BATCH_SIZE_BUCKETS, registers }),
    inferences: new Counter({
      name: 'brisk_inferences_total',
      help: 'Rows inferred (a request of k rows counts k); divided by executions it is the batching efficiency.',
      labelNames: versionLabels,
      registers,
    }),
    executions: new Counter({ name: 'brisk_executions_total', help: 'Batches executed.', labelNames: versionLabels, registers }),
  };
}

const FAMILIES = [
  'brisk_requests_total',
  'brisk_request_duration_seconds',
  'brisk_queue_duration_seconds',
  'brisk_compute_duration_seconds',
  'brisk_batch_size',
  'brisk_inferences_total',
  'brisk_executions_total',
];

describe('version recorders', () => {
  it('export what prom-client’s own metrics export for the same calls, whichever API made them', async () => {
    const reference = promClientReference();
    const metrics = new ServerMetrics(noSources);
    const request = (model: string, version: string, protocol: Protocol, role: Role, outcome: string, seconds: number, viaRecorder: boolean) => {
      reference.requests.labels({ model, version, protocol, role, outcome }).inc();
      if (outcome === 'success') reference.requestDuration.labels({ model, version, protocol, role }).observe(seconds);
      if (viaRecorder) metrics.recorder(model, version).requestDone(protocol, role, outcome, seconds);
      else metrics.requestDone(model, version, protocol, role, outcome, seconds);
    };
    const batch = (model: string, version: string, rows: number, computeSeconds: number, queueSeconds: number[], viaRecorder: boolean) => {
      const labels = { model, version };
      reference.batchSize.labels(labels).observe(rows);
      reference.computeDuration.labels(labels).observe(computeSeconds);
      reference.inferences.labels(labels).inc(rows);
      reference.executions.labels(labels).inc();
      for (const q of queueSeconds) reference.queueDuration.labels(labels).observe(q);
      if (!viaRecorder) return metrics.batchDone(model, version, rows, computeSeconds, queueSeconds);
      const recorder = metrics.recorder(model, version);
      recorder.batchDone(rows, computeSeconds);
      for (const q of queueSeconds) recorder.queueWait(q);
    };
    const latencies = [0, 1e-9, ...LATENCY_BUCKETS, ...LATENCY_BUCKETS.map((b) => b * 1.001), 11, 100];
    for (const viaRecorder of [true, false]) {
      // A refusal of a name no model serves is counted under model="" version="".
      request('', '', 'rest', 'primary', 'not_found', 0, viaRecorder);
      request('a', '1', 'rest', 'primary', 'overloaded', 0, viaRecorder);
      for (const s of latencies) request('a', '1', 'rest', 'primary', 'success', s, viaRecorder);
      for (const s of latencies.slice(5)) request('a', '1', 'grpc', 'canary', 'success', s, viaRecorder);
      request('a', '1', 'grpc', 'shadow', 'internal', 0, viaRecorder);
      request('b', '2', 'grpc', 'shadow', 'success', 0.002, viaRecorder);
      batch('a', '1', 3, 0.0005, [0.0001, 0.2, 0.00075], viaRecorder);
      batch('a', '1', 64, 0.01, [], viaRecorder);
      batch('b', '2', 2048, 11, [20], viaRecorder);
      batch('c', '1', 1, 0.0001, [0], viaRecorder);
      request('', '', 'grpc', 'primary', 'invalid_argument', 0, viaRecorder);
    }
    for (const name of FAMILIES) {
      const ours = await metrics.registry.getSingleMetricAsString(name);
      expect(ours, name).toBe(await reference.registry.getSingleMetricAsString(name));
    }
    const json = async (registry: Registry) => (await registry.getMetricsAsJSON()).filter((m) => FAMILIES.includes(m.name));
    expect(await json(metrics.registry)).toStrictEqual(await json(reference.registry));
    const text = (await metrics.render()).body;
    expect(text).toContain('brisk_requests_total{model="",version="",protocol="rest",role="primary",outcome="not_found"} 2');
    expect(text).toContain(`brisk_requests_total{model="a",version="1",protocol="rest",role="primary",outcome="success"} ${2 * latencies.length}`);
    expect(text).toContain('brisk_inferences_total{model="a",version="1"} 134');
    // Refusals make no latency series: model "" never served.
    expect(text).not.toMatch(/brisk_request_duration_seconds_count\{model=""/);
  });

  it.skipIf(!promtool.available)(`render what promtool check metrics accepts${promtool.skipNote}`, async () => {
    const metrics = new ServerMetrics(noSources);
    const recorder = metrics.recorder('a', '1');
    for (const s of [0, 1e-9, ...LATENCY_BUCKETS, 100]) recorder.requestDone('grpc', 'canary', 'success', s);
    metrics.recorder('', '').requestDone('rest', 'primary', 'not_found', 0);
    recorder.batchDone(2048, 11);
    recorder.queueWait(0.0001);
    const text = (await metrics.render()).body;
    expect(text).toContain('brisk_request_duration_seconds_bucket{le="0.0001",model="a",version="1",protocol="grpc",role="canary"} 3');
    // promtool exits non-zero and names the problem on any format or naming error.
    execFileSync('promtool', ['check', 'metrics'], { input: text });
  });

  it('is the same recorder every time for a model version, and a different one for another', () => {
    const metrics = new ServerMetrics(noSources);
    const recorder = metrics.recorder('a', '1');
    expect(metrics.recorder('a', '1')).toBe(recorder);
    expect(metrics.recorder('a', '2')).not.toBe(recorder);
    expect(metrics.recorder('b', '1')).not.toBe(recorder);
  });

  it('feeds the recent percentiles by role, and the served ones from primary and canary only', () => {
    const metrics = new ServerMetrics(noSources);
    const recorder = metrics.recorder('a', '1');
    for (let i = 0; i < 10; i++) recorder.requestDone('rest', 'primary', 'success', 0.001);
    for (let i = 0; i < 5; i++) recorder.requestDone('grpc', 'canary', 'success', 0.001);
    for (let i = 0; i < 3; i++) recorder.requestDone('rest', 'shadow', 'success', 1);
    recorder.requestDone('rest', 'primary', 'internal', 5);
    expect(metrics.recent('a', '1', 'primary').count).toBe(10);
    expect(metrics.recent('a', '1', 'canary').count).toBe(5);
    expect(metrics.recent('a', '1', 'shadow')).toMatchObject({ count: 3 });
    expect(metrics.recent('a', '1', 'shadow').p50).toBeCloseTo(1, 1);
    const served = metrics.recent('a', '1');
    expect(served.count).toBe(15);
    // The shadow copies' 1 s never reaches what clients saw.
    expect(served.p99).toBeLessThan(0.0011);
    expect(metrics.recent('a', '2')).toEqual({ count: 0, p50: 0, p95: 0, p99: 0 });
    expect(metrics.recent('nobody', '1', 'primary')).toEqual({ count: 0, p50: 0, p95: 0, p99: 0 });
  });

  it('goes on counting in the same series when a version is asked for again (a reload)', async () => {
    const metrics = new ServerMetrics(noSources);
    metrics.recorder('a', '1').batchDone(4, 0.001);
    metrics.batchDone('a', '1', 2, 0.001, [0.0001, 0.0001]);
    metrics.recorder('a', '1').batchDone(1, 0.001);
    const text = (await metrics.render()).body;
    expect(text).toContain('brisk_executions_total{model="a",version="1"} 3');
    expect(text).toContain('brisk_inferences_total{model="a",version="1"} 7');
    expect(text).toContain('brisk_queue_duration_seconds_count{model="a",version="1"} 2');
    expect(text.match(/^brisk_batch_size_count/gm)).toHaveLength(1);
  });
});
