/** The read-mostly views: models, live figures, rollouts and the audit trail. */
import { api, type AuditEntry, type ConsoleDocument, type ModelView, type RouteView, type Target } from './api.js';
import { chart, CHARTS, keepCharts } from './charts.js';
import { confirmAction } from './confirm.js';
import { fmt, h, pct, table } from './dom.js';

/** Runs a change after it was confirmed, and reports how it went. */
export type Act = (title: string, body: Node | string, label: string, run: () => Promise<unknown>) => void;

export function modelsView(doc: ConsoleDocument, act: Act): HTMLElement {
  return h(
    'section',
    { id: 'models-view' },
    ...doc.state.models.map((m) =>
      h(
        'div',
        { class: 'card', 'data-model': m.name },
        h(
          'div',
          { class: 'card-head' },
          h('h3', {}, m.name),
          h(
            'div',
            { class: 'buttons' },
            h('button', { type: 'button', class: 'load', onclick: () => act(`Load ${m.name}?`, `Reads ${m.name}'s folder and config again; versions in place serve until the new ones are ready.`, 'Load', () => api.modelAction(m.name, 'load')) }, 'Load'),
            h('button', { type: 'button', class: 'danger unload', onclick: () => act(`Unload ${m.name}?`, `Every version of ${m.name} drains and stops serving.`, 'Unload', () => api.modelAction(m.name, 'unload')) }, 'Unload'),
          ),
        ),
        m.problem || m.load_error ? h('p', { class: 'reason' }, m.problem ?? m.load_error) : null,
        table(
          ['version', 'state', 'reason', 'instances', 'max batch', 'preferred', 'queue delay', 'load time', 'warmup'],
          m.versions.map((v) => [
            v.version,
            h('span', { class: `state state-${v.state.toLowerCase()}` }, v.state),
            v.reason ?? '',
            fmt(v.instances),
            fmt(v.max_batch_size),
            v.preferred_batch_sizes.join(', ') || '–',
            v.max_queue_delay_us === null ? '–' : `${fmt(v.max_queue_delay_us / 1000)} ms`,
            v.load_seconds === null ? '–' : `${fmt(v.load_seconds)} s`,
            v.warmup_seconds === null ? '–' : `${fmt(v.warmup_seconds * 1000)} ms`,
          ]),
        ),
      ),
    ),
  );
}

export function liveView(doc: ConsoleDocument): HTMLElement {
  const columns = doc.state.series_columns;
  const kept = new Set<string>();
  const rows = doc.state.models.flatMap((m: ModelView) =>
    m.versions.map((v) => {
      const l = v.live;
      return [
        `${m.name}/${v.version}`,
        fmt(l?.rps),
        pct(l?.error_rate),
        fmt(l?.p50_ms),
        fmt(l?.p95_ms),
        fmt(l?.p99_ms),
        fmt(l?.avg_batch),
        fmt(l?.queue),
        v.cost_per_1k ? `${fmt(v.cost_per_1k.compute)} / ${fmt(v.cost_per_1k.allocated)}` : '–',
      ];
    }),
  );
  // Charts for versions that served in the last 15 minutes; idle ones are listed, not drawn flat.
  const served = (series: (number | null)[][] | null): boolean => (series?.[columns.indexOf('rps')] ?? []).some((r) => r !== null && r > 0);
  const idle: string[] = [];
  const cards = doc.state.models.flatMap((m) =>
    m.versions.flatMap((v) => {
      const id = `${m.name}/${v.version}`;
      if (!served(v.series)) {
        idle.push(id);
        return [];
      }
      return [
        h(
          'div',
          { class: 'card', 'data-charts': id },
          h('h3', {}, id),
          h(
            'div',
            { class: 'charts' },
            ...CHARTS.map((spec) => {
              const key = `${id}:${spec.title}`;
              kept.add(key);
              return chart(key, spec, columns, v.series);
            }),
          ),
        ),
      ];
    }),
  );
  keepCharts(kept);
  return h(
    'section',
    { id: 'live-view' },
    h('p', { class: 'muted' }, `Sampled every ${doc.state.sample_interval_ms / 1000} s by the server; charts show the last ${doc.state.series_seconds / 60} minutes. Percentiles are over the last 60 s.`),
    table(['version', 'req/s', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'avg batch', 'queue', 'cost / 1k (compute / allocated)'], rows, { id: 'live-table' }),
    ...cards,
    idle.length ? h('p', { class: 'muted', id: 'idle-versions' }, `No requests in the last 15 minutes: ${idle.join(', ')}.`) : null,
  );
}

const targetsText = (targets: readonly Target[] | undefined): string => (targets ?? []).map((t) => `${t.model}/${t.version} ${t.weight}%`).join(', ');

export function rolloutsView(doc: ConsoleDocument, act: Act): HTMLElement {
  const withRollout = doc.state.routes.filter((r): r is RouteView & { rollout: NonNullable<RouteView['rollout']> } => r.rollout !== null);
  if (withRollout.length === 0) return h('section', { id: 'rollouts-view' }, h('p', { class: 'muted' }, 'No rollout has run. Start one with `brisk routes rollout <route> <version>` or PUT /admin/routes/{route}/rollout.'));
  return h(
    'section',
    { id: 'rollouts-view' },
    ...withRollout.map(({ name, rollout: r }) => {
      const running = r.state === 'progressing' || r.state === 'paused';
      return h(
        'div',
        { class: 'card', 'data-rollout': name },
        h(
          'div',
          { class: 'card-head' },
          h('h3', {}, `${name}: ${r.target.model}/${r.target.version} `, h('span', { class: `state rollout-${r.state}` }, r.state)),
          h(
            'div',
            { class: 'buttons' },
            r.state === 'progressing' ? h('button', { type: 'button', onclick: () => act(`Pause the rollout on ${name}?`, 'The weight holds until it is resumed or aborted.', 'Pause', () => api.rolloutAction(name, 'pause')) }, 'Pause') : null,
            r.state === 'paused' ? h('button', { type: 'button', onclick: () => act(`Resume the rollout on ${name}?`, 'Judging starts again with a fresh interval.', 'Resume', () => api.rolloutAction(name, 'resume')) }, 'Resume') : null,
            running ? h('button', { type: 'button', class: 'danger', onclick: () => act(`Abort the rollout on ${name}?`, `${r.target.model}/${r.target.version} goes back to weight 0.`, 'Abort', () => api.rolloutAction(name, 'abort')) }, 'Abort') : null,
          ),
        ),
        h('p', {}, `Primary ${r.primary.model}/${r.primary.version}; weight ${r.weight}%; fails ${r.fails}; inconclusive in a row ${r.inconclusive}; every ${r.interval_seconds} s; started by ${r.started_by} at ${r.started_at}.`),
        h('ol', { class: 'steps' }, h('li', { class: r.step === 0 ? 'current' : r.step > 0 ? 'done' : '' }, 'shadow'), ...r.steps.map((w, i) => h('li', { class: r.step === i + 1 ? 'current' : r.step > i + 1 ? 'done' : '' }, `${w}%`))),
        r.reason ? h('p', { class: 'reason' }, r.reason) : null,
        r.current_interval ? h('p', { class: 'muted' }, `This interval: ${r.current_interval.canary_requests} canary requests, ${r.current_interval.canary_errors} errors, ${r.current_interval.primary_requests} primary requests.`) : null,
        table(
          ['#', 'step', 'weight', 'verdict', 'canary req', 'errors', 'error rate', 'canary p99', 'primary p99', 'why'],
          [...r.intervals].reverse().map((i) => [
            i.index,
            i.step,
            `${i.weight}%`,
            h('span', { class: `verdict verdict-${i.verdict}` }, i.verdict + (i.early ? ' (early)' : '')),
            i.canary.requests,
            i.canary.errors,
            pct(i.canary.error_rate),
            i.canary.p99_seconds === null ? '–' : `${fmt(i.canary.p99_seconds * 1000)} ms`,
            i.primary.p99_seconds === null ? '–' : `${fmt(i.primary.p99_seconds * 1000)} ms`,
            i.reasons.join('; '),
          ]),
        ),
      );
    }),
  );
}

export function auditView(entries: readonly AuditEntry[]): HTMLElement {
  return h(
    'section',
    { id: 'audit-view' },
    table(
      ['when', 'token', 'route', 'action', 'revision', 'before', 'after', 'reason'],
      entries.map((e) => [e.at.replace('T', ' ').slice(0, 19), h('strong', {}, e.token), e.route, e.action, e.revision, targetsText(e.before?.targets), targetsText(e.after.targets), e.reason ?? '']),
      { id: 'audit-table' },
    ),
  );
}

export { confirmAction };
