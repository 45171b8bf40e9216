/**
 * npm run build && node dist/bench/drift-binning-bench.js [--timings 7]
 *
 * countBatch (drift/binning.ts) against the scan it replaced (bench/lib/binning-scan.ts), in
 * this process: heavy_mlp-shaped batches (512 input and 1,000 output columns) and
 * tiny_classifier-shaped ones (64 and 10, and the argmax), 128 rows, sample_ratio 1.0 and
 * 0.1. The two take turns, warmed first, `timings` times each; figures are medians of the
 * timings' CPU time, and the ratio is the median of each turn's new/old.
 */
import { parseArgs } from 'node:util';
import { countBatch } from '../src/drift/binning.js';
import { fmt } from '../src/loadtool/format.js';
import { batchesPerTiming, binningCase, HEAVY, median, TINY, timeBatches, type CountBatch } from './lib/binning-micro.js';
import { countBatchScan } from './lib/binning-scan.js';

const { values: args } = parseArgs({ options: { timings: { type: 'string', default: '7' } } });
const timings = Number(args.timings);

const lines = ['| model | sample_ratio | scan µs per counted row | slots µs per counted row | slots / scan |', '| --- | ---: | ---: | ---: | ---: |'];
for (const shape of [HEAVY, TINY]) {
  for (const ratio of [1, 0.1]) {
    const c = await binningCase(shape, ratio);
    // Same bins, or the timing means nothing.
    const a = countBatchScan({ ...c.plan, sampleRatio: 1 }, c.rows, c.find)!;
    const b = countBatch({ ...c.plan, sampleRatio: 1 }, c.rows, c.find)!;
    if (a.some((n, i) => n !== b[i])) throw new Error(`${shape.model}: the two count differently`);
    const batches = batchesPerTiming(c);
    const ways: Record<'scan' | 'slots', CountBatch> = { scan: countBatchScan, slots: countBatch };
    for (const count of Object.values(ways)) timeBatches(count, c, Math.ceil(batches / 4));
    const us: Record<'scan' | 'slots', number[]> = { scan: [], slots: [] };
    for (let t = 0; t < timings; t++) {
      const order = t % 2 === 0 ? (['scan', 'slots'] as const) : (['slots', 'scan'] as const);
      for (const way of order) us[way].push(timeBatches(ways[way], c, batches).usPerCountedRow);
    }
    const ratioOfTurns = median(us.slots.map((s, i) => s / us.scan[i]!));
    const line = `| ${shape.model} | ${ratio} | ${fmt(median(us.scan), 2)} | ${fmt(median(us.slots), 2)} | ${fmt(ratioOfTurns, 2)} |`;
    process.stderr.write(`${line}  (scan ${us.scan.map((u) => fmt(u, 1)).join(' ')}; slots ${us.slots.map((u) => fmt(u, 1)).join(' ')})\n`);
    lines.push(line);
  }
}
console.log(lines.join('\n'));
