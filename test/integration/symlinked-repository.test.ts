/**
 * Issue 12, item 6, on a real server: a repository made of symbolic links (as a
 * Kubernetes volume mounts it) served nothing, without a word. Its models serve
 * now, and what is passed over is logged with the reason.
 */
import { symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { tempDir, writeRepository } from '../helpers/repository.js';
import { postJson, request, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  const [scorer1, scorer2] = BUNDLED_MODELS.filter((e) => e.model === 'scorer');
  // The files live elsewhere; the repository holds only links to them.
  const files = writeRepository([{ entry: TEST_MODELS.fast }, { entry: scorer1!, config: { version_policy: { all: {} } } }]);
  const versions = writeRepository([{ entry: scorer2! }]);
  symlinkSync(path.join(versions, 'scorer', '2'), path.join(files, 'scorer', '2'));
  const root = tempDir('linked');
  symlinkSync(path.join(files, 'fast'), path.join(root, 'fast'));
  symlinkSync(path.join(files, 'scorer'), path.join(root, 'scorer'));
  symlinkSync(path.join(files, 'gone'), path.join(root, 'gone'));
  server = await startServer(root);
});

afterAll(async () => {
  await server?.stop();
});

describe('a repository of symbolic links', () => {
  it('serves the linked model folders and version folders', async () => {
    const answer = await postJson(`${server.url}/v2/models/fast/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    expect(answer.status).toBe(200);
    const scorer = await request(`${server.url}/v2/models/scorer`);
    expect(scorer.json()['versions']).toEqual(['2', '1']);
  });

  it('logs what it passed over, and why', () => {
    const ignored = server.logs.filter((l) => l['msg'] === 'ignored repository entry').map((l) => l['entry']);
    expect(ignored).toEqual(['gone: a symbolic link that cannot be followed (ENOENT)']);
  });
});
