/**
 * Issue 17's security rules for the operator console, over plain HTTP against a real
 * server: the CSP on the page, the session cookie's flags and expiry, CSRF and Origin
 * on every change, sign-out, the admin API still closed to browsers, and the rate
 * limit on wrong tokens. Node's fetch sends no Origin of its own, so each test sets
 * (or leaves out) the one a browser would send.
 */
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import { adminClient, TEST_ADMIN_TOKEN } from '../helpers/admin.js';
import { waitFor } from '../helpers/conditions.js';
import { adminPort, concurrentSignIns, consoleCall, consoleOrigin, signIn, type ConsoleSession } from '../helpers/console.js';
import { tempDir, writeRepository } from '../helpers/repository.js';
import { rawRequest, request, startServer, type TestServer } from '../helpers/server.js';

const ALICE_TOKEN = 'alice-console-token-0123456789';
/** Long enough that no test's session ends under it on a loaded machine; expiry has a server of its own. */
const SESSION_SECONDS = 600;
/** The expiry test's server: short, so that the end of a session is seen. */
const SHORT_SESSION_SECONDS = 1;

let server: TestServer;
/** The expiry test's: started with the other in beforeAll, whose time limit allows for a slow start on a loaded machine. */
let short: TestServer;
let admin: ReturnType<typeof adminClient>;
let repository: string;

beforeAll(async () => {
  repository = writeRepository(BUNDLED_MODELS.filter((e) => e.model === 'scorer').map((entry) => ({ entry, config: { version_policy: { all: {} } } })));
  cpSync(projectFile('models', 'routes.json'), path.join(repository, 'routes.json'));
  const tokenFile = path.join(tempDir('tokens'), 'tokens');
  writeFileSync(tokenFile, `alice ${ALICE_TOKEN}\n`);
  [server, short] = await Promise.all([
    startServer(repository, ['--admin-token-file', tokenFile], { ADMIN_TOKEN: TEST_ADMIN_TOKEN, BRISK_CONSOLE_SESSION_SECONDS: String(SESSION_SECONDS) }),
    startServer(repository, [], { ADMIN_TOKEN: TEST_ADMIN_TOKEN, BRISK_CONSOLE_SESSION_SECONDS: String(SHORT_SESSION_SECONDS) }),
  ]);
  admin = adminClient(server);
});

afterAll(async () => {
  await Promise.all([server?.stop(), short?.stop()]);
});

const alice = async (): Promise<ConsoleSession> => {
  const { answer, session } = await signIn(server, ALICE_TOKEN);
  expect(answer.status, answer.body.toString()).toBe(200);
  return session!;
};

const scorerRevision = async (): Promise<number> => (await admin('GET', '/admin/routes/scorer')).json<{ revision: number }>().revision;

const weights = (v1: number, v2: number) => ({
  targets: [
    { model: 'scorer', version: '1', weight: v1 },
    { model: 'scorer', version: '2', weight: v2 },
  ],
  shadows: [],
});

describe('console security', () => {
  it('serves the page with a CSP that allows only this origin and no inline script', async () => {
    const page = await request(`${consoleOrigin(server)}/console/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = page.body.toString();
    // Every script and stylesheet is a file of this server; no script has a body.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/<style/);
    // The one data: URL is the empty icon, which stops the browser asking for /favicon.ico.
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((url) => url !== 'data:,');
    expect(urls.length).toBeGreaterThanOrEqual(4);
    for (const url of urls) {
      expect(url.startsWith('/console/assets/'), url).toBe(true);
      const asset = await request(`${consoleOrigin(server)}${url}`);
      expect(asset.status, url).toBe(200);
      expect(asset.headers.get('content-type'), url).toMatch(/^text\/(javascript|css)/);
      expect(asset.headers.get('content-security-policy')).toBe(csp);
    }
    // Signed out, the page carries no CSRF token.
    expect(html).toContain('<meta name="csrf-token" content="">');
  });

  it('puts the CSP on every console answer: errors, other methods, paths that try to leave the assets', async () => {
    const port = adminPort(server);
    const answers = [
      await rawRequest(port, 'POST', '/console'),
      await rawRequest(port, 'OPTIONS', '/console/api/session'),
      await rawRequest(port, 'GET', '/console/assets/..%2f..%2fpackage.json'),
      await rawRequest(port, 'GET', '/console/assets/%2e%2e%2f%2e%2e%2fpackage.json'),
      await rawRequest(port, 'GET', '/console/assets/../../package.json'),
      await rawRequest(port, 'GET', '/console/api/state'),
    ];
    for (const answer of answers) {
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(answer.body.toString()).not.toContain('"name"');
    }
  });

  it('signs in with an admin token: an HttpOnly, SameSite=Strict cookie with an expiry, Secure behind TLS', async () => {
    const session = await alice();
    expect(session.setCookie).toMatch(/^brisk_console=[A-Za-z0-9_-]{43}; /);
    expect(session.setCookie).toContain('HttpOnly');
    expect(session.setCookie).toContain('SameSite=Strict');
    expect(session.setCookie).toContain(`Max-Age=${SESSION_SECONDS}`);
    expect(session.setCookie).toContain('Path=/console');
    expect(session.setCookie).not.toContain('Secure');
    const behindTls = await signIn(server, ALICE_TOKEN, { 'x-forwarded-proto': 'https', origin: `https://127.0.0.1:${adminPort(server)}` });
    expect(behindTls.session!.setCookie).toContain('; Secure');

    const state = await request(`${consoleOrigin(server)}/console/api/state`, { headers: { cookie: session.cookie } });
    expect(state.status).toBe(200);
    const body = state.json<{ session: { name: string }; state: { models: { name: string }[]; routes: { name: string }[] } }>();
    expect(body.session.name).toBe('alice');
    expect(body.state.models.map((m) => m.name)).toEqual(['scorer']);
    expect(body.state.routes.map((r) => r.name)).toEqual(['scorer']);
    // The page now carries the session's CSRF token.
    expect((await request(`${consoleOrigin(server)}/console/`, { headers: { cookie: session.cookie } })).body.toString()).toContain(`content="${session.csrf}"`);
  });

  it('refuses the state without a session, and with a made-up cookie', async () => {
    expect((await request(`${consoleOrigin(server)}/console/api/state`)).status).toBe(401);
    expect((await request(`${consoleOrigin(server)}/console/api/state`, { headers: { cookie: `brisk_console=${'A'.repeat(43)}` } })).status).toBe(401);
  });

  it('a change needs the CSRF token and an Origin equal to the admin port own origin', async () => {
    const session = await alice();
    const before = await scorerRevision();
    const put = (override: Record<string, string | undefined>) =>
      consoleCall(server, session, 'PUT', '/console/api/routes/scorer', weights(90, 10), { 'if-match': `"${before}"`, ...override });
    const refusals: [string, Record<string, string | undefined>, number][] = [
      ['no CSRF token', { 'x-csrf-token': undefined }, 403],
      ['a wrong CSRF token', { 'x-csrf-token': session.csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }, 403],
      ['no Origin', { origin: undefined }, 403],
      ['another port of the same host', { origin: `http://127.0.0.1:${server.httpPort}` }, 403],
      ['another host', { origin: 'http://evil.example' }, 403],
      ['the origin as null', { origin: 'null' }, 403],
      ['no cookie', { cookie: undefined }, 401],
    ];
    for (const [what, override, status] of refusals) {
      const answer = await put(override);
      expect(answer.status, what).toBe(status);
      expect(answer.json()['error'], what).toBeTypeOf('string');
    }
    expect(await scorerRevision()).toBe(before);
    // The same call with everything in place goes through, under the signed-in token's name.
    const done = await put({});
    expect(done.status, done.body.toString()).toBe(200);
    const entries = (await admin('GET', '/admin/audit')).json<{ entries: { token: string; revision: number; after: unknown }[] }>().entries;
    expect(entries.at(-1)).toMatchObject({ token: 'alice', revision: before + 1, after: weights(90, 10) });
  });

  it('loads and unloads models through repository control, under the same rules', async () => {
    const session = await alice();
    const load = await consoleCall(server, session, 'POST', '/console/api/models/scorer/load');
    expect(load.status, load.body.toString()).toBe(200);
    // scorer/1 serves the scorer route: the same refusal as the admin API's.
    const unload = await consoleCall(server, session, 'POST', '/console/api/models/scorer/unload');
    expect(unload.status).toBe(409);
    expect(unload.json()['error']).toContain('scorer');
    expect((await consoleCall(server, session, 'POST', '/console/api/models/scorer/unload', undefined, { 'x-csrf-token': undefined })).status).toBe(403);
    expect(server.logs.some((l) => l['msg'] === 'repository change' && l['token'] === 'alice' && l['action'] === 'load')).toBe(true);
  });

  it('sign-in also needs this origin: a page elsewhere cannot sign a browser in', async () => {
    const { answer } = await signIn(server, ALICE_TOKEN, { origin: 'http://evil.example' });
    expect(answer.status).toBe(403);
    expect(answer.headers.get('set-cookie')).toBeNull();
  });

  it('changes need If-Match; a stale one is a conflict and changes nothing; bad input is a 400', async () => {
    const session = await alice();
    const revision = await scorerRevision();
    const noIfMatch = await consoleCall(server, session, 'PUT', '/console/api/routes/scorer', weights(50, 50));
    expect(noIfMatch.status).toBe(400);
    expect(noIfMatch.json()['error']).toContain('If-Match');
    const stale = await consoleCall(server, session, 'PUT', '/console/api/routes/scorer', weights(50, 50), { 'if-match': `"${revision - 1}"` });
    expect(stale.status).toBe(409);
    expect(stale.json()['error']).toContain(`at revision ${revision}`);
    const badSum = await consoleCall(server, session, 'PUT', '/console/api/routes/scorer', weights(50, 40), { 'if-match': `"${revision}"` });
    expect(badSum.status).toBe(400);
    expect(badSum.json()['error']).toContain('weights sum to 90, not 100');
    const notJson = await request(`${consoleOrigin(server)}/console/api/routes/scorer`, {
      method: 'PUT',
      headers: { origin: consoleOrigin(server), cookie: session.cookie, 'x-csrf-token': session.csrf, 'if-match': `"${revision}"` },
      body: '{"targets": [',
    });
    expect(notJson.status).toBe(400);
    expect(await scorerRevision()).toBe(revision);
  });

  it('keeps the admin API closed to browsers: an Origin is refused with a bearer token, and the cookie is no bearer token', async () => {
    const session = await alice();
    expect((await admin('GET', '/admin/routes', undefined, { origin: consoleOrigin(server) })).status).toBe(403);
    const withCookie = await request(`${consoleOrigin(server)}/admin/routes/scorer/promote`, { method: 'POST', headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } });
    expect(withCookie.status).toBe(401);
  });

  it('signs out: the session and its CSRF token stop working at once', async () => {
    const session = await alice();
    const out = await consoleCall(server, session, 'POST', '/console/api/signout');
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await request(`${consoleOrigin(server)}/console/api/state`, { headers: { cookie: session.cookie } })).status).toBe(401);
    const revision = await scorerRevision();
    expect((await consoleCall(server, session, 'POST', '/console/api/routes/scorer/rollback', undefined, { 'if-match': `"${revision}"` })).status).toBe(401);
    expect(await scorerRevision()).toBe(revision);
  });

  it('ends a session at its expiry', async () => {
    // Taken before the request: the session cannot have been made earlier, so its end is no sooner than this plus its length.
    const signedInAt = performance.now();
    const { answer, session } = await signIn(short, TEST_ADMIN_TOKEN);
    expect(answer.status).toBe(200);
    expect(session!.setCookie).toContain(`Max-Age=${SHORT_SESSION_SECONDS}`);
    const state = () => request(`${consoleOrigin(short)}/console/api/state`, { headers: { cookie: session!.cookie } });
    await waitFor('the session to expire', async () => (await state()).status === 401, 15_000, 100);
    // Not before its time: the cookie's Max-Age and the server agree.
    // (The server's clock and this one tick apart: a few ms of slack.)
    expect(performance.now() - signedInAt).toBeGreaterThanOrEqual(SHORT_SESSION_SECONDS * 1000 - 20);
    const revision = (await adminClient(short)('GET', '/admin/routes/scorer')).json<{ revision: number }>().revision;
    expect((await consoleCall(short, session!, 'POST', '/console/api/routes/scorer/rollback', undefined, { 'if-match': `"${revision}"` })).status).toBe(401);
  });

  // Last: it locks this test's address out of sign-in for a minute.
  it('rate-limits wrong tokens, even sent all at once, and while limited refuses even the right one', async () => {
    // 20 guesses whose bodies arrive after all their headers: the limit holds at 5, not 20.
    const statuses = await concurrentSignIns(server, Array.from({ length: 20 }, (_, i) => `wrong-token-${i}-0123456789`));
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    const limited = await signIn(server, `wrong-token-20-0123456789`);
    expect(limited.answer.status).toBe(429);
    expect(Number(limited.answer.headers.get('retry-after'))).toBeGreaterThan(0);
    const right = await signIn(server, ALICE_TOKEN);
    expect(right.answer.status).toBe(429);
    expect(right.answer.headers.get('set-cookie')).toBeNull();
  });
});
