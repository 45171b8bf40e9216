/**
 * The drift alert and dashboard against the drift gauges as registered (issue 15 review): a
 * class_scores output and its argmax class share a tensor name and differ only by `kind`, so
 * an aggregation that keeps `tensor` must keep `kind` too, or it merges the two.
 */
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerDriftMetrics } from '../../src/observability/drift-metrics.js';
import { projectFile } from '../../src/project-files.js';

/** Label names of each drift gauge, from the registry the server fills. */
function driftLabels(): Map<string, string[]> {
  const registry = new Registry();
  registerDriftMetrics(registry, () => []);
  return new Map(
    registry.getMetricsAsArray().map((m) => [m.name, (m as unknown as { labelNames: string[] }).labelNames]),
  );
}

describe('drift alert and dashboard queries', () => {
  it('group by kind wherever they group a drift gauge by tensor', () => {
    const labels = driftLabels();
    expect(labels.get('brisk_drift_max_psi')).toEqual(expect.arrayContaining(['tensor', 'kind']));
    const dashboard = JSON.parse(readFileSync(projectFile('ops', 'grafana', 'brisk-dashboard.json'), 'utf8')) as {
      panels: { targets?: { expr: string; legendFormat?: string }[] }[];
    };
    const exprs = [
      ...readFileSync(projectFile('ops', 'prometheus', 'alerts.yml'), 'utf8').split(/^\s*- alert: /m),
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ];
    const groupings = exprs.flatMap((e) =>
      [...e.matchAll(/\b(?:by|on)\s*\(([^)]*)\)\s*\(?\s*(brisk_drift_[a-z_]+)?/g)].map((m) => ({ names: m[1]!.split(',').map((n) => n.trim()), expr: e })),
    );
    const drift = groupings.filter((g) => g.expr.includes('brisk_drift_') && g.names.includes('tensor'));
    expect(drift.length).toBeGreaterThanOrEqual(3);
    for (const g of drift) expect(g.names, g.expr).toContain('kind');
    // A panel that draws a series per tensor names its kind in the legend.
    for (const t of dashboard.panels.flatMap((p) => p.targets ?? [])) {
      if (t.legendFormat?.includes('{{tensor}}')) expect(t.legendFormat).toContain('{{kind}}');
    }
  });
});

describe('the BriskInputDrift runbook', () => {
  it('recaptures with brisk drift recapture: brisk drift capture only saves the reference it already has', () => {
    const runbooks = readFileSync(projectFile('ops', 'runbooks.md'), 'utf8');
    const section = runbooks.split(/^## /m).find((s) => s.startsWith('BriskInputDrift'))!;
    const recapture = section.slice(section.indexOf('recapture'));
    expect(recapture).toMatch(/`brisk drift recapture\s+<model> <version>`/);
    expect(recapture).toMatch(/POST \/admin\/models\/<model>\/versions\/<version>\/drift\/recapture/);
    expect(recapture.search(/brisk drift recapture/)).toBeLessThan(recapture.indexOf('brisk drift capture'));
    // The old way round, an unload and load or a restart, is no longer what it says.
    expect(section).not.toMatch(/unload and load it/);
  });
});
