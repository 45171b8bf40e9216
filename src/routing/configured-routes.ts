/**
 * Routes declared in the model repository, `<repository>/routes.json`:
 * `{"<route>": {"targets": [...], "shadows": [...]}}`. They apply when the state
 * directory holds no saved routes. An invalid route is logged and left out.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isModelName } from '../models/names.js';
import type { Logger } from '../observability/logger.js';
import { parseRouteSpec, type RouteSpec } from './route.js';

export const ROUTES_FILE = 'routes.json';

export function loadConfiguredRoutes(
  repository: string,
  servable: (model: string, version: string) => string | undefined,
  log: Logger,
): Record<string, RouteSpec> {
  const file = path.join(repository, ROUTES_FILE);
  if (!existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    log.error({ file: ROUTES_FILE, reason: error instanceof Error ? error.message : String(error) }, 'routes file is not valid JSON; no routes configured');
    return {};
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    log.error({ file: ROUTES_FILE }, 'routes file is not a JSON object of routes; no routes configured');
    return {};
  }
  const routes = new Map<string, RouteSpec>();
  for (const [name, spec] of Object.entries(raw)) {
    try {
      if (!isModelName(name)) throw new Error('not a valid route name: names are letters, digits, _ . -');
      routes.set(name, parseRouteSpec(spec, servable));
    } catch (error) {
      log.error({ route: name.slice(0, 128), reason: error instanceof Error ? error.message : String(error) }, 'configured route left out');
    }
  }
  // Own properties only, so a route named `__proto__` is kept as a route.
  return Object.fromEntries(routes);
}
