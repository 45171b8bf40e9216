/** A small SVG line chart (browsers and GitHub render it): series of (x, y) points on linear axes. */
export interface Series {
  name: string;
  points: readonly [number, number][];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / power) * power;
}

export function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[]): string {
  const width = 640;
  const height = 360;
  const left = 70;
  const right = 150;
  const top = 40;
  const bottom = 50;
  const all = series.flatMap((s) => s.points);
  const xMax = niceMax(Math.max(...all.map((p) => p[0])));
  const yMax = niceMax(Math.max(...all.map((p) => p[1])));
  const x = (v: number) => left + (v / xMax) * (width - left - right);
  const y = (v: number) => height - bottom - (v / yMax) * (height - top - bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escape(title)}</text>`,
    ...ticks.map((t) => `<line x1="${left}" x2="${width - right}" y1="${y(t * yMax)}" y2="${y(t * yMax)}" stroke="#ddd"/><text x="${left - 6}" y="${y(t * yMax) + 4}" text-anchor="end">${+(t * yMax).toPrecision(3)}</text>`),
    ...ticks.map((t) => `<text x="${x(t * xMax)}" y="${height - bottom + 16}" text-anchor="middle">${+(t * xMax).toPrecision(3)}</text>`),
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}" stroke="#333"/><line x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}" stroke="#333"/>`,
    `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">${escape(xLabel)}</text>`,
    `<text transform="translate(16 ${(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`,
    ...series.map((s, i) => {
      const color = COLORS[i % COLORS.length]!;
      const path = s.points.map((p, k) => `${k ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
      const dots = s.points.map((p) => `<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3" fill="${color}"/>`).join('');
      return `<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>${dots}<rect x="${width - right + 12}" y="${top + i * 20}" width="12" height="12" fill="${color}"/><text x="${width - right + 30}" y="${top + i * 20 + 11}">${escape(s.name)}</text>`;
    }),
    '</svg>',
  ];
  return parts.join('\n');
}
