/**
 * Routes: targets and shadows, promote and rollback, and the weight editor. The
 * editor keeps the revision it started from and applies with If-Match, so an edit
 * made on a route that changed meanwhile is refused (409) and shown as a conflict
 * rather than overwriting the other change.
 */
import { api, isApiError, type ConsoleDocument, type RouteView, type Target } from './api.js';
import { confirmAction } from './confirm.js';
import { fmt, h, pct, replace, table } from './dom.js';
import type { Act } from './views.js';

interface Edit {
  route: string;
  revision: number;
  before: Map<string, number>;
  weights: Map<string, number>;
  shadows: RouteView['shadows'];
}

let edit: Edit | undefined;
const editor = h('div', { id: 'editor' });

const id = (t: { model: string; version: string }): string => `${t.model}/${t.version}`;

export function routesView(doc: ConsoleDocument, act: Act, refresh: () => void): HTMLElement {
  const list = doc.state.routes.map((r) =>
    h(
      'div',
      { class: 'card', 'data-route': r.name },
      h(
        'div',
        { class: 'card-head' },
        h('h3', {}, r.name, h('span', { class: 'muted' }, ` revision ${r.revision}`)),
        h(
          'div',
          { class: 'buttons' },
          h('button', { type: 'button', class: 'edit-weights', onclick: () => openEditor(doc, r) }, 'Edit weights'),
          h('button', { type: 'button', class: 'promote', onclick: () => act(`Promote ${r.name}?`, 'The newest version of the primary model takes 100% of the traffic.', 'Promote', () => api.routeAction(r.name, 'promote', r.revision)) }, 'Promote'),
          h('button', { type: 'button', class: 'danger rollback', onclick: () => act(`Roll back ${r.name}?`, 'The route returns to its state before the last change.', 'Roll back', () => api.routeAction(r.name, 'rollback', r.revision)) }, 'Roll back'),
        ),
      ),
      table(
        ['target', 'weight'],
        r.targets.map((t) => [id(t), h('span', { class: 'weight' }, h('meter', { min: 0, max: 100, value: t.weight }), ` ${t.weight}%`)]),
        { class: 'targets' },
      ),
      r.shadows.length
        ? table(
            ['shadow', 'percent', 'compared', 'errors', 'dropped', 'max |diff|', 'mean |diff|', 'argmax agreement'],
            r.shadows.map((s) => [id(s), `${s.percent}%`, s.stats.compared, s.stats.errors, s.stats.dropped, fmt(s.stats.max_abs_diff), fmt(s.stats.mean_abs_diff), pct(s.stats.argmax_agreement)]),
            { class: 'shadows' },
          )
        : null,
    ),
  );
  // The editor element lives across polls: what the operator typed is not reset every 2 s.
  editorRefresh = refresh;
  return h('section', { id: 'routes-view' }, editor, ...list);
}

let editorRefresh: () => void = () => undefined;

function openEditor(doc: ConsoleDocument, route: RouteView): void {
  const before = new Map(route.targets.map((t) => [id(t), t.weight]));
  const weights = new Map(before);
  // Versions of the route's models that are ready but not targets yet can be given weight.
  const models = new Set(route.targets.map((t) => t.model));
  for (const m of doc.state.models) {
    if (!models.has(m.name)) continue;
    for (const v of [...m.versions].sort((a, b) => Number(a.version) - Number(b.version))) {
      const key = `${m.name}/${v.version}`;
      if (v.state === 'READY' && !weights.has(key)) weights.set(key, 0);
    }
  }
  edit = { route: route.name, revision: route.revision, before, weights, shadows: route.shadows };
  drawEditor();
}

function closeEditor(): void {
  edit = undefined;
  replace(editor);
}

const sum = (e: Edit): number => [...e.weights.values()].reduce((a, b) => a + b, 0);
const changed = (e: Edit): boolean => [...e.weights].some(([k, w]) => (e.before.get(k) ?? 0) !== w);

function drawEditor(message?: { text: string; kind: 'conflict' | 'error' }): void {
  const e = edit;
  if (!e) return;
  const total = h('span', { id: 'weight-sum' });
  const review = h('button', { type: 'button', id: 'review-weights', class: 'primary', onclick: () => void reviewAndApply() }, 'Review change');
  const update = (): void => {
    const s = sum(e);
    total.textContent = `Sum ${s}%${s === 100 ? '' : ' (must be 100)'}`;
    total.className = s === 100 ? 'ok' : 'bad';
    review.disabled = s !== 100 || !changed(e);
  };
  const rows = [...e.weights].map(([key, weight]) => {
    const number = h('input', { type: 'number', min: 0, max: 100, step: 1, value: weight, 'data-target': key, class: 'weight-input', 'aria-label': `weight of ${key}` });
    const slider = h('input', { type: 'range', min: 0, max: 100, step: 1, value: weight, 'aria-label': `weight slider of ${key}` });
    const set = (raw: string): void => {
      const value = Math.max(0, Math.min(100, Math.round(Number(raw) || 0)));
      e.weights.set(key, value);
      number.value = String(value);
      slider.value = String(value);
      update();
    };
    number.addEventListener('input', () => set(number.value));
    slider.addEventListener('input', () => set(slider.value));
    return h('div', { class: 'editor-row' }, h('label', {}, key), slider, number, h('span', { class: 'muted' }, `was ${e.before.get(key) ?? 0}%`));
  });
  replace(
    editor,
    h(
      'div',
      { class: 'card editor' },
      h('h3', {}, `Weights of ${e.route}`, h('span', { class: 'muted' }, ` (editing revision ${e.revision})`)),
      ...rows,
      h('div', { class: 'buttons' }, total, h('button', { type: 'button', onclick: closeEditor }, 'Close'), review),
      message ? h('p', { id: 'editor-message', class: message.kind }, message.text) : null,
    ),
  );
  update();
}

function diffTable(e: Edit): HTMLElement {
  return table(
    ['target', 'now', 'after', 'change'],
    [...e.weights]
      .filter(([k, w]) => (e.before.get(k) ?? 0) !== w || w > 0)
      .map(([k, w]) => {
        const was = e.before.get(k) ?? 0;
        const delta = w - was;
        return [k, `${was}%`, `${w}%`, h('span', { class: delta > 0 ? 'up' : delta < 0 ? 'down' : '' }, delta === 0 ? '=' : `${delta > 0 ? '+' : ''}${delta}`)];
      }),
    { id: 'weight-diff' },
  );
}

async function reviewAndApply(): Promise<void> {
  const e = edit;
  if (!e) return;
  const ok = await confirmAction(`Apply new weights to ${e.route}?`, diffTable(e), 'Apply');
  if (!ok) return;
  // Targets that had weight keep their entry; new ones are added only with weight.
  const targets: Target[] = [...e.weights]
    .filter(([k, w]) => e.before.has(k) || w > 0)
    .map(([k, weight]) => {
      const slash = k.lastIndexOf('/');
      return { model: k.slice(0, slash), version: k.slice(slash + 1), weight };
    });
  const shadows = e.shadows.map(({ model, version, percent, class_scores }) => ({ model, version, percent, class_scores }));
  try {
    await api.setRoute(e.route, e.revision, { targets, shadows });
    closeEditor();
    editorRefresh();
  } catch (error) {
    if (isApiError(error) && error.status === 409) {
      drawEditor({ kind: 'conflict', text: `Conflict: ${e.route} was changed by someone else since you opened the editor (${error.message}). Nothing was applied. Close the editor and open it again to start from the current weights.` });
      // The list below shows the change that won.
      editorRefresh();
    } else {
      drawEditor({ kind: 'error', text: isApiError(error) ? `Error ${error.status}: ${error.message}` : String(error) });
    }
  }
}
