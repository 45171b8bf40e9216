import { createLogger } from '../../src/observability/logger.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registerDriftMetrics } from '../../src/observability/drift-metrics.js';
import { ServerMetrics } from '../../src/observability/metrics.js';
import { projectFile } from '../../src/project-files.js';
import { RolloutMetrics } from '../../src/rollout/rollout-metrics.js';
import { externalTool } from '../helpers/external-tools.js';

const promtool = externalTool('promtool');

import { etcdClient } from '../../src/routing/etcd-client.js';
import { EtcdRouteStore } from '../../src/routing/etcd-route-store.js';
/**
 * The first and last of each runbook's three commands: where to look first, and what to do.
 * Most alerts are about a version that may be new, so the rollout comes first and the rollback
 * last; drift is looked at feature by feature, and a rollout is a suspect, not the first remedy.
 */
const ROUTE_COMMANDS: [RegExp, RegExp] = [/^brisk routes rollout-status <route>/, /^brisk routes rollback <route>/];
const FIRST_AND_LAST_COMMANDS: Record<string, [RegExp, RegExp]> = {
  BriskInputDrift: [/^brisk drift show <model> <version>/, /^brisk routes rollout-status <route>/],
};

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
  // Registered beside the others by main.ts.
  new RolloutMetrics(metrics.registry);
  // Registered by the etcd route store (--route-store etcd); the client connects only on a call.
  const client = etcdClient({ endpoints: ['http://127.0.0.1:1'] });
  new EtcdRouteStore(client, '/brisk/ops-test/', createLogger('silent'), metrics.registry);
  client.close();
  registerDriftMetrics(metrics.registry, () => []);
  return new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
}

interface Dashboard {
  panels: {
    id: number;
    type: string;
    title: string;
    gridPos: { h: number; w: number; x: number; y: number };
    targets?: { expr: string }[];
    fieldConfig?: { defaults: { thresholds?: { steps: { value: number | null }[] } } };
  }[];
}

describe('operations files', () => {
  it('the alerting rules define the eight alerts', () => {
    const rules = readFileSync(projectFile('ops', 'prometheus', 'alerts.yml'), 'utf8');
    for (const alert of ['BriskP99OverSLO', 'BriskErrorRate', 'BriskQueueSaturated', 'BriskCanaryWorseThanPrimary', 'BriskWorkerExits', 'BriskRolloutRolledBack', 'BriskRouteStoreDisconnected', 'BriskInputDrift']) {
      expect(rules).toContain(`alert: ${alert}`);
    }
  });

  it('every alert carries a runbook_url to its own section of ops/runbooks.md, and every section has its first three commands', () => {
    const rules = readFileSync(projectFile('ops', 'prometheus', 'alerts.yml'), 'utf8');
    const runbooks = readFileSync(projectFile('ops', 'runbooks.md'), 'utf8');
    // GitHub's anchor for a heading: lower case, spaces to dashes, other punctuation dropped.
    const sections = new Map(
      runbooks.split(/^## /m).slice(1).map((text) => [text.split('\n')[0]!.trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-'), text]),
    );
    const alerts = rules.split(/^\s*- alert: /m).slice(1).map((block) => ({ name: block.split('\n')[0]!.trim(), url: /^\s*runbook_url: "([^"]*)"$/m.exec(block)?.[1] }));
    expect(alerts).toHaveLength(8);
    for (const { name, url } of alerts) {
      expect(url, name).toBe(`ops/runbooks.md#${name.toLowerCase()}`);
      const section = sections.get(name.toLowerCase());
      expect(section, `a section for ${name}`).toBeDefined();
      expect(section).toMatch(/\*\*What it means\.\*\*/);
      expect(section).toMatch(/\*\*How to decide\.\*\*/);
      const lines = /```sh\n([\s\S]*?)```/.exec(section!)?.[1]?.trim().split('\n') ?? [];
      expect(lines, name).toHaveLength(4);
      const [first, last] = FIRST_AND_LAST_COMMANDS[name] ?? ROUTE_COMMANDS;
      expect(lines[0]).toMatch(first);
      expect(lines[1]).toMatch(/^# PromQL/);
      expect(lines[2]).toMatch(/brisk_[a-z_]+\{model="<model>"/);
      expect(lines[3]).toMatch(last);
    }
    // No section for an alert that does not exist.
    expect([...sections.keys()].sort()).toEqual(alerts.map((a) => a.name.toLowerCase()).sort());
  });

  it.skipIf(!promtool.available)(`the alerting rules pass promtool check rules and their unit tests${promtool.skipNote}`, () => {
    execFileSync('promtool', ['check', 'rules', projectFile('ops', 'prometheus', 'alerts.yml')]);
    execFileSync('promtool', ['test', 'rules', projectFile('ops', 'prometheus', 'alerts.test.yml')]);
  });

  it('the rules, the runbooks and the Grafana dashboard query only metrics the server exports', async () => {
    const names = await exportedNames();
    const dashboard = JSON.parse(readFileSync(projectFile('ops', 'grafana', 'brisk-dashboard.json'), 'utf8')) as Dashboard;
    const exprs = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
      readFileSync(projectFile('ops', 'prometheus', 'alerts.yml'), 'utf8'),
      readFileSync(projectFile('ops', 'runbooks.md'), 'utf8'),
    ];
    const used = new Set(exprs.flatMap((e) => e.match(/brisk_[a-z0-9_]+/g) ?? []).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    expect(used.size).toBeGreaterThan(8);
    for (const name of used) expect(names, name).toContain(name);
  });

  it('the dashboard panels have their own ids and places, and the drift panel draws the verdict thresholds the alert uses', () => {
    const dashboard = JSON.parse(readFileSync(projectFile('ops', 'grafana', 'brisk-dashboard.json'), 'utf8')) as Dashboard;
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Grafana moves overlapping panels about; a 24-column grid, each cell taken at most once.
    const taken = new Set<string>();
    for (const { title, gridPos: g } of dashboard.panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let y = g.y; y < g.y + g.h; y++) {
        for (let x = g.x; x < g.x + g.w; x++) {
          expect(taken.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
          taken.add(`${x},${y}`);
        }
      }
    }
    const psi = dashboard.panels.find((p) => p.targets?.some((t) => t.expr.includes('brisk_drift_max_psi')));
    expect(psi?.fieldConfig?.defaults.thresholds?.steps.map((s) => s.value)).toEqual([null, 0.1, 0.25]);
    const rules = readFileSync(projectFile('ops', 'prometheus', 'alerts.yml'), 'utf8');
    expect(rules).toMatch(/\(brisk_drift_max_psi\) >= 0\.25\n/);
  });
});
