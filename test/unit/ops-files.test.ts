import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ServerMetrics } from '../../src/observability/metrics.js';
import { projectFile } from '../../src/project-files.js';
import { externalTool } from '../helpers/external-tools.js';

const promtool = externalTool('promtool');

/** Every metric name the server can export. */
async function exportedNames(): Promise<Set<string>> {
  const version = { model: 'm', version: '1', queued: 0, queueCapacity: 1, busySeconds: 0, busyCoreSeconds: 0, inferences: 0, instances: 1, workerExits: 0 };
  const metrics = new ServerMetrics(
    {
      inFlight: () => 0,
      heldBytes: () => 0,
      versions: () => [version],
      shadows: () => [{ route: 'r', shadow: 'm/2', compared: 0, errors: 0, dropped: 0, maxAbsDiff: 0, meanAbsDiff: 0, argmaxAgreement: 1 }],
    },
    { pricePerHour: 1, cores: 2, startedAtMs: 0 },
  );
  return new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
}

describe('operations files', () => {
  it('the alerting rules define the five alerts', () => {
    const rules = readFileSync(projectFile('ops', 'prometheus', 'alerts.yml'), 'utf8');
    for (const alert of ['BriskP99OverSLO', 'BriskErrorRate', 'BriskQueueSaturated', 'BriskCanaryWorseThanPrimary', 'BriskWorkerExits']) {
      expect(rules).toContain(`alert: ${alert}`);
    }
  });

  it.skipIf(!promtool.available)(`the alerting rules pass promtool check rules and their unit tests${promtool.skipNote}`, () => {
    execFileSync('promtool', ['check', 'rules', projectFile('ops', 'prometheus', 'alerts.yml')]);
    execFileSync('promtool', ['test', 'rules', projectFile('ops', 'prometheus', 'alerts.test.yml')]);
  });

  it('the rules and the Grafana dashboard query only metrics the server exports', async () => {
    const names = await exportedNames();
    const dashboard = JSON.parse(readFileSync(projectFile('ops', 'grafana', 'brisk-dashboard.json'), 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const exprs = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      readFileSync(projectFile('ops', 'prometheus', 'alerts.yml'), 'utf8'),
    ];
    const used = new Set(exprs.flatMap((e) => e.match(/brisk_[a-z0-9_]+/g) ?? []).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    expect(used.size).toBeGreaterThan(8);
    for (const name of used) expect(names, name).toContain(name);
  });
});
