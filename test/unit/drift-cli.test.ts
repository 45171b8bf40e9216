/** The `brisk drift show` table, from a fixed answer of the drift endpoint. */
import { describe, expect, it } from 'vitest';
import { formatDrift, type DriftJson } from '../../src/admin/drift-cli.js';

/** 24 input features with PSI 0.01…0.24 in a shuffled order, two drifted ones, and an output too new to judge. */
const answer: DriftJson = {
  model: 'tiny_classifier',
  version: '2',
  reference_rows: 2000,
  window_rows: 1800,
  tensors: [
    {
      name: 'input',
      kind: 'input',
      max_psi: 0.71,
      features: [
        ...Array.from({ length: 24 }, (_, i) => {
          const hundredths = ((i * 7) % 24) + 1;
          return { index: i, psi: hundredths / 100, js: hundredths / 300, verdict: hundredths >= 10 ? ('warn' as const) : ('ok' as const) };
        }),
        { index: 24, psi: 0.71, js: 0.32, verdict: 'drift' },
        { index: 25, psi: 1.5, js: 0.5, verdict: 'drift' },
      ],
    },
    {
      name: 'class_scores',
      kind: 'output_class',
      max_psi: null,
      features: [{ index: 0, psi: null, js: null, verdict: 'insufficient_data' }],
    },
  ],
};

const tableRows = (text: string): string[][] => text.split('\n').slice(2).filter((l) => !l.startsWith('…')).map((l) => l.trim().split(/\s+/));

describe('formatDrift', () => {
  it('starts with the model, version, row counts and features per verdict', () => {
    expect(formatDrift(answer).split('\n')[0]).toBe('tiny_classifier 2  reference 2000 rows  window 1800 rows  (2 drift, 15 warn, 9 ok, 1 insufficient_data)');
    expect(formatDrift(answer).split('\n')[1]).toMatch(/^tensor\s+kind\s+index\s+psi\s+js\s+verdict$/);
  });

  it('lists the features by PSI, highest first, with the tensor, kind, JS and verdict of each', () => {
    const rows = tableRows(formatDrift(answer, Infinity));
    expect(rows).toHaveLength(27);
    expect(rows[0]).toEqual(['input', 'input', '25', '1.500', '0.500', 'drift']);
    expect(rows[1]).toEqual(['input', 'input', '24', '0.710', '0.320', 'drift']);
    const psis = rows.slice(0, 26).map((r) => Number(r[3]));
    expect(psis).toEqual([...psis].sort((a, b) => b - a));
    expect(psis.at(-1)).toBe(0.01);
  });

  it('puts a feature without a PSI (insufficient_data) last, with dashes for its figures', () => {
    const rows = tableRows(formatDrift(answer, Infinity));
    expect(rows.at(-1)).toEqual(['class_scores', 'output_class', '0', '-', '-', 'insufficient_data']);
  });

  it('shows the top N and says how many more there are', () => {
    const lines = formatDrift(answer, 5).split('\n');
    expect(tableRows(lines.join('\n')).map((r) => r[3])).toEqual(['1.500', '0.710', '0.240', '0.230', '0.220']);
    expect(lines.at(-1)).toBe('… 22 more features (--top to see more)');
    // The default is 20.
    expect(formatDrift(answer).split('\n').at(-1)).toBe('… 7 more features (--top to see more)');
    expect(formatDrift(answer, 27)).not.toContain('more feature');
    expect(formatDrift(answer, 26).split('\n').at(-1)).toBe('… 1 more feature (--top to see more)');
  });

  it('keeps the server order for equal PSIs and lines the numbers up', () => {
    const tied: DriftJson = {
      ...answer,
      tensors: [{ name: 'x', kind: 'input', max_psi: 0.3, features: [3, 1, 2].map((index) => ({ index, psi: 0.3, js: 0.1, verdict: 'drift' as const })) }],
    };
    expect(formatDrift(tied).split('\n').slice(1)).toEqual([
      'tensor  kind   index    psi     js  verdict',
      'x       input      3  0.300  0.100  drift',
      'x       input      1  0.300  0.100  drift',
      'x       input      2  0.300  0.100  drift',
    ]);
  });

  it('says so when the version has no features to judge', () => {
    expect(formatDrift({ ...answer, window_rows: 0, tensors: [] })).toBe('tiny_classifier 2  reference 2000 rows  window 0 rows\nno features');
  });
});
