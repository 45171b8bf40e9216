/**
 * Issue 17's proof in a real browser: headless Chromium against a real server with the
 * bundled models, under light keyed load. Signs in, sees every model and the scorer
 * route, moves scorer to 80/20 through the weight editor and checks that the server
 * then serves about 20% of keyed requests from version 2 and records the signed-in
 * token in the audit trail; shows a conflict on a stale edit; pauses and aborts a
 * rollout; signs out; and sees a cross-origin POST carrying the cookie refused.
 * With BRISK_SCREENSHOTS=1 the screenshots of the main views are written to docs/console/
 * (README, "Operator console"); without it none is taken, so that `npm test` leaves
 * the git tree clean.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import { adminClient, TEST_ADMIN_TOKEN } from '../helpers/admin.js';
import { chromiumAvailability, launchChromium } from '../helpers/browser.js';
import { consoleOrigin } from '../helpers/console.js';
import { tempDir } from '../helpers/repository.js';
import { postJson, startServer, type TestServer } from '../helpers/server.js';

const chromium = chromiumAvailability();
const OPERATOR_TOKEN = 'operator-dana-token-0123456789';
const SHOTS = projectFile('docs', 'console');
const WRITE_SHOTS = process.env['BRISK_SCREENSHOTS'] === '1';

let server: TestServer;
let admin: ReturnType<typeof adminClient>;
let browser: BrowserContext;
let page: Page;
let origin: string;
let load: { stop(): Promise<void>; sent: () => number } | undefined;

const features = (seed: number) => Array.from({ length: 32 }, (_, i) => Math.sin(seed + i));
const score = (key: string, seed: number) =>
  postJson(`${server.url}/v2/models/scorer/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: features(seed) }] }, { 'x-routing-key': key });

/** Light load: one keyed request every 20 ms, each key new, so the live figures and charts have something to show. */
function lightLoad(): { stop(): Promise<void>; sent: () => number } {
  let sent = 0;
  const pending = new Set<Promise<unknown>>();
  const timer = setInterval(() => {
    const p = score(`load-${sent}`, sent).catch(() => undefined);
    sent += 1;
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }, 20);
  return {
    sent: () => sent,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(pending);
    },
  };
}

const shot = async (name: string): Promise<void> => {
  if (WRITE_SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
};

const scorer = async () => (await admin('GET', '/admin/routes/scorer')).json<{ revision: number; targets: { version: string; weight: number }[] }>();

/** Sets a weight in the editor the way an operator types it. */
const setWeight = (target: string, weight: number) => page.fill(`#editor input.weight-input[data-target="${target}"]`, String(weight));

describe.skipIf(!chromium.available)(`operator console in Chromium${chromium.skipNote}`, () => {
  beforeAll(async () => {
    const tokenFile = path.join(tempDir('tokens'), 'tokens');
    writeFileSync(tokenFile, `dana ${OPERATOR_TOKEN}\n`);
    // The bundled repository as `npm run build` wrote it, with its routes.json (the scorer route).
    server = await startServer(projectFile('models'), ['--admin-token-file', tokenFile], { ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    admin = adminClient(server);
    origin = consoleOrigin(server);
    if (WRITE_SHOTS) mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
    page = browser.pages()[0] ?? (await browser.newPage());
    // Fail with the selector waited for, well within the test's own timeout.
    page.setDefaultTimeout(10_000);
    load = lightLoad();
  });

  afterAll(async () => {
    await load?.stop();
    await browser?.close();
    await server?.stop();
  });

  it('signs in and shows every bundled model and the scorer route', async () => {
    await page.goto(`${origin}/console/`);
    await page.waitForSelector('#sign-in');
    await shot('sign-in');
    await page.fill('#token', 'not-the-token-0123456789');
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#sign-in-message:text("wrong admin token")');
    await page.fill('#token', OPERATOR_TOKEN);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#models-view');
    expect(await page.textContent('#who')).toBe('Signed in as dana');
    const shown = await page.$$eval('[data-model] h3', (hs) => hs.map((h) => h.textContent));
    expect(shown.sort()).toEqual([...new Set(BUNDLED_MODELS.map((e) => e.model))].sort());
    await shot('models');
    await page.click('#nav-routes');
    await page.waitForSelector('[data-route="scorer"]');
    expect(await page.textContent('[data-route="scorer"] table.targets')).toContain('scorer/1');
    expect(await page.textContent('[data-route="scorer"] table.shadows')).toContain('scorer/2');
  });

  it('moves scorer to 80/20 on confirm; the server then serves version 2 to about 20% of keyed requests; the audit names the operator', async () => {
    const before = await scorer();
    await page.click('#nav-routes');
    await page.click('[data-route="scorer"] .edit-weights');
    await setWeight('scorer/1', 90);
    // Not 100 yet: nothing can be applied.
    expect(await page.textContent('#weight-sum')).toBe('Sum 90% (must be 100)');
    expect(await page.isDisabled('#review-weights')).toBe(true);
    await setWeight('scorer/1', 80);
    await setWeight('scorer/2', 20);
    expect(await page.isDisabled('#review-weights')).toBe(false);
    await page.click('#review-weights');
    await page.waitForSelector('dialog#confirm #weight-diff');
    const diff = await page.$$eval('#weight-diff tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(diff).toEqual([
      ['scorer/1', '100%', '80%', '-20'],
      ['scorer/2', '0%', '20%', '+20'],
    ]);
    await shot('routes-diff');
    await page.click('#confirm-ok');
    await page.waitForSelector('#editor:empty', { state: 'attached' });
    await page.locator('[data-route="scorer"] h3').filter({ hasText: `revision ${before.revision + 1}` }).waitFor();
    expect((await scorer()).targets).toEqual([
      { model: 'scorer', version: '1', weight: 80 },
      { model: 'scorer', version: '2', weight: 20 },
    ]);

    // 1,000 new keys: p = 0.2, sd ≈ 12.6; 5 sd either side.
    const servedBy: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => score(`split-${batch * 100 + i}`, i)));
      for (const a of answers) servedBy.push(a.headers.get('x-served-by') ?? `status ${a.status}`);
    }
    const toV2 = servedBy.filter((s) => s === 'scorer/2').length;
    expect(servedBy.filter((s) => s === 'scorer/1').length + toV2).toBe(1000);
    expect(Math.abs(toV2 - 200)).toBeLessThan(63);

    await page.click('#nav-audit');
    const first = await page.$$eval('#audit-table tbody tr:first-child td', (tds) => tds.map((td) => td.textContent));
    expect(first.slice(1, 5)).toEqual(['dana', 'scorer', 'set', String(before.revision + 1)]);
    expect(first[6]).toBe('scorer/1 80%, scorer/2 20%');
    await shot('audit');
  });

  it('shows the live figures and their charts', async () => {
    await page.click('#nav-live');
    // The load has run for seconds: the sampler has rates for scorer/1.
    // A string: this file is compiled without the DOM types.
    await page.waitForFunction(`[...document.querySelectorAll('#live-table tbody tr')].some((r) => r.children[0].textContent === 'scorer/1' && Number(r.children[1].textContent) > 0)`);
    expect(await page.locator('[data-charts="scorer/1"] .uplot').count()).toBe(4);
    // Versions without traffic are listed, not drawn as flat lines.
    expect(await page.textContent('#idle-versions')).toContain('heavy_mlp/1');
    await shot('live');
  });

  it('a stale edit shows the conflict instead of overwriting the change made meanwhile', async () => {
    await page.click('#nav-routes');
    await page.click('[data-route="scorer"] .edit-weights');
    const opened = (await scorer()).revision;
    // Someone else changes the route through the API while the editor is open.
    const meanwhile = [
      { model: 'scorer', version: '1', weight: 70 },
      { model: 'scorer', version: '2', weight: 30 },
    ];
    expect((await admin('PUT', '/admin/routes/scorer', { targets: meanwhile, shadows: [] })).status).toBe(200);
    await setWeight('scorer/1', 50);
    await setWeight('scorer/2', 50);
    await page.click('#review-weights');
    await page.click('#confirm-ok');
    await page.waitForSelector('#editor-message.conflict');
    expect(await page.textContent('#editor-message')).toContain(`at revision ${opened + 1}, not ${opened}`);
    await shot('routes-conflict');
    const now = await scorer();
    expect(now.revision).toBe(opened + 1);
    expect(now.targets).toEqual(meanwhile);
  });

  it('shows a rollout with its verdicts, and pauses and aborts it on confirm', async () => {
    expect((await admin('PUT', '/admin/routes/scorer', { targets: [{ model: 'scorer', version: '1', weight: 100 }], shadows: [] })).status).toBe(200);
    const started = await admin('PUT', '/admin/routes/scorer/rollout', {
      target: { model: 'scorer', version: '2' },
      // Slow enough that the rollout is still running when the page pauses it.
      steps: [5, 25, 50, 100],
      interval_seconds: 2,
      gates: { min_requests: 5 },
    });
    expect(started.status, started.body.toString()).toBe(200);
    await page.click('#nav-rollouts');
    await page.waitForSelector('[data-rollout="scorer"] tbody tr');
    await page.click('[data-rollout="scorer"] button:text("Pause")');
    await page.click('#confirm-ok');
    await page.waitForSelector('[data-rollout="scorer"] .rollout-paused');
    await shot('rollouts');
    await page.click('[data-rollout="scorer"] button:text("Abort")');
    await page.click('#confirm-ok');
    await page.waitForSelector('[data-rollout="scorer"] .rollout-aborted');
    const rollout = (await admin('GET', '/admin/routes/scorer/rollout')).json<{ state: string }>();
    expect(rollout.state).toBe('aborted');
    const trail = (await admin('GET', '/admin/audit')).json<{ entries: { token: string; reason?: string }[] }>().entries;
    // The rollout controller records its events under `rollout:<token name>`.
    const reasons = trail.filter((e) => e.token === 'rollout:dana').map((e) => e.reason);
    expect(reasons.some((r) => r?.includes('paused by dana'))).toBe(true);
    expect(reasons.some((r) => r?.includes('aborted by dana'))).toBe(true);
  });

  it('signs out, after which the API calls fail', async () => {
    const csrf = await page.getAttribute('meta[name="csrf-token"]', 'content');
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in');
    const after = await page.evaluate(async (token) => {
      const state = await fetch('/console/api/state');
      const change = await fetch('/console/api/routes/scorer/rollback', { method: 'POST', headers: { 'x-csrf-token': token ?? '' } });
      return [state.status, change.status];
    }, csrf);
    expect(after).toEqual([401, 401]);
  });

  it('refuses a cross-origin POST that carries the cookie', async () => {
    await page.fill('#token', OPERATOR_TOKEN);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#main section');
    // Another origin on the same host (another port is the same site, so the browser sends the SameSite cookie).
    const evil: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form method="POST" action="${origin}/console/api/routes/scorer/promote"><button id="go">win a prize</button></form>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      const before = await scorer();
      await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      const sent = page.waitForRequest((r) => r.url().endsWith('/console/api/routes/scorer/promote'));
      const answered = page.waitForResponse((r) => r.url().endsWith('/console/api/routes/scorer/promote'));
      await page.click('#go');
      const [request, response] = await Promise.all([sent, answered]);
      expect((await request.allHeaders())['cookie']).toMatch(/brisk_console=/);
      expect(response.status()).toBe(403);
      expect(await scorer()).toEqual(before);
    } finally {
      evil.closeAllConnections();
      await new Promise((resolve) => evil.close(resolve));
    }
  });
});
