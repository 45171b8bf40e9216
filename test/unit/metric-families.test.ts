/**
 * The families render through prom-client's Registry but hold their own numbers: each
 * is checked here against prom-client's own Histogram or Counter given the same
 * observations, line by line and value by value, so the two formats cannot drift apart.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterFamily } from '../../src/observability/counter-family.js';
import { HistogramFamily } from '../../src/observability/histogram-family.js';
import { BATCH_SIZE_BUCKETS, LATENCY_BUCKETS } from '../../src/observability/metrics.js';

const LABELS = ['model', 'version'] as const;
const SERIES = [
  ['a', '1'],
  ['b', '2'],
  ['', ''],
] as const;

/** Below the first bound, on every bound, between bounds, above the last: each bucket edge both ways. */
function observationsFor(buckets: readonly number[]): number[] {
  return [0, buckets[0]! / 2, ...buckets, ...buckets.map((b) => b * 1.0000001), buckets.at(-1)! * 3, 1e-9];
}

/** The same observations into prom-client's Histogram and into a family; both registries. */
function bothHistograms(buckets: readonly number[], observe: (record: (series: number, value: number) => void) => void) {
  const config = { name: 'test_duration_seconds', help: 'A test histogram.', labelNames: LABELS, buckets };
  const reference = new Registry();
  const theirs = new Histogram({ ...config, labelNames: [...LABELS], buckets: [...buckets], registers: [reference] });
  const ours = new Registry();
  const family = new HistogramFamily(ours, config);
  const series = SERIES.map(() => undefined as ReturnType<HistogramFamily['newSeries']> | undefined);
  observe((i, value) => {
    const [model, version] = SERIES[i]!;
    theirs.labels({ model, version }).observe(value);
    // Made at first use, as the recorders do.
    (series[i] ??= family.newSeries([model, version])).observe(value);
  });
  return { reference, ours };
}

describe('HistogramFamily renders what prom-client’s Histogram renders', () => {
  for (const [what, buckets] of [
    ['latency buckets', LATENCY_BUCKETS],
    ['batch-size buckets', BATCH_SIZE_BUCKETS],
  ] as const) {
    it(`bucket by bucket, values on a bound included (${what})`, async () => {
      const values = observationsFor(buckets);
      const { reference, ours } = bothHistograms(buckets, (record) => {
        // Series b first: a series is listed from its first observation, so the order must follow.
        values.forEach((v, i) => record(1, v * (i % 3)));
        for (const v of values) record(0, v);
        record(2, buckets[0]!);
      });
      const text = await ours.metrics();
      expect(text).toBe(await reference.metrics());
      expect(await ours.getMetricsAsJSON()).toStrictEqual(await reference.getMetricsAsJSON());
      // And the figures themselves: a value on a bound counts in that bound's bucket (le).
      const line = (le: string, labels: string) => text.split('\n').find((l) => l.startsWith(`test_duration_seconds_bucket{le="${le}",${labels}} `));
      expect(line(String(buckets[0]), 'model="",version=""')).toMatch(/ 1$/);
      // Series a: 0, half the first bound and the first bound are ≤ it; 1e-9 too.
      expect(line(String(buckets[0]), 'model="a",version="1"')).toMatch(/ 4$/);
      expect(line('+Inf', 'model="a",version="1"')).toMatch(new RegExp(` ${values.length}$`));
    });
  }

  it('lists no series before its first observation, and the family itself always', async () => {
    const { reference, ours } = bothHistograms(LATENCY_BUCKETS, () => {});
    expect(await ours.metrics()).toBe(await reference.metrics());
    expect(await ours.getMetricsAsJSON()).toStrictEqual(await reference.getMetricsAsJSON());
    expect((await ours.getMetricsAsJSON()).map((m) => m.name)).toEqual(['test_duration_seconds']);
  });

  it('refuses bounds out of order and the le label', () => {
    const registry = new Registry();
    expect(() => new HistogramFamily(registry, { name: 'x_seconds', help: 'x', labelNames: [], buckets: [1, 0.5] })).toThrow(/ascending/);
    expect(() => new HistogramFamily(registry, { name: 'y_seconds', help: 'y', labelNames: ['le'], buckets: [1] })).toThrow(/le is the bucket label/);
    expect(() => new HistogramFamily(registry, { name: 'z seconds', help: 'z', labelNames: [], buckets: [1] })).toThrow(/invalid metric or label name/);
  });

  it('refuses a series with the wrong number of label values', () => {
    const family = new HistogramFamily(new Registry(), { name: 'x_seconds', help: 'x', labelNames: LABELS, buckets: [1] });
    expect(() => family.newSeries(['a'])).toThrow('1 label values for the 2 labels model, version');
  });
});

describe('CounterFamily renders what prom-client’s Counter renders', () => {
  it('series by series, in the order of their first increment', async () => {
    const config = { name: 'test_requests_total', help: 'A test counter.', labelNames: [...LABELS, 'outcome'] };
    const reference = new Registry();
    const theirs = new Counter({ ...config, registers: [reference] });
    const ours = new Registry();
    const family = new CounterFamily(ours, config);
    const cells = new Map<string, ReturnType<CounterFamily['newCell']>>();
    const count = (model: string, version: string, outcome: string, by = 1) => {
      theirs.labels({ model, version, outcome }).inc(by);
      const key = `${model}/${version}/${outcome}`;
      if (!cells.has(key)) cells.set(key, family.newCell([model, version, outcome]));
      cells.get(key)!.value += by;
    };
    expect(await ours.metrics()).toBe(await reference.metrics());
    count('', '', 'not_found');
    count('a', '1', 'overloaded');
    for (let i = 0; i < 5; i++) count('a', '1', 'success');
    count('a', '1', 'success', 64);
    count('', '', 'not_found');
    const text = await ours.metrics();
    expect(text).toBe(await reference.metrics());
    expect(await ours.getMetricsAsJSON()).toStrictEqual(await reference.getMetricsAsJSON());
    expect(text).toContain('test_requests_total{model="a",version="1",outcome="success"} 69');
    expect(text).toContain('test_requests_total{model="",version="",outcome="not_found"} 2');
    // A second scrape renders the same (collect() starts from the cells again, it does not add to the last scrape).
    expect(await ours.metrics()).toBe(text);
  });
});
