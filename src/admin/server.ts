/**
 * The admin API, on its own port, bound to 127.0.0.1 unless told otherwise.
 * Every call needs a bearer token; requests from browsers (an Origin header)
 * are refused, so a web page cannot drive it. A stable contract for scripts:
 *   GET  /admin/routes, GET /admin/routes/{route}   state with `revision` (and ETag)
 *   PUT  /admin/routes/{route}                      full replacement, validated
 *   POST /admin/routes/{route}/promote | /rollback
 *   PUT  /admin/routes/{route}/rollout              starts a progressive rollout (src/rollout)
 *   GET  /admin/routes/{route}/rollout              its state, step, weight and every interval's verdict
 *   POST /admin/routes/{route}/rollout/pause | /resume | /abort
 *   GET  /admin/audit                               every change
 *   POST /v2/repository/index                       every model version with its state and reason
 *   POST /v2/repository/models/{model}/load|unload  Triton's repository extension (see http/repository-routes.ts)
 *   POST /admin/models/{model}/versions/{version}/drift/recapture
 *                                                   drops the version's drift reference and window and captures
 *                                                   a new one; 409 when drift is off or a drift_reference.json is there
 * The operator console (src/console) is mounted under /console on the same port, with rules of its own for browsers.
 * A stale If-Match gets 409; invalid input 400 and nothing changes; a route that
 * does not exist 404 (for promote and rollback too, whatever If-Match says); a
 * second rollout on a route whose rollout has not ended 409.
 */
import { ServingError, invalidArgument } from '../errors.js';
import { readBody } from '../http/body.js';
import { addRepositoryRoutes, answerIndex } from '../http/repository-routes.js';
import { send, sendError, sendJson, type Header, type ResponseState } from '../http/respond.js';
import { uws, type HttpRequest, type HttpResponse } from '../http/uws.js';
import type { InferenceService } from '../inference/service.js';
import { isModelName } from '../models/names.js';
import type { Logger } from '../observability/logger.js';
import type { RouteStore, RouteState } from '../routing/route-store.js';
import { parseRouteSpec, targetId, type RouteSpec } from '../routing/route.js';
import type { ShadowStatsTable } from '../routing/shadow-stats.js';
import type { RolloutController } from '../rollout/rollout-controller.js';
import type { ModelRegistry } from '../models/registry.js';
import { addConsoleRoutes } from '../console/console-routes.js';
import { ConsoleState } from '../console/console-state.js';
import { RepositoryControl } from './repository-control.js';
import { authenticate, type AdminToken } from './tokens.js';

export interface AdminServerOptions {
  host: string;
  port: number;
  tokens: readonly AdminToken[];
  /** The operator console's session length; by default 8 hours (a shift). */
  consoleSessionSeconds?: number;
}

export const DEFAULT_CONSOLE_SESSION_SECONDS = 8 * 3600;

export interface AdminDependencies {
  store: RouteStore;
  shadowStats: ShadowStatsTable;
  /** Why a model version cannot be a route target, or undefined when it can. */
  servable(model: string, version: string): string | undefined;
  /** For the repository index, loads and unloads. */
  service: InferenceService;
  rollouts: RolloutController;
  /** The console's view of each version: instances, batch settings, load time, queue depth. */
  registry: Pick<ModelRegistry, 'list'>;
}

const MAX_ADMIN_BODY = 1024 * 1024;
const OK = '200 OK';

function routeJson(route: RouteState, stats: ShadowStatsTable): unknown {
  return {
    name: route.name,
    revision: route.revision,
    updated_at: route.updatedAt,
    targets: route.spec.targets,
    shadows: route.spec.shadows,
    shadow_stats: route.spec.shadows.map((s) => ({ shadow: targetId(s), ...stats.for(route.name, targetId(s)).toJSON() })),
  };
}

function parseIfMatch(header: string): number | undefined {
  if (header === '') return undefined;
  const match = /^(?:W\/)?"?(\d{1,12})"?$/.exec(header.trim());
  if (!match) throw invalidArgument(`If-Match ${JSON.stringify(header.slice(0, 32))} is not a revision`);
  return Number(match[1]);
}

export function startAdminServer(deps: AdminDependencies, options: AdminServerOptions, log: Logger): Promise<{ port: number; close(): void }> {
  const app = uws.App();
  const { store, shadowStats } = deps;

  const sendRoute = (res: HttpResponse, state: ResponseState, route: RouteState): void => {
    const etag: Header = ['ETag', `"${route.revision}"`];
    sendJson(res, state, OK, routeJson(route, shadowStats), [etag]);
  };

  /** The browser check, then the caller's token name; throws before any body is read. */
  const identify = (req: HttpRequest): string => {
    if (req.getHeader('origin')) throw new ServingError('FORBIDDEN', 'the admin API does not answer browsers (requests with an Origin header)');
    const token = authenticate(req.getHeader('authorization'), options.tokens);
    if (!token) throw new ServingError('UNAUTHENTICATED', 'missing or wrong bearer token');
    return token;
  };

  /** Authentication and the browser check, then the handler; request data is copied before any await. */
  const guarded =
    (handler: (res: HttpResponse, state: ResponseState, token: string, req: { route: string; second: string; ifMatch: string; contentLength: string }) => void) =>
    (res: HttpResponse, req: HttpRequest): void => {
      const state: ResponseState = { finished: false };
      res.onAborted(() => (state.finished = true));
      const copied = {
        route: req.getParameter(0) ?? '',
        // The second path parameter, where there is one (a version).
        second: req.getParameter(1) ?? '',
        ifMatch: req.getHeader('if-match'),
        contentLength: req.getHeader('content-length'),
      };
      try {
        handler(res, state, identify(req), copied);
      } catch (error) {
        // Refused before the body was read: answer and close the connection.
        sendError(res, state, error, true);
      }
    };

  const change = (res: HttpResponse, state: ResponseState, pending: Promise<RouteState>): void => {
    pending.then(
      (route) => sendRoute(res, state, route),
      (error: unknown) => sendError(res, state, error),
    );
  };

  app.get('/admin/routes', guarded((res, state) => sendJson(res, state, OK, { routes: store.list().map((r) => routeJson(r, shadowStats)) })));

  app.get(
    '/admin/routes/:route',
    guarded((res, state, _token, { route }) => {
      const found = store.get(route);
      if (!found) throw new ServingError('NOT_FOUND', `no route ${route}`);
      sendRoute(res, state, found);
    }),
  );

  app.put(
    '/admin/routes/:route',
    guarded((res, state, token, { route, ifMatch, contentLength }) => {
      const revision = parseIfMatch(ifMatch);
      readBody(
        res,
        contentLength,
        MAX_ADMIN_BODY,
        (body) => {
          let spec: RouteSpec;
          try {
            if (!isModelName(route)) throw invalidArgument(`route name ${JSON.stringify(route.slice(0, 64))} is not valid: names are letters, digits, '_', '.', '-'`);
            let raw: unknown;
            try {
              raw = JSON.parse(body.toString('utf8'));
            } catch {
              throw invalidArgument('body is not valid JSON');
            }
            spec = parseRouteSpec(raw, deps.servable);
          } catch (error) {
            sendError(res, state, error);
            return;
          }
          change(res, state, store.set(route, spec, token, revision));
        },
        (error) => sendError(res, state, error, true),
      );
    }),
  );

  for (const action of ['promote', 'rollback'] as const) {
    app.post(
      `/admin/routes/:route/${action}`,
      guarded((res, state, token, { route, ifMatch }) => {
        res.onData(() => undefined);
        const revision = parseIfMatch(ifMatch);
        change(res, state, action === 'promote' ? store.promote(route, token, revision) : store.rollback(route, token, revision));
      }),
    );
  }

  const checkedRoute = (route: string): string => {
    if (!isModelName(route)) throw invalidArgument(`route name ${JSON.stringify(route.slice(0, 64))} is not valid: names are letters, digits, '_', '.', '-'`);
    return route;
  };
  const answer = (res: HttpResponse, state: ResponseState, pending: Promise<unknown>): void => {
    pending.then(
      (value) => sendJson(res, state, OK, value),
      (error: unknown) => sendError(res, state, error),
    );
  };

  app.put(
    '/admin/routes/:route/rollout',
    guarded((res, state, token, { route, contentLength }) => {
      checkedRoute(route);
      readBody(
        res,
        contentLength,
        MAX_ADMIN_BODY,
        (body) => {
          let raw: unknown;
          try {
            raw = JSON.parse(body.toString('utf8'));
          } catch {
            sendError(res, state, invalidArgument('body is not valid JSON'));
            return;
          }
          answer(res, state, deps.rollouts.start(route, raw, token));
        },
        (error) => sendError(res, state, error, true),
      );
    }),
  );

  app.get(
    '/admin/routes/:route/rollout',
    guarded((res, state, _token, { route }) => {
      const found = deps.rollouts.get(route);
      if (!found) throw new ServingError('NOT_FOUND', store.get(route) ? `route ${route} has no rollout` : `no route ${route}`);
      sendJson(res, state, OK, found);
    }),
  );

  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post(
      `/admin/routes/:route/rollout/${action}`,
      guarded((res, state, token, { route }) => {
        res.onData(() => undefined);
        answer(res, state, deps.rollouts[action](route, token));
      }),
    );
  }

  app.get('/admin/audit', guarded((res, state) => sendJson(res, state, OK, { entries: store.audit() })));

  app.post(
    '/v2/repository/index',
    guarded((res, state, _token, { contentLength }) => answerIndex(res, state, contentLength, deps.service)),
  );
  const control = new RepositoryControl(deps.service, options.tokens, log);
  addRepositoryRoutes(app, control, {
    via: 'admin',
    begin: () => ({ finished: false }),
    identify,
    maxBodyBytes: MAX_ADMIN_BODY,
  });

  app.post(
    '/admin/models/:model/versions/:version/drift/recapture',
    guarded((res, state, token, { route: model, second: version }) => {
      res.onData(() => undefined);
      answer(res, state, control.recaptureDrift(model, version, token, 'admin'));
    }),
  );

  const consoleState = new ConsoleState({ registry: deps.registry, service: deps.service, store, shadowStats, rollouts: deps.rollouts });
  addConsoleRoutes(
    app,
    { tokens: options.tokens, store, rollouts: deps.rollouts, control, servable: deps.servable, state: consoleState },
    // This listener is plain HTTP; a TLS proxy in front is recognised by X-Forwarded-Proto.
    { sessionSeconds: options.consoleSessionSeconds ?? DEFAULT_CONSOLE_SESSION_SECONDS, tls: false },
  );

  app.any(
    '/*',
    guarded((res, state) => send(res, state, '404 Not Found', JSON.stringify({ error: 'no such admin endpoint' }))),
  );

  return new Promise((resolve, reject) => {
    app.listen(options.host, options.port, (socket) => {
      if (!socket) {
        reject(new Error(`cannot listen on ${options.host}:${options.port} for the admin API`));
        return;
      }
      const port = uws.us_socket_local_port(socket);
      log.info({ adminHost: options.host, adminPort: port, tokens: options.tokens.map((t) => t.name), console: `/console` }, 'admin API listening');
      consoleState.start();
      resolve({
        port,
        close: () => {
          consoleState.stop();
          uws.us_listen_socket_close(socket);
        },
      });
    });
  });
}
