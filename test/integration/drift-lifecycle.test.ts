/**
 * A serving version's drift reference changing under it (review of issue 15), against a real
 * server that polls its repository: `brisk drift capture` saving the reference the version
 * already uses must not reload it, and a different drift_reference.json is taken in place.
 * And `brisk drift recapture`: a new captured reference without a reload.
 */
import { execFile } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftReport } from '../../src/drift/drift-report.js';
import type { ReferenceProfile } from '../../src/drift/reference-profile.js';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import { adminClient, TEST_ADMIN_TOKEN } from '../helpers/admin.js';
import { waitFor } from '../helpers/conditions.js';
import { writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;
const WIDTH = 64;
const REFERENCE_ROWS = 40;
const config = { max_batch_size: 64, drift: { enabled: true, reference_rows: REFERENCE_ROWS, min_window_rows: 10, class_scores: ['probabilities'] } };

let server: TestServer;
let repository: string;

beforeAll(async () => {
  repository = writeRepository([
    { entry: tiny, config },
    { entry: tiny, as: 'tiny_recapture', config },
  ]);
  server = await startServer(repository, ['--repository-poll-secs', '0.1'], { ADMIN_TOKEN: TEST_ADMIN_TOKEN });
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const driftUrl = (model: string): string => `${server.url}/v2/models/${model}/versions/1/drift`;
const report = async (model: string): Promise<DriftReport> => (await request(driftUrl(model))).json<DriftReport>();
const reference = async (model: string): Promise<ReferenceProfile> => (await request(`${driftUrl(model)}/reference`)).json<ReferenceProfile>();
const logged = (msg: string, model: string): number => server.logs.filter((l) => l['msg'] === msg && l['model'] === model).length;

/** `rows` rows, each feature spread over [offset − 1, offset + 1). */
async function infer(model: string, rows: number, offset = 0): Promise<void> {
  const data = Array.from({ length: rows * WIDTH }, (_, i) => ((i * 7919) % 101) / 50 - 1 + offset);
  const answer = await postJson(`${server.url}/v2/models/${model}/infer`, { inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, WIDTH], data }] });
  expect(answer.status, answer.body.toString()).toBe(200);
}

const cli = (...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> =>
  promisify(execFile)(process.execPath, [projectFile('dist', 'src', 'cli.js'), ...args], { env: { ...process.env, ADMIN_TOKEN: TEST_ADMIN_TOKEN } }).then(
    ({ stdout, stderr }) => ({ stdout, stderr, code: 0 }),
    (error: { stdout: string; stderr: string; code: number }) => ({ stdout: error.stdout, stderr: error.stderr, code: error.code }),
  );

describe('a drift_reference.json written under a serving version', () => {
  it('that holds the reference in use (brisk drift capture) keeps the version and its window; a different one is taken in place', async () => {
    for (let i = 0; i < REFERENCE_ROWS / 10; i++) await infer('tiny_classifier', 10);
    await waitFor('the reference captured', async () => (await report('tiny_classifier')).state === 'ready');
    await infer('tiny_classifier', 12);
    await waitFor('12 rows in the window', async () => (await report('tiny_classifier')).window_rows === 12);
    const loads = logged('model version ready', 'tiny_classifier');
    const changes = logged('model loaded', 'tiny_classifier');

    const captured = await cli('drift', 'capture', 'tiny_classifier', '1', '--model-repository', repository, '--url', server.url);
    expect(captured.code, captured.stderr).toBe(0);
    expect(captured.stdout).toContain('the version is not reloaded for it');
    // The poller acts on the new file (the load it makes logs 'model loaded' either way).
    await waitFor('the poller to load tiny_classifier again', () => logged('model loaded', 'tiny_classifier') > changes);
    expect(logged('model version ready', 'tiny_classifier')).toBe(loads);
    expect(logged('drift_reference.json holds the reference in use: version kept as it is', 'tiny_classifier')).toBe(1);
    expect((await report('tiny_classifier')).window_rows).toBe(12);

    // A different reference: every reference row of input feature 0 in its lowest bin.
    const file = path.join(repository, 'tiny_classifier', '1', 'drift_reference.json');
    const different = JSON.parse(readFileSync(file, 'utf8')) as ReferenceProfile;
    const feature = different.tensors.find((t) => t.kind === 'input')!.features[0]!;
    feature.counts = feature.counts.map((_, b) => (b === 0 ? REFERENCE_ROWS : 0));
    different.source = 'profiled';
    writeFileSync(`${file}.tmp`, JSON.stringify(different));
    renameSync(`${file}.tmp`, file);
    await waitFor('the new reference in place', () => logged('drift reference replaced from drift_reference.json', 'tiny_classifier') === 1);
    expect(logged('model version ready', 'tiny_classifier')).toBe(loads);
    expect(await reference('tiny_classifier')).toEqual(different);
    // A new window for the new reference: the rows counted against the old one are gone.
    expect((await report('tiny_classifier')).window_rows).toBe(0);
    await infer('tiny_classifier', 12);
    await waitFor('12 rows in the new window', async () => (await report('tiny_classifier')).window_rows === 12);
    const input = (await report('tiny_classifier')).tensors.find((t) => t.kind === 'input')!;
    // Scored against the file: feature 0's rows are spread where its reference has none, far
    // more drift than 12 rows of any other feature can show against the captured bins.
    const [first, ...rest] = input.features.map((f) => f.psi!);
    expect(first).toBeGreaterThan(3 * Math.max(...rest));
  }, 60_000);
});

describe('brisk drift recapture', () => {
  it('drops the reference and the window and captures a new reference from the next rows, with no reload', async () => {
    const model = 'tiny_recapture';
    for (let i = 0; i < REFERENCE_ROWS / 10; i++) await infer(model, 10);
    await waitFor('the first reference', async () => (await report(model)).state === 'ready');
    const first = await reference(model);
    await infer(model, 12);
    await waitFor('12 rows in the window', async () => (await report(model)).window_rows === 12);
    const loads = logged('model version ready', model);

    const recaptureUrl = `/admin/models/${model}/versions/1/drift/recapture`;
    expect((await adminClient(server, 'wrong-token-0123456789')('POST', recaptureUrl)).status).toBe(401);
    expect((await adminClient(server)('POST', `/admin/models/${model}/versions/9/drift/recapture`)).status).toBe(404);
    expect((await report(model)).state).toBe('ready');

    const recaptured = await cli('drift', 'recapture', model, '1', '--admin-url', `http://127.0.0.1:${server.logs.find((l) => l['msg'] === 'serving')!['adminPort'] as number}`);
    expect(recaptured.code, recaptured.stderr).toBe(0);
    expect(recaptured.stdout).toContain('capturing a new reference from the next 40 rows it serves');
    expect(server.logs.find((l) => l['msg'] === 'repository change' && l['action'] === 'drift-recapture')).toMatchObject({ model, version: '1', via: 'admin' });
    expect(await report(model)).toMatchObject({ state: 'capturing', reference_rows: 0, window_rows: 0, tensors: [] });
    expect((await request(`${driftUrl(model)}/reference`)).status).toBe(409);

    // The traffic now: every feature 2 higher. It becomes the reference.
    for (let i = 0; i < REFERENCE_ROWS / 10; i++) await infer(model, 10, 2);
    await waitFor('the new reference', async () => (await report(model)).state === 'ready');
    const second = await reference(model);
    const lowest = (r: ReferenceProfile): number => r.tensors.find((t) => t.kind === 'input')!.features[0]!.edges[0]!;
    expect(lowest(second)).toBeCloseTo(lowest(first) + 2, 5);
    // Its rows are no part of the window; the rows after them are.
    expect((await report(model)).window_rows).toBe(0);
    await infer(model, 12, 2);
    await waitFor('12 rows in the new window', async () => (await report(model)).window_rows === 12);
    expect(logged('model version ready', model)).toBe(loads);

    // Saved to the folder, the file wins: recapturing is refused until it is moved out.
    const saved = await cli('drift', 'capture', model, '1', '--model-repository', repository, '--url', server.url);
    expect(saved.code, saved.stderr).toBe(0);
    const refused = await adminClient(server)('POST', recaptureUrl);
    expect(refused.status).toBe(409);
    expect(refused.json()).toEqual({
      error: `model ${model} version 1 has a drift_reference.json, which wins over a captured reference: move it out of the version folder first`,
    });
    expect((await report(model)).window_rows).toBe(12);
  }, 60_000);
});
