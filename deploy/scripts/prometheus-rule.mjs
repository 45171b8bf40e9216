/**
 * Writes deploy/kubernetes/prometheus-rule.yaml from ops/prometheus/alerts.yml, so that the
 * alerts have one source: prometheus-operator's PrometheusRule carries the same rule groups.
 * `npm run deploy:rules` writes the file; a test fails while the checked-in one is stale.
 * Plain JavaScript: it runs with node alone, before any build.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Document, isSeq, parseDocument } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ALERTS_FILE = path.join(root, 'ops', 'prometheus', 'alerts.yml');
export const RULE_FILE = path.join(root, 'deploy', 'kubernetes', 'prometheus-rule.yaml');

const HEADER = `# Generated from ops/prometheus/alerts.yml by \`npm run deploy:rules\`: edit that file, not this one.
# Add the label your Prometheus's ruleSelector asks for (kube-prometheus-stack: release: <name>).
`;

/** The PrometheusRule holding the rule groups of an alerts file, as YAML text. */
export function renderPrometheusRule(alertsText) {
  const alerts = parseDocument(alertsText);
  if (alerts.errors.length > 0) throw alerts.errors[0];
  // The groups as nodes rather than plain values: the comments that say why a rule is written
  // as it is come along.
  const groups = alerts.get('groups', true);
  if (!isSeq(groups) || groups.items.length === 0) throw new Error('the alerts file has no rule groups');
  const rule = new Document({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'brisk', labels: { 'app.kubernetes.io/name': 'brisk' } },
    spec: { groups: null },
  });
  rule.setIn(['spec', 'groups'], groups);
  // lineWidth 0: PromQL is never folded across lines.
  return HEADER + rule.toString({ lineWidth: 0 });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(RULE_FILE, renderPrometheusRule(readFileSync(ALERTS_FILE, 'utf8')));
  console.log(`wrote ${path.relative(process.cwd(), RULE_FILE)}`);
}
