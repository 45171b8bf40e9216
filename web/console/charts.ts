/**
 * Small time-series charts per version, drawn by uPlot (loaded by the page as a
 * global). A chart is made once and fed new data on every poll, not rebuilt.
 */
import { h } from './dom.js';

interface ChartSpec {
  title: string;
  /** Columns of the server's series (series_columns) drawn on this chart. */
  columns: string[];
  labels: string[];
}

export const CHARTS: ChartSpec[] = [
  { title: 'requests/s', columns: ['rps'], labels: ['req/s'] },
  { title: 'latency ms (last 60 s)', columns: ['p50_ms', 'p95_ms', 'p99_ms'], labels: ['p50', 'p95', 'p99'] },
  { title: 'error rate', columns: ['error_rate'], labels: ['errors'] },
  { title: 'batch size / queue', columns: ['avg_batch', 'queue'], labels: ['avg batch', 'queue'] },
];

const COLORS = ['#2563eb', '#d97706', '#dc2626', '#059669'];
const charts = new Map<string, uPlot>();

/** A chart element, kept across polls under `key`. */
export function chart(key: string, spec: ChartSpec, columns: string[], series: (number | null)[][] | null): HTMLElement {
  const t = (series?.[columns.indexOf('t')] ?? []).map((ms) => (ms ?? 0) / 1000);
  const data = [t, ...spec.columns.map((c) => series?.[columns.indexOf(c)] ?? [])] as uPlot.AlignedData;
  let plot = charts.get(key);
  if (!plot) {
    const target = h('div', { class: 'chart' });
    plot = new uPlot(
      {
        title: spec.title,
        width: 280,
        height: 140,
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: { y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(max ?? 1, spec.columns[0] === 'error_rate' ? 0.01 : 1)] } },
        axes: [{ space: 60 }, { size: 42 }],
        series: [{ label: 'time' }, ...spec.labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length]!, width: 1.5, spanGaps: false }))],
      },
      data,
      target,
    );
    charts.set(key, plot);
  } else {
    plot.setData(data);
  }
  return plot.root.parentElement!;
}

/** Charts of versions no longer shown are destroyed. */
export function keepCharts(keys: Set<string>): void {
  for (const [key, plot] of charts) {
    if (!keys.has(key)) {
      plot.destroy();
      charts.delete(key);
    }
  }
}
