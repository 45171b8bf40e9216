/**
 * Calls to the console API. Changes carry the CSRF token the page was given
 * (the server also checks the cookie and the Origin the browser sets itself).
 */
export interface ApiError {
  status: number;
  message: string;
}

let csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? '';

export const signedIn = (): boolean => csrf !== '';

export function setCsrf(token: string): void {
  csrf = token;
}

async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { 'x-csrf-token': csrf, ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let parsed: unknown = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { error: text };
  }
  if (!response.ok) {
    const error: ApiError = { status: response.status, message: (parsed as { error?: string }).error ?? response.statusText };
    throw error;
  }
  return parsed as T;
}

export const isApiError = (value: unknown): value is ApiError => typeof value === 'object' && value !== null && 'status' in value && 'message' in value;

export const api = {
  signIn: (token: string) => call<{ name: string; csrf: string; expires_at: string }>('POST', '/console/api/session', { token }),
  signOut: () => call<unknown>('POST', '/console/api/signout'),
  state: (withSeries: boolean) => call<ConsoleDocument>('GET', withSeries ? '/console/api/state' : '/console/api/state?series=none'),
  setRoute: (route: string, revision: number, spec: unknown) => call<unknown>('PUT', `/console/api/routes/${encodeURIComponent(route)}`, spec, { 'if-match': `"${revision}"` }),
  routeAction: (route: string, action: 'promote' | 'rollback', revision: number) =>
    call<unknown>('POST', `/console/api/routes/${encodeURIComponent(route)}/${action}`, undefined, { 'if-match': `"${revision}"` }),
  rolloutAction: (route: string, action: 'pause' | 'resume' | 'abort') => call<unknown>('POST', `/console/api/routes/${encodeURIComponent(route)}/rollout/${action}`),
  modelAction: (model: string, action: 'load' | 'unload') => call<unknown>('POST', `/console/api/models/${encodeURIComponent(model)}/${action}`),
};

export type Live = Record<'t' | 'rps' | 'error_rate' | 'p50_ms' | 'p95_ms' | 'p99_ms' | 'avg_batch' | 'queue', number | null>;

export interface VersionView {
  version: string;
  state: string;
  reason?: string;
  instances: number | null;
  max_batch_size: number | null;
  preferred_batch_sizes: number[];
  max_queue_delay_us: number | null;
  load_seconds: number | null;
  warmup_seconds: number | null;
  live: Live | null;
  cost_per_1k: { compute: number; allocated: number } | null;
  series: (number | null)[][] | null;
}

export interface ModelView {
  name: string;
  problem?: string;
  load_error?: string;
  versions: VersionView[];
}

export interface Target {
  model: string;
  version: string;
  weight: number;
}

export interface ShadowView {
  model: string;
  version: string;
  percent: number;
  class_scores: string[];
  stats: { compared: number; errors: number; dropped: number; max_abs_diff: number; mean_abs_diff: number; argmax_agreement: number | null };
}

export interface SideReport {
  requests: number;
  errors: number;
  error_rate: number | null;
  p99_seconds: number | null;
}

export interface RolloutView {
  route: string;
  state: string;
  target: { model: string; version: string };
  primary: { model: string; version: string };
  step: number;
  steps: number[];
  weight: number;
  interval_seconds: number;
  fails: number;
  inconclusive: number;
  reason: string | null;
  started_at: string;
  started_by: string;
  current_interval: { started_at: string; canary_requests: number; canary_errors: number; primary_requests: number } | null;
  intervals: { index: number; step: number; weight: number; verdict: string; reasons: string[]; canary: SideReport; primary: SideReport; ended_at: string; early: boolean }[];
}

export interface RouteView {
  name: string;
  revision: number;
  updated_at: string;
  targets: Target[];
  shadows: ShadowView[];
  rollout: RolloutView | null;
}

export interface AuditEntry {
  at: string;
  token: string;
  route: string;
  action: string;
  before: { targets: Target[] } | null;
  after: { targets: Target[] };
  revision: number;
  reason?: string;
}

export interface ConsoleDocument {
  session: { name: string; expires_at: string };
  state: {
    generated_at: string;
    series_columns: string[];
    series_seconds: number;
    sample_interval_ms: number;
    models: ModelView[];
    routes: RouteView[];
    audit: AuditEntry[];
  };
}
