/**
 * The console page: sign-in, then one view at a time (#models, #live, #routes,
 * #rollouts, #audit), refreshed from GET /console/api/state every 2 s.
 */
import { api, isApiError, setCsrf, signedIn, type ConsoleDocument } from './api.js';
import { confirmAction } from './confirm.js';
import { h, replace } from './dom.js';
import { routesView } from './routes.js';
import { mergeSeries, resetSeries, wantFullSeries } from './series.js';
import { auditView, liveView, modelsView, rolloutsView, type Act } from './views.js';

const POLL_MS = 2000;
const VIEWS = ['models', 'live', 'routes', 'rollouts', 'audit'] as const;
type View = (typeof VIEWS)[number];

const app = document.getElementById('app')!;
const main = h('main', { id: 'main' });
const status = h('div', { id: 'status', role: 'status' });
const who = h('span', { id: 'who' });
let doc: ConsoleDocument | undefined;
let timer: number | undefined;

const currentView = (): View => {
  const name = location.hash.slice(1);
  return (VIEWS as readonly string[]).includes(name) ? (name as View) : 'models';
};

function say(text: string, kind: 'ok' | 'error' = 'ok'): void {
  status.textContent = text;
  status.className = kind;
}

const act: Act = (title, body, label, run) => {
  void (async () => {
    if (!(await confirmAction(title, body, label))) return;
    try {
      await run();
      say(`${title.replace(/\?$/, '')}: done`);
    } catch (error) {
      say(isApiError(error) ? `Error ${error.status}: ${error.message}` : String(error), 'error');
      if (isApiError(error) && error.status === 401) return showSignIn('Your session ended: sign in again.');
    }
    await poll();
  })();
};

function render(): void {
  if (!doc) return;
  const view = currentView();
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('active', link.getAttribute('href') === `#${view}`);
  who.textContent = `Signed in as ${doc.session.name}`;
  const refresh = () => void poll();
  const content =
    view === 'models' ? modelsView(doc, act) : view === 'live' ? liveView(doc) : view === 'routes' ? routesView(doc, act, refresh) : view === 'rollouts' ? rolloutsView(doc, act) : auditView(doc.state.audit);
  replace(main, content);
}

async function poll(): Promise<void> {
  try {
    const full = wantFullSeries();
    const next = await api.state(full);
    mergeSeries(next, full);
    doc = next;
    render();
  } catch (error) {
    if (isApiError(error) && error.status === 401) showSignIn('Your session ended: sign in again.');
    else say(`Cannot reach the server: ${isApiError(error) ? error.message : String(error)}`, 'error');
  }
}

function showConsole(): void {
  resetSeries();
  const nav = h('nav', {}, ...VIEWS.map((v) => h('a', { href: `#${v}`, id: `nav-${v}` }, v[0]!.toUpperCase() + v.slice(1))));
  const signOut = h('button', { type: 'button', id: 'sign-out', onclick: () => void doSignOut() }, 'Sign out');
  replace(app, h('header', {}, h('h1', {}, 'brisk'), nav, h('div', { class: 'session' }, who, signOut)), status, main);
  void poll();
  window.clearInterval(timer);
  timer = window.setInterval(() => void poll(), POLL_MS);
}

async function doSignOut(): Promise<void> {
  try {
    await api.signOut();
  } finally {
    setCsrf('');
    showSignIn('Signed out.');
  }
}

function showSignIn(message = ''): void {
  window.clearInterval(timer);
  doc = undefined;
  const token = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', required: true, 'aria-label': 'admin token' });
  const note = h('p', { id: 'sign-in-message', class: message.startsWith('Signed out') ? 'muted' : 'error' }, message);
  const form = h(
    'form',
    { id: 'sign-in', class: 'card' },
    h('h2', {}, 'brisk console'),
    h('label', { for: 'token' }, 'Admin token'),
    token,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    note,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      try {
        const session = await api.signIn(token.value);
        setCsrf(session.csrf);
        showConsole();
      } catch (error) {
        note.className = 'error';
        note.textContent = isApiError(error) ? error.message : String(error);
      }
    })();
  });
  replace(app, form);
  token.focus();
}

window.addEventListener('hashchange', render);
if (signedIn()) showConsole();
else showSignIn();
