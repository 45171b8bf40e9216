/**
 * The arithmetic and the table of `npm run bench:cpu`: a figure over rounds is the
 * median with its min–max; a comparison is made round by round (each round pairs
 * figures measured seconds apart, so drift on a shared machine cancels) and its
 * median is what the goal is judged on. With a baseline build measured in the same
 * rounds, each row also carries its "before" figure and the after/before ratio.
 */
import { fmt } from '../../src/loadtool/format.js';

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Rounds that gave a figure (a round without a 2xx answer gives none). */
  rounds: number;
}

/** Median (mean of the middle two for an even count) and range; NaN figures are left out. */
export function spread(values: readonly number[]): Spread {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, rounds: 0 };
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { median, min: sorted[0]!, max: sorted[n - 1]!, rounds: n };
}

export type Comparison = 'ratio' | 'difference';

/**
 * Round by round: a/b for a ratio, a−b for a difference. A ratio over 0 is NaN, no
 * figure (an idle thread's CPU can read 0 ticks), so spread() leaves that round out.
 */
export function paired(kind: Comparison, a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`cannot pair ${a.length} figures with ${b.length}`);
  return a.map((x, i) => (kind === 'ratio' ? (b[i] === 0 ? Number.NaN : x / b[i]!) : x - b[i]!));
}

export interface Goal {
  /** The comparison's median must be at most this. */
  atMost: number;
}

export interface CaseRow {
  case: string;
  unit: string;
  brisk: Spread;
  /** What brisk is held against; absent for a figure shown for information. */
  floor?: { label: string; figure: Spread };
  comparison?: { kind: Comparison; figure: Spread; goal?: Goal };
  averageBatch?: Spread;
  /** The same figure from the baseline build ("before"; brisk is "after"), when the run had one. */
  baseline?: BaselineFigures;
}

export interface BaselineFigures {
  figure: Spread;
  /** after/before, round by round. */
  change: Spread;
  /** The baseline against the same floor, round by round (no goal: the goal is brisk's). */
  comparison?: { kind: Comparison; figure: Spread };
  averageBatch?: Spread;
}

/** One row's values, one per round. */
export interface CaseRowOptions {
  case: string;
  unit: string;
  brisk: readonly number[];
  floor?: { label: string; values: readonly number[] };
  comparison?: Comparison;
  goal?: Goal;
  averageBatch?: readonly number[];
  /** The baseline build's figures in the same rounds. */
  baseline?: { values: readonly number[]; averageBatch?: readonly number[] };
}

/** One row's figures from per-round values. */
export function caseRow(options: CaseRowOptions): CaseRow {
  const row: CaseRow = { case: options.case, unit: options.unit, brisk: spread(options.brisk) };
  if (options.floor) {
    row.floor = { label: options.floor.label, figure: spread(options.floor.values) };
    if (options.comparison) {
      row.comparison = { kind: options.comparison, figure: spread(paired(options.comparison, options.brisk, options.floor.values)) };
      if (options.goal) row.comparison.goal = options.goal;
    }
  }
  if (options.averageBatch) row.averageBatch = spread(options.averageBatch);
  if (options.baseline) row.baseline = baselineFigures(options, options.baseline);
  return row;
}

function baselineFigures(options: CaseRowOptions, baseline: NonNullable<CaseRowOptions['baseline']>): BaselineFigures {
  const figures: BaselineFigures = { figure: spread(baseline.values), change: spread(paired('ratio', options.brisk, baseline.values)) };
  if (options.floor && options.comparison) {
    figures.comparison = { kind: options.comparison, figure: spread(paired(options.comparison, baseline.values, options.floor.values)) };
  }
  if (baseline.averageBatch) figures.averageBatch = spread(baseline.averageBatch);
  return figures;
}

/** PASS, FAIL, or undefined where there is no goal or no figure to judge. */
export function verdict(row: CaseRow): 'PASS' | 'FAIL' | undefined {
  const c = row.comparison;
  if (!c?.goal || Number.isNaN(c.figure.median)) return undefined;
  return c.figure.median <= c.goal.atMost ? 'PASS' : 'FAIL';
}

const number = (n: number, digits: number): string => (Number.isNaN(n) ? '—' : fmt(n, digits));

/** "29.3 (28.1–30.0)": the median, then the range over rounds. */
export function formatSpread(s: Spread, digits = 1, prefix = '', suffix = ''): string {
  if (s.rounds === 0) return '—';
  const median = `${prefix}${number(s.median, digits)}${suffix}`;
  return s.rounds === 1 ? median : `${median} (${number(s.min, digits)}–${number(s.max, digits)})`;
}

const sign = (n: number): string => (n >= 0 ? '+' : '−');
const signed = (n: number, digits: number): string => `${sign(n)}${number(Math.abs(n), digits)}`;

function formatComparison(c: NonNullable<CaseRow['comparison']>, unit: string): { figure: string; goal: string } {
  if (c.kind === 'ratio') {
    return {
      figure: formatSpread(c.figure, 2, '', '×'),
      goal: c.goal ? `≤ ${fmt(c.goal.atMost, 1)}×` : '',
    };
  }
  // Signed, and the range written out: a difference may be negative in some rounds.
  const s = c.figure;
  const figure = s.rounds === 0 ? '—' : `${signed(s.median, 0)} ${unit}` + (s.rounds > 1 ? ` (${signed(s.min, 0)} to ${signed(s.max, 0)})` : '');
  return { figure, goal: c.goal ? `≤ ${signed(c.goal.atMost, 0)} ${unit}` : '' };
}

/** The table; with a baseline in the rows, its before and after columns. */
export function caseTable(rows: readonly CaseRow[]): string {
  if (rows.some((row) => row.baseline)) return beforeAfterTable(rows);
  const lines = [
    '| case | brisk | floor | ratio / difference | goal | pass/fail | avg batch |',
    '| --- | ---: | ---: | ---: | ---: | :---: | ---: |',
  ];
  for (const row of rows) {
    const digits = row.unit === 'µs' && row.brisk.median >= 100 ? 0 : 1;
    const brisk = formatSpread(row.brisk, digits, '', ` ${row.unit}`);
    const floor = row.floor ? `${formatSpread(row.floor.figure, digits, '', ` ${row.unit}`)} ${row.floor.label}` : '';
    const comparison = row.comparison ? formatComparison(row.comparison, row.unit) : { figure: '', goal: '' };
    const batch = row.averageBatch ? formatSpread(row.averageBatch, 1) : '';
    lines.push(`| ${row.case} | ${brisk} | ${floor} | ${comparison.figure} | ${comparison.goal} | ${verdict(row) ?? ''} | ${batch} |`);
  }
  return lines.join('\n');
}

/** "2.00× (1.50–3.00)": after/before, round by round. */
export const formatChange = (s: Spread): string => formatSpread(s, 2, '', '×');

function beforeAfterTable(rows: readonly CaseRow[]): string {
  const lines = [
    '| case | before | after | after/before | floor | before vs floor | after vs floor | goal | pass/fail | avg batch before | avg batch after |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const digits = row.unit === 'µs' && Math.max(row.brisk.median, row.baseline?.figure.median ?? 0) >= 100 ? 0 : 1;
    const figure = (s: Spread | undefined) => (s ? formatSpread(s, digits, '', ` ${row.unit}`) : '');
    const floor = row.floor ? `${figure(row.floor.figure)} ${row.floor.label}` : '';
    const after = row.comparison ? formatComparison(row.comparison, row.unit) : { figure: '', goal: '' };
    const before = row.baseline?.comparison ? formatComparison(row.baseline.comparison, row.unit).figure : '';
    const change = row.baseline ? formatChange(row.baseline.change) : '';
    const batch = (s: Spread | undefined) => (s ? formatSpread(s, 1) : '');
    lines.push(
      `| ${row.case} | ${figure(row.baseline?.figure)} | ${figure(row.brisk)} | ${change} | ${floor} | ${before} | ${after.figure} | ${after.goal} | ${verdict(row) ?? ''} | ${batch(row.baseline?.averageBatch)} | ${batch(row.averageBatch)} |`,
    );
  }
  return lines.join('\n');
}
