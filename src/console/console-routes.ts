/**
 * The operator console on the admin port, under /console. Browsers are refused on
 * /admin (any Origin header); here they are expected, with these rules:
 *   - sign-in takes an admin token and sets an HttpOnly, SameSite=Strict session
 *     cookie (Secure behind TLS) with a fixed expiry; wrong tokens are rate-limited;
 *   - every change needs the cookie, the page's CSRF token (X-CSRF-Token) and an
 *     Origin equal to the admin port's own origin;
 *   - every response carries a CSP that allows this origin only and no inline script.
 * Changes call the same operations as the admin API (the route store, the rollout
 * controller, repository control), so they land in the same audit trail under the
 * signed-in token's name.
 *   GET  /console                                   the page
 *   GET  /console/assets/{file}                     its scripts and styles
 *   POST /console/api/session                       sign in: {"token": "..."}
 *   POST /console/api/signout
 *   GET  /console/api/state[?series=none]           everything the page shows (console-state.ts); without the series after the first poll
 *   PUT  /console/api/routes/{route}                new weights; If-Match required
 *   POST /console/api/routes/{route}/promote | /rollback
 *   POST /console/api/routes/{route}/rollout/pause | /resume | /abort
 *   POST /console/api/models/{model}/load | /unload
 */
import { timingSafeEqual } from 'node:crypto';
import { invalidArgument, ServingError, toServingError } from '../errors.js';
import { readBody } from '../http/body.js';
import { send, type Header, type ResponseState } from '../http/respond.js';
import { HTTP_STATUS } from '../http/status.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from '../http/uws.js';
import { isModelName } from '../models/names.js';
import type { RepositoryControl } from '../admin/repository-control.js';
import { authenticate, type AdminToken } from '../admin/tokens.js';
import type { RolloutController } from '../rollout/rollout-controller.js';
import type { RouteStore } from '../routing/route-store.js';
import { parseRouteSpec } from '../routing/route.js';
import { loadAssets, pageHtml } from './assets.js';
import type { ConsoleState } from './console-state.js';
import { clearedCookie, sessionCookie, SessionStore, type Session } from './session-store.js';
import { SignInLimiter } from './sign-in-limiter.js';

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SECURITY_HEADERS: readonly Header[] = [
  ['Content-Security-Policy', CONTENT_SECURITY_POLICY],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
];
const NO_STORE: Header = ['Cache-Control', 'no-store'];
const JSON_TYPE = 'application/json';
const MAX_CONSOLE_BODY = 64 * 1024;

export interface ConsoleDependencies {
  tokens: readonly AdminToken[];
  store: RouteStore;
  rollouts: Pick<RolloutController, 'pause' | 'resume' | 'abort'>;
  control: RepositoryControl;
  servable(model: string, version: string): string | undefined;
  state: ConsoleState;
}

export interface ConsoleOptions {
  /** How long a session lasts from sign-in. */
  sessionSeconds: number;
  /** True when the admin port serves TLS: the cookie is then Secure and the origin https. */
  tls: boolean;
  limiter?: SignInLimiter;
}

/** What a handler may read of the request: uWS request objects die when the handler returns. */
interface Copied {
  params: string[];
  origin: string;
  host: string;
  forwardedProto: string;
  cookie: string;
  csrf: string;
  ifMatch: string;
  contentLength: string;
  address: string;
  query: string;
}

function copy(res: HttpResponse, req: HttpRequest, paramCount: number): Copied {
  return {
    params: Array.from({ length: paramCount }, (_, i) => req.getParameter(i) ?? ''),
    origin: req.getHeader('origin'),
    host: req.getHeader('host'),
    forwardedProto: req.getHeader('x-forwarded-proto'),
    cookie: req.getHeader('cookie'),
    csrf: req.getHeader('x-csrf-token'),
    ifMatch: req.getHeader('if-match'),
    contentLength: req.getHeader('content-length'),
    address: Buffer.from(res.getRemoteAddressAsText()).toString(),
    query: req.getQuery() ?? '',
  };
}

const sameToken = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw invalidArgument('body is not valid JSON');
  }
}

function parseRevision(header: string): number {
  const match = /^(?:W\/)?"?(\d{1,12})"?$/.exec(header.trim());
  if (!match) throw invalidArgument('If-Match with the revision you edited is required, so that a change made meanwhile is not overwritten');
  return Number(match[1]);
}

export function addConsoleRoutes(app: TemplatedApp, deps: ConsoleDependencies, options: ConsoleOptions): { sessions: SessionStore } {
  const sessions = new SessionStore(options.sessionSeconds);
  const limiter = options.limiter ?? new SignInLimiter();
  const assets = loadAssets();

  /** TLS here, or a TLS proxy in front that says so: only ever makes the cookie stricter. */
  const secure = (c: Copied): boolean => options.tls || c.forwardedProto === 'https';
  const ownOrigin = (c: Copied): string => `${secure(c) ? 'https' : 'http'}://${c.host}`;

  const reply = (res: HttpResponse, state: ResponseState, status: string, body: string | Buffer, type = JSON_TYPE, headers: readonly Header[] = [], close = false): void =>
    send(res, state, status, body, type, [...SECURITY_HEADERS, ...headers], close);
  /** `close`: refused before the body was read, so the connection cannot carry another request. */
  const fail = (res: HttpResponse, state: ResponseState, error: unknown, close = false): void => {
    const serving = toServingError(error);
    reply(res, state, HTTP_STATUS[serving.code], JSON.stringify({ error: serving.message }), JSON_TYPE, [NO_STORE], close);
  };

  /** A state-changing call from a page of this origin: checked before its body is read. */
  const checkChange = (c: Copied): Session => {
    if (c.origin === '' || c.origin !== ownOrigin(c)) throw new ServingError('FORBIDDEN', 'changes are accepted only from the console page of this origin');
    const found = sessions.fromCookie(c.cookie);
    if (!found) throw new ServingError('UNAUTHENTICATED', 'not signed in, or the session expired');
    if (!sameToken(c.csrf, found.session.csrf)) throw new ServingError('FORBIDDEN', 'missing or wrong CSRF token');
    return found.session;
  };

  type Handler = (res: HttpResponse, state: ResponseState, c: Copied) => void;
  const handle =
    (paramCount: number, handler: Handler) =>
    (res: HttpResponse, req: HttpRequest): void => {
      const state: ResponseState = { finished: false };
      res.onAborted(() => (state.finished = true));
      const c = copy(res, req, paramCount);
      try {
        handler(res, state, c);
      } catch (error) {
        fail(res, state, error, true);
      }
    };
  /** A change with a JSON body (or none): checks, then the body, then the operation. */
  const change = (paramCount: number, run: (session: Session, c: Copied, body: Buffer) => Promise<unknown>) =>
    handle(paramCount, (res, state, c) => {
      const session = checkChange(c);
      readBody(
        res,
        c.contentLength,
        MAX_CONSOLE_BODY,
        (body) => {
          let pending: Promise<unknown>;
          try {
            pending = run(session, c, body);
          } catch (error) {
            fail(res, state, error);
            return;
          }
          pending.then(
            (value) => reply(res, state, '200 OK', JSON.stringify(value ?? {}), JSON_TYPE, [NO_STORE]),
            (error: unknown) => fail(res, state, error),
          );
        },
        (error) => fail(res, state, error, true),
      );
    });

  const page = handle(0, (res, state, c) => {
    const found = sessions.fromCookie(c.cookie);
    reply(res, state, '200 OK', pageHtml(found?.session.csrf ?? ''), 'text/html; charset=utf-8', [NO_STORE]);
  });
  app.get('/console', page);
  app.get('/console/', page);

  app.get(
    '/console/assets/:file',
    handle(1, (res, state, c) => {
      const asset = assets.get(c.params[0]!);
      if (!asset) throw new ServingError('NOT_FOUND', assets.size === 0 ? 'the console was not built (npm run build)' : 'no such asset');
      reply(res, state, '200 OK', asset.body, asset.contentType, [['Cache-Control', 'no-cache']]);
    }),
  );

  app.post(
    '/console/api/session',
    handle(0, (res, state, c) => {
      if (c.origin !== ownOrigin(c)) throw new ServingError('FORBIDDEN', 'sign in from the console page of this origin');
      const limited = (): boolean => {
        const wait = limiter.retryAfterSeconds(c.address);
        if (wait > 0) reply(res, state, '429 Too Many Requests', JSON.stringify({ error: `too many wrong tokens: try again in ${wait} s` }), JSON_TYPE, [['Retry-After', String(wait)], NO_STORE]);
        return wait > 0;
      };
      if (limited()) {
        res.onData(() => undefined);
        return;
      }
      readBody(
        res,
        c.contentLength,
        MAX_CONSOLE_BODY,
        (body) => {
          // Asked again now the body is here: sign-ins whose headers all came before any
          // body would otherwise each have passed the check above, and guessed unlimited.
          if (limited()) return;
          try {
            const raw = parseJsonBody(body) as { token?: unknown } | null;
            const token = typeof raw?.token === 'string' ? raw.token : '';
            const name = /^\S{1,512}$/.test(token) ? authenticate(`Bearer ${token}`, deps.tokens) : undefined;
            if (!name) {
              limiter.failed(c.address);
              throw new ServingError('UNAUTHENTICATED', 'wrong admin token');
            }
            const { id, session } = sessions.create(name);
            reply(res, state, '200 OK', JSON.stringify({ name, csrf: session.csrf, expires_at: new Date(session.expiresAtMs).toISOString() }), JSON_TYPE, [
              ['Set-Cookie', sessionCookie(id, sessions.ttlSeconds, secure(c))],
              NO_STORE,
            ]);
          } catch (error) {
            fail(res, state, error);
          }
        },
        (error) => fail(res, state, error),
      );
    }),
  );

  app.post(
    '/console/api/signout',
    handle(0, (res, state, c) => {
      checkChange(c);
      res.onData(() => undefined);
      sessions.end(sessions.fromCookie(c.cookie)!.id);
      reply(res, state, '200 OK', '{}', JSON_TYPE, [['Set-Cookie', clearedCookie(secure(c))], NO_STORE]);
    }),
  );

  app.get(
    '/console/api/state',
    handle(0, (res, state, c) => {
      const found = sessions.fromCookie(c.cookie);
      if (!found) throw new ServingError('UNAUTHENTICATED', 'not signed in, or the session expired');
      const session = JSON.stringify({ name: found.session.name, expires_at: new Date(found.session.expiresAtMs).toISOString() });
      // The shared document is spliced in as text: it is serialized once per second for everyone.
      reply(res, state, '200 OK', `{"session":${session},"state":${deps.state.json(c.query !== 'series=none')}}`, JSON_TYPE, [NO_STORE]);
    }),
  );

  const checkedName = (name: string, what: string): string => {
    if (!isModelName(name)) throw invalidArgument(`${what} name ${JSON.stringify(name.slice(0, 64))} is not valid: names are letters, digits, '_', '.', '-'`);
    return name;
  };
  const routeView = (r: { name: string; revision: number; spec: unknown }) => ({ name: r.name, revision: r.revision, spec: r.spec });

  app.put(
    '/console/api/routes/:route',
    change(1, async (session, c, body) => {
      const route = checkedName(c.params[0]!, 'route');
      const revision = parseRevision(c.ifMatch);
      const spec = parseRouteSpec(parseJsonBody(body), deps.servable);
      return routeView(await deps.store.set(route, spec, session.name, revision));
    }),
  );
  for (const action of ['promote', 'rollback'] as const) {
    app.post(
      `/console/api/routes/:route/${action}`,
      change(1, async (session, c) => {
        const route = checkedName(c.params[0]!, 'route');
        const revision = parseRevision(c.ifMatch);
        const done = action === 'promote' ? deps.store.promote(route, session.name, revision) : deps.store.rollback(route, session.name, revision);
        return routeView(await done);
      }),
    );
  }
  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post(
      `/console/api/routes/:route/rollout/${action}`,
      change(1, (session, c) => deps.rollouts[action](checkedName(c.params[0]!, 'route'), session.name)),
    );
  }
  for (const action of ['load', 'unload'] as const) {
    app.post(
      `/console/api/models/:model/${action}`,
      change(1, async (session, c) => {
        const model = checkedName(c.params[0]!, 'model');
        await (action === 'load' ? deps.control.load(model, undefined, session.name, 'admin') : deps.control.unload(model, session.name, 'admin'));
        return { model, done: action };
      }),
    );
  }
  // Both: '/console/*' does not match '/console' itself, whose other methods (HEAD, POST…)
  // would otherwise fall to the admin API's catch-all, without the CSP.
  const notFound = handle(0, () => {
    throw new ServingError('NOT_FOUND', 'no such console endpoint');
  });
  app.any('/console', notFound);
  app.any('/console/*', notFound);
  return { sessions };
}
