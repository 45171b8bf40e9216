/**
 * node dist/bench/json-decode-bench.js [--rounds 9] [--ms 150] [--out FILE]
 *
 * Nanoseconds per REST request decode, in this process and without I/O: the
 * general decoder (JSON.parse, then copies into typed arrays) against
 * decodeInferRequest as the server calls it (the fast path for the common JSON
 * request, fast-infer-json.ts). Bodies are what clients send for the bundled
 * models: tiny_classifier (64 FP32, flat and nested as [1,64]), a heavy_mlp row
 * (512 FP32) and a batch of 8 tiny rows. Each is written twice: with short
 * literals (at most 15 significant digits, `0.4207`), and as float32 values
 * printed as doubles, which is what a client converting float32 arrays sends
 * (`0.42073549330234528`, 17 digits) and what bench/scenarios.ts sends. The
 * same 512 values as FP64 show the cost of literals that need Number().
 *
 * The two decoders alternate round by round, so a noisy neighbour slows both;
 * each figure is the median of the rounds, with the spread (min-max) beside it.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decodeCommonJsonRequest } from '../src/http/fast-infer-json.js';
import { decodeGeneralInferRequest, decodeInferRequest } from '../src/http/infer-request.js';
import { machineInfo, reportHeading } from '../src/loadtool/machine.js';
import type { InferRequest } from '../src/types.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '9' },
    ms: { type: 'string', default: '150' },
    out: { type: 'string' },
    /** Only the bodies whose name contains this. */
    filter: { type: 'string', default: '' },
  },
});
const rounds = Number(args.rounds);
const roundMs = Number(args.ms);

type Literals = 'short' | 'float32';

interface Case {
  name: string;
  body: Buffer;
}

function values(count: number, literals: Literals): number[] {
  const rows = Float32Array.from({ length: count }, (_, i) => Math.sin(i) * 0.5);
  return Array.from(rows, (v) => (literals === 'short' ? Number(v.toFixed(4)) : v));
}

function body(rows: number, columns: number, nested: boolean, literals: Literals, datatype = 'FP32'): Buffer {
  const flat = values(rows * columns, literals);
  const data = nested ? Array.from({ length: rows }, (_, r) => flat.slice(r * columns, (r + 1) * columns)) : flat;
  return Buffer.from(JSON.stringify({ inputs: [{ name: 'input', datatype, shape: [rows, columns], data }] }));
}

const cases: Case[] = (['short', 'float32'] as const).flatMap((literals) => [
  { name: `tiny, 64 flat, ${literals}`, body: body(1, 64, false, literals) },
  { name: `tiny, [1,64] nested, ${literals}`, body: body(1, 64, true, literals) },
  { name: `heavy_mlp row, 512 flat, ${literals}`, body: body(1, 512, false, literals) },
  { name: `batch of 8 tiny rows, [8,64] nested, ${literals}`, body: body(8, 64, true, literals) },
  // Doubles need the exact double: long literals take Number(), as JSON.parse's conversion does.
  { name: `512 flat as FP64, ${literals}`, body: body(1, 512, false, literals, 'FP64') },
]);

const target = { modelName: 'tiny_classifier', headerLength: '' };
type Decode = (body: Buffer, target: { modelName: string; headerLength: string }) => InferRequest;

/** Keeps results alive so the decode cannot be optimised away. */
let sink = 0;

/**
 * CPU ns per decode over one round of about `roundMs`: the process's CPU time, not
 * the wall clock, so time the machine gives to others is not counted.
 */
function round(decode: Decode, body: Buffer, iterations: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) sink += decode(body, target).inputs.length;
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / iterations;
}

function iterationsFor(decode: Decode, body: Buffer): number {
  let n = 64;
  for (;;) {
    const ns = round(decode, body, n);
    if (ns * n > roundMs * 1e6 * 0.25) return Math.max(1, Math.round((roundMs * 1e6) / ns));
    n *= 4;
  }
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

const lines: string[] = [];
const machine = machineInfo();
lines.push(
  ...reportHeading('REST JSON request decoding: general decoder vs fast path', `node dist/bench/json-decode-bench.js --rounds ${rounds} --ms ${roundMs}`, machine),
  '',
  `Median CPU ns per decode over ${rounds} alternating rounds of ~${roundMs} ms each (spread min-max in brackets).`,
  '',
  '| body | bytes | general decoder (JSON.parse), ns | decodeInferRequest (fast path), ns | speed-up |',
  '| --- | ---: | ---: | ---: | ---: |',
);
const selected = cases.filter((c) => c.name.includes(args.filter));
// Every body through both decoders first, so that compiling (on other threads, but counted in the
// process's CPU time) and the type feedback of later bodies do not land in the first body's rounds.
for (const c of selected) {
  if (!decodeCommonJsonRequest(c.body, target)) throw new Error(`the fast path declined ${c.name}`);
  for (let i = 0; i < 2000; i++) {
    sink += decodeGeneralInferRequest(c.body, target).inputs.length + decodeInferRequest(c.body, target).inputs.length;
  }
}
for (const c of selected) {
  const general: number[] = [];
  const fast: number[] = [];
  const nGeneral = iterationsFor(decodeGeneralInferRequest, c.body);
  const nFast = iterationsFor(decodeInferRequest, c.body);
  for (let r = 0; r < rounds; r++) {
    general.push(round(decodeGeneralInferRequest, c.body, nGeneral));
    fast.push(round(decodeInferRequest, c.body, nFast));
  }
  const g = median(general);
  const f = median(fast);
  const spread = (xs: number[]): string => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
  const line = `| ${c.name} | ${c.body.length} | ${Math.round(g)} (${spread(general)}) | ${Math.round(f)} (${spread(fast)}) | ${(g / f).toFixed(2)}× |`;
  lines.push(line);
  console.log(line);
}
if (sink < 0) console.log(sink);
const report = lines.join('\n') + '\n';
if (args.out) writeFileSync(args.out, report);
else console.log('\n' + report);
