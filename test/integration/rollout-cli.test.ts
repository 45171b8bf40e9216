/** `brisk routes rollout …` and `rollout-status [--watch]`: the compiled CLI against a real server's admin API. */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/admin/rollout-cli.js';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import { adminClient, TEST_ADMIN_TOKEN } from '../helpers/admin.js';
import { closedLoop } from '../helpers/closed-loop.js';
import { waitFor } from '../helpers/conditions.js';
import { writeRepository } from '../helpers/repository.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let adminUrl: string;
let admin: ReturnType<typeof adminClient>;

beforeAll(async () => {
  const config = { max_batch_size: 64, version_policy: { all: {} } };
  server = await startServer(writeRepository(BUNDLED_MODELS.filter((e) => e.model === 'scorer').map((entry) => ({ entry, config }))), [], { ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  adminUrl = `http://127.0.0.1:${server.logs.find((l) => l['msg'] === 'serving')!['adminPort'] as number}`;
  admin = adminClient(server);
});

afterAll(async () => {
  await server?.stop();
});

const cliArgs = (args: string[]) => [projectFile('dist', 'src', 'cli.js'), 'routes', ...args, '--admin-url', adminUrl];
const cliEnv = () => ({ ...process.env, BRISK_ADMIN_URL: '', ADMIN_TOKEN: TEST_ADMIN_TOKEN });

const brisk = (args: string[]) =>
  promisify(execFile)(process.execPath, cliArgs(args), { env: cliEnv() }).then(
    ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );

/** A CLI process whose output can be read while it runs. */
function briskRunning(args: string[]) {
  const child = spawn(process.execPath, cliArgs(args), { env: cliEnv() });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { stdout: () => stdout, running: () => child.exitCode === null && child.signalCode === null, exited, kill: () => child.kill() };
}

const primaryOnly = { targets: [{ model: 'scorer', version: '1', weight: 100 }] };
const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: Array.from({ length: 32 }, (_, i) => Math.cos(i)) }] });

describe('brisk routes rollout', () => {
  it('starts a rollout with the flags given, and rollout-status --watch shows every verdict live until it ends', async () => {
    expect((await admin('PUT', '/admin/routes/scorer', primaryOnly)).status).toBe(200);
    // The traffic starts only once the watch, another process, shows the rollout: on a loaded
    // machine that is seconds of intervals without enough requests, which must not pause it.
    const started = await brisk(['rollout', 'scorer', '2', '--steps', '5,50', '--interval', '500ms', '--min-requests', '20', '--max-p99-ratio', 'off', '--failure-limit', '3', '--inconclusive-limit', '1000']);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/^scorer {2}progressing {2}step 1 of 2 \(5%\) {2}scorer\/2 against scorer\/1, every 0.5 s$/m);
    const view = (await admin('GET', '/admin/routes/scorer/rollout')).json<{ gates: Record<string, unknown>; failure_limit: number; inconclusive_limit: number; steps: number[] }>();
    expect(view.steps).toEqual([5, 50]);
    expect(view.gates).toMatchObject({ min_requests: 20, max_p99_ratio: null, max_error_rate: 0.01 });
    expect(view.failure_limit).toBe(3);
    expect(view.inconclusive_limit).toBe(1000);
    // Without traffic no interval can pass (fewer than 20 requests), so the rollout cannot end
    // before the watch has shown it in progress: the traffic starts only then. Started the other
    // way round, a watch slow to start on a loaded machine found the rollout already promoted.
    const watch = briskRunning(['rollout-status', 'scorer', '--watch', '--every', '100ms']);
    let watched;
    try {
      await waitFor('the watch to show the rollout', () => /^#\s+step/m.test(watch.stdout()) || !watch.running());
      const traffic = closedLoop(`${server.url}/v2/models/scorer/infer`, body, 4);
      try {
        watched = await watch.exited;
      } finally {
        await traffic.stop();
      }
    } finally {
      watch.kill();
    }
    expect(watched.code, watched.stderr).toBe(0);
    const lines = watched.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^scorer {2}progressing/);
    expect(lines).toContainEqual(expect.stringMatching(/^#\s+step\s+weight\s+verdict\s+canary req\s+errors\s+error rate\s+p99 canary\s+p99 primary\s+shadow \|diff\|\s+why$/));
    // Every judged interval once, in order, each with its figures.
    const rows = lines.filter((l) => /^\d+\s/.test(l));
    expect(rows.map((r) => Number(r.split(/\s+/)[0]))).toEqual(rows.map((_, i) => i + 1));
    expect(rows.filter((r) => /\bpass\b/.test(r)).map((r) => r.split(/\s+/)[2])).toEqual(['5%', '50%']);
    expect(lines).toContainEqual(expect.stringMatching(/→ promoted, step 3 \(100%\)/));
    expect(lines.at(-1)).toBe('scorer: promoted (promoted after interval ' + rows.length + ' passed)');
    const status = await brisk(['rollout-status', 'scorer']);
    expect(status.stdout.split('\n').filter((l) => /^\d+\s/.test(l))).toHaveLength(rows.length);
  }, 60_000);

  it('pauses, resumes and aborts', async () => {
    expect((await admin('PUT', '/admin/routes/held', primaryOnly)).status).toBe(200);
    expect((await brisk(['rollout', 'held', 'scorer/2', '--interval', '1h'])).code).toBe(0);
    const paused = await brisk(['rollout-pause', 'held']);
    expect(paused.stdout).toMatch(/^held {2}paused {2}step 1 of 4 \(5%\)/);
    expect(paused.stdout).toMatch(/paused by ADMIN_TOKEN/);
    expect((await brisk(['rollout-resume', 'held'])).stdout).toMatch(/^held {2}progressing/);
    const aborted = await brisk(['rollout-abort', 'held']);
    expect(aborted.stdout).toMatch(/^held {2}aborted {2}step 1 of 4 \(0%\)/);
    expect((await admin('GET', '/admin/routes/held')).json()['targets']).toEqual(primaryOnly.targets);
    const audit = await brisk(['audit']);
    expect(audit.stdout).toMatch(/rollout:ADMIN_TOKEN {2}rollout held → revision \d+: scorer\/1=95 scorer\/2=5\n {4}rollout of scorer\/2 started by ADMIN_TOKEN/);
    expect(audit.stdout).toMatch(/rollout of scorer\/2 aborted by ADMIN_TOKEN: its weight back to 0/);
    // Six CLI processes, about a second each to start on a loaded 2-core machine.
  }, 60_000);

  it('says what is wrong in one line and exits 2', async () => {
    const [noTarget, badInterval, badGate, noRoute] = await Promise.all([
      brisk(['rollout', 'scorer']),
      brisk(['rollout', 'scorer', '2', '--interval', 'soon']),
      brisk(['rollout', 'scorer', '2', '--max-error-rate', 'lots']),
      brisk(['rollout-status', 'nope']),
    ]);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toMatch(/^brisk: routes rollout needs a target: version or model\/version/);
    expect(badInterval.stderr).toMatch(/^brisk: --interval "soon": expected a duration such as 60s, 5m or 500ms/);
    expect(badGate.stderr).toMatch(/^brisk: --max-error-rate "lots": expected a number or off/);
    expect(noRoute.code).toBe(2);
    expect(noRoute.stderr.trim()).toBe('brisk: 404: no route nope');
  });

  it('reads durations in ms, s, m and h', () => {
    expect([parseDuration('500ms', 'x'), parseDuration('60s', 'x'), parseDuration('1.5m', 'x'), parseDuration('2h', 'x'), parseDuration('30', 'x')]).toEqual([0.5, 60, 90, 7200, 30]);
  });
});
