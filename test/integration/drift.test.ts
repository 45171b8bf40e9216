/**
 * Drift against a real server (issue 15): the bundled tiny classifier (64 inputs, 10
 * softmax classes) with drift on and small row counts. Reference traffic draws every
 * feature from N(0, 1); then features 0–7 move by +3σ and the rest do not. Also: a
 * version whose reference was written by `brisk drift profile`, one with a malformed
 * drift_reference.json, one without drift, and the CLI end to end.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftReport } from '../../src/drift/drift-report.js';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';
import { waitFor } from '../helpers/conditions.js';
import { addRawModel, tempDir, writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

const tiny = BUNDLED_MODELS.find((e) => e.model === 'tiny_classifier')!;
const WIDTH = 64;
const REFERENCE_ROWS = 1000;
const MIN_WINDOW_ROWS = 1000;
const drift = (extra: Record<string, unknown> = {}) => ({
  max_batch_size: 256,
  drift: { enabled: true, reference_rows: REFERENCE_ROWS, min_window_rows: MIN_WINDOW_ROWS, class_scores: ['probabilities'], ...extra },
});

/** A seeded N(0, 1) source (mulberry32 and Box–Muller): the same rows every run. */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() || 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

/** Rows of WIDTH features from N(0, 1), features below `shifted` moved by +3σ. */
function rows(count: number, random: () => number, shifted = 0): number[] {
  const data = new Array<number>(count * WIDTH);
  for (let i = 0; i < data.length; i++) data[i] = Math.fround(random() + (i % WIDTH < shifted ? 3 : 0));
  return data;
}

async function send(server: TestServer, model: string, data: number[], perRequest = 100): Promise<void> {
  const total = data.length / WIDTH;
  const requests = [];
  for (let start = 0; start < total; start += perRequest) {
    const n = Math.min(perRequest, total - start);
    requests.push(
      postJson(`${server.url}/v2/models/${model}/infer`, {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [n, WIDTH], data: data.slice(start * WIDTH, (start + n) * WIDTH) }],
      }).then((answer) => expect(answer.status, answer.body.toString()).toBe(200)),
    );
  }
  await Promise.all(requests);
}

const report = async (server: TestServer, model: string, version = '1'): Promise<DriftReport> => {
  const answer = await request(`${server.url}/v2/models/${model}/versions/${version}/drift`);
  expect(answer.status, answer.body.toString()).toBe(200);
  return answer.json<DriftReport>();
};

const cli = (...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> =>
  promisify(execFile)(process.execPath, [projectFile('dist', 'src', 'cli.js'), 'drift', ...args]).then(
    ({ stdout, stderr }) => ({ stdout, stderr, code: 0 }),
    (error: { stdout: string; stderr: string; code: number }) => ({ stdout: error.stdout, stderr: error.stderr, code: error.code }),
  );

let repository: string;
let server: TestServer;
const random = normals(15);
/** The rows `brisk drift profile` made tiny_profiled's reference from. */
const profileRows = tempDir('drift-rows');

beforeAll(async () => {
  repository = writeRepository([
    { entry: tiny, config: drift() },
    { entry: tiny, as: 'tiny_profiled', config: drift() },
    { entry: tiny, as: 'tiny_bad', config: drift() },
    { entry: tiny, as: 'tiny_off', config: { max_batch_size: 256 } },
  ]);
  // tiny_profiled gets its reference from a file of rows, through the real CLI, before the server starts.
  const file = path.join(profileRows, 'rows.json');
  const data = rows(1500, normals(7));
  writeFileSync(file, JSON.stringify({ inputs: { input: Array.from({ length: 1500 }, (_, r) => data.slice(r * WIDTH, (r + 1) * WIDTH)) } }));
  const profiled = await cli('profile', 'tiny_profiled', '1', '--input', file, '--model-repository', repository);
  expect(profiled.code, profiled.stderr).toBe(0);
  expect(profiled.stdout).toContain('1500 reference rows, 75 features in 3 tensors');
  // A hostile reference: edges out of order and a size claim nothing is allocated for.
  addRawModel(repository, 'tiny_bad', {
    '1/drift_reference.json': JSON.stringify({
      format: 'brisk-drift-reference/1', model: 'tiny_bad', version: '1', source: 'captured', bins: 10, reference_rows: 1e15,
      tensors: [{ name: 'input', kind: 'input', features: [{ edges: [2, 1], counts: [1, 2, 3] }] }],
    }),
  });
  server = await startServer(repository);
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('drift of a captured reference', () => {
  it('captures the first rows served, then says insufficient_data, then drift on the shifted features only', async () => {
    const capturing = await report(server, 'tiny_classifier');
    expect(capturing).toMatchObject({ model: 'tiny_classifier', version: '1', state: 'capturing', reference_rows: 0, window_rows: 0, tensors: [] });
    expect((await request(`${server.url}/v2/models/tiny_classifier/versions/1/drift/reference`)).status).toBe(409);
    const refused = await cli('capture', 'tiny_classifier', '1', '--model-repository', repository, '--url', server.url);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/409: model tiny_classifier version 1 has no drift reference yet: \d+ of 1000 rows captured/);

    await send(server, 'tiny_classifier', rows(REFERENCE_ROWS, random));
    await waitFor('the reference', async () => (await report(server, 'tiny_classifier')).state === 'ready');

    // Fewer rows than min_window_rows: no verdict on any feature.
    await send(server, 'tiny_classifier', rows(400, random));
    await waitFor('400 rows in the window', async () => (await report(server, 'tiny_classifier')).window_rows === 400);
    const small = await report(server, 'tiny_classifier');
    expect(small.reference_rows).toBe(REFERENCE_ROWS);
    expect(small.tensors.map((t) => [t.name, t.kind, t.features.length])).toEqual([
      ['input', 'input', 64],
      ['probabilities', 'output', 10],
      ['probabilities', 'output_class', 1],
    ]);
    for (const t of small.tensors) {
      expect(t.max_psi).toBeNull();
      for (const f of t.features) expect(f).toMatchObject({ psi: null, js: null, verdict: 'insufficient_data' });
    }

    // Features 0–7 at +3σ, the rest as before.
    await send(server, 'tiny_classifier', rows(1600, random, 8));
    await waitFor('2000 rows in the window', async () => (await report(server, 'tiny_classifier')).window_rows === 2000);
    const shifted = await report(server, 'tiny_classifier');
    const input = shifted.tensors.find((t) => t.kind === 'input')!;
    for (const f of input.features.slice(0, 8)) expect(f.verdict, `feature ${f.index} psi ${f.psi}`).toBe('drift');
    for (const f of input.features.slice(8)) expect(f.verdict, `feature ${f.index} psi ${f.psi}`).toBe('ok');
    expect(input.max_psi).toBe(Math.max(...input.features.map((f) => f.psi!)));
    for (const f of input.features.slice(0, 8)) expect(f.js!).toBeGreaterThan(0.3);
    // The shifted inputs push other classes: the argmax distribution moves.
    const classes = shifted.tensors.find((t) => t.kind === 'output_class')!;
    expect(classes.features[0]!.psi!).toBeGreaterThanOrEqual(0.25);

    // The same without a version: the model's ready version.
    const unversioned = await request(`${server.url}/v2/models/tiny_classifier/drift`);
    expect(unversioned.json<DriftReport>().window_rows).toBe(2000);

    // brisk drift show, against the real server: the shifted features first.
    const shown = await cli('show', 'tiny_classifier', '1', '--url', server.url, '--top', '10');
    expect(shown.code, shown.stderr).toBe(0);
    const lines = shown.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^tiny_classifier 1 {2}reference 1000 rows {2}window 2000 rows/);
    const top = lines.slice(2, 10).map((l) => l.split(/\s+/));
    expect(top.filter((cells) => cells[0] === 'input' && Number(cells[2]) < 8 && cells[5] === 'drift').length).toBeGreaterThanOrEqual(7);

    // brisk drift capture writes what the server captured into the version folder.
    const captured = await cli('capture', 'tiny_classifier', '1', '--model-repository', repository, '--url', server.url);
    expect(captured.code, captured.stderr).toBe(0);
    expect(captured.stdout).toContain('1000 reference rows, 75 features in 3 tensors');
    const file = JSON.parse(readFileSync(path.join(repository, 'tiny_classifier', '1', 'drift_reference.json'), 'utf8')) as Record<string, unknown>;
    const served = (await request(`${server.url}/v2/models/tiny_classifier/versions/1/drift/reference`)).json();
    expect(file).toEqual(served);
    expect(file).toMatchObject({ format: 'brisk-drift-reference/1', source: 'captured', reference_rows: 1000, bins: 10 });
  }, 60_000);

  it('puts no per-feature labels on /metrics', async () => {
    await waitFor('drift gauges', async () => (await request(`${server.url}/metrics`)).body.toString().includes('brisk_drift_max_psi{'));
    const text = (await request(`${server.url}/metrics`)).body.toString();
    const series = text.split('\n').filter((line) => line.startsWith('brisk_drift_'));
    for (const line of series) {
      const labels = [...line.matchAll(/(\w+)="/g)].map((m) => m[1]!);
      expect(labels.every((l) => ['model', 'version', 'tensor', 'kind', 'verdict'].includes(l)), line).toBe(true);
    }
    // Per version: 3 tensors × (max_psi + 4 verdicts) + window rows; tiny_profiled too.
    expect(series.length).toBeLessThanOrEqual(2 * (3 * 5 + 1));
    expect(series).toContain('brisk_drift_features{model="tiny_classifier",version="1",tensor="input",kind="input",verdict="drift"} 8');
    expect(series).toContain('brisk_drift_window_rows{model="tiny_classifier",version="1"} 2000');
    expect(series.some((l) => /^brisk_drift_max_psi\{model="tiny_classifier",version="1",tensor="input",kind="input"\} \d/.test(l))).toBe(true);
  });
});

describe('drift with a drift_reference.json', () => {
  it('uses the file from the start, and its rows are no part of the window', async () => {
    const loaded = await report(server, 'tiny_profiled');
    expect(loaded).toMatchObject({ state: 'ready', reference_rows: 1500, window_rows: 0 });
    const reference = (await request(`${server.url}/v2/models/tiny_profiled/versions/1/drift/reference`)).json();
    expect(reference).toMatchObject({ source: 'profiled', reference_rows: 1500 });
    await send(server, 'tiny_profiled', rows(1000, normals(99), 8));
    await waitFor('1000 rows in the window', async () => (await report(server, 'tiny_profiled')).window_rows === 1000);
    const input = (await report(server, 'tiny_profiled')).tensors.find((t) => t.kind === 'input')!;
    expect(input.features.slice(0, 8).map((f) => f.verdict)).toEqual(Array(8).fill('drift'));
    expect(input.features.slice(8).every((f) => f.verdict === 'ok')).toBe(true);
  });

  it('refuses a malformed file at load with a clear reason, and serves the other models', async () => {
    const index = await postJson(`${server.url}/v2/repository/index`, {});
    const bad = index.json<{ name: string; state: string; reason?: string }[]>().find((e) => e.name === 'tiny_bad')!;
    expect(bad.state).toBe('UNAVAILABLE');
    expect(bad.reason).toMatch(/drift_reference.json: tensors.0 \(input input\): 1 features, the model has 64/);
    expect((await request(`${server.url}/v2/models/tiny_bad/versions/1/drift`)).status).toBe(503);
  });
});

describe('drift endpoint answers', () => {
  it('409 for a version without drift, 404 for an unknown model or version', async () => {
    const off = await request(`${server.url}/v2/models/tiny_off/versions/1/drift`);
    expect(off.status).toBe(409);
    expect(off.json()).toEqual({ error: 'drift is off for model tiny_off version 1: set "drift": {"enabled": true} in its config.json' });
    expect((await request(`${server.url}/v2/models/nope/versions/1/drift`)).status).toBe(404);
    expect((await request(`${server.url}/v2/models/tiny_classifier/versions/9/drift`)).status).toBe(404);
    const shown = await cli('show', 'tiny_off', '--url', server.url);
    expect(shown.code).toBe(2);
    expect(shown.stderr).toContain('409: drift is off for model tiny_off version 1');
  });
});
