/**
 * Issue 12, item 6: symbolic links to model folders and version folders were
 * silently skipped (`Dirent.isDirectory()` is false for a link), although
 * Kubernetes volumes and many Triton repositories are made of links. They are
 * followed now; what is passed over is listed with the reason; the names checked
 * are still the links' own.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { discoverModel, discoverRepository, MODEL_FILE } from '../../src/models/repository.js';
import { tempDir } from '../helpers/repository.js';

let root: string;
let elsewhere: string;

/** A version folder holding a model file, under `base`. */
function versionFolder(base: string, ...parts: string[]): string {
  const dir = path.join(base, ...parts);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, MODEL_FILE), 'model');
  return dir;
}

beforeEach(() => {
  root = tempDir('repo');
  elsewhere = tempDir('elsewhere');
});

describe('repository discovery', () => {
  it('follows links to model folders and to version folders', () => {
    versionFolder(root, 'plain', '1');
    // A Kubernetes volume: each entry is a link through `..data` to a timestamped folder.
    versionFolder(root, '..2024_01_01_00_00_00.1', 'mounted', '1');
    symlinkSync('..2024_01_01_00_00_00.1', path.join(root, '..data'));
    symlinkSync(path.join('..data', 'mounted'), path.join(root, 'mounted'));
    // A model folder elsewhere, and a version of `plain` linked in from elsewhere.
    versionFolder(elsewhere, 'linked', '3');
    symlinkSync(path.join(elsewhere, 'linked'), path.join(root, 'linked'));
    symlinkSync(versionFolder(elsewhere, 'v2'), path.join(root, 'plain', '2'));

    const { models } = discoverRepository(root);
    expect(models.map((m) => [m.name, m.versions.map((v) => v.version), m.problem])).toEqual([
      ['linked', [3], undefined],
      ['mounted', [1], undefined],
      // The default policy serves the newest version: the linked one.
      ['plain', [2], undefined],
    ]);
    expect(models.find((m) => m.name === 'plain')!.versions[0]!.modelPath).toBe(path.join(root, 'plain', '2', MODEL_FILE));
  });

  it("checks the links' own names, and lists what it passes over with the reason", () => {
    versionFolder(elsewhere, 'good', '1');
    symlinkSync(path.join(elsewhere, 'good'), path.join(root, 'bad..name'));
    symlinkSync(path.join(elsewhere, 'good'), path.join(root, 'has space'));
    symlinkSync(path.join(elsewhere, 'nothing-here'), path.join(root, 'dangling'));
    symlinkSync('loop', path.join(root, 'loop'));
    versionFolder(root, 'model', '1');
    symlinkSync(path.join(elsewhere, 'good', '1'), path.join(root, 'model', 'latest'));
    symlinkSync(path.join(elsewhere, 'gone'), path.join(root, 'model', '4'));
    mkdirSync(path.join(root, 'model', '5'));
    // Files, and links to files, are not folders: passed over without a word.
    writeFileSync(path.join(root, 'routes.json'), '{}');
    symlinkSync(path.join(root, 'routes.json'), path.join(root, 'README'));

    const { models, ignored } = discoverRepository(root);
    expect(models.map((m) => m.name)).toEqual(['model']);
    expect(ignored.sort()).toEqual([
      'bad..name: not a valid model name',
      'dangling: a symbolic link that cannot be followed (ENOENT)',
      'has space: not a valid model name',
      'loop: a symbolic link that cannot be followed (ELOOP)',
      'model/4: a symbolic link that cannot be followed (ENOENT)',
      `model/5: holds no ${MODEL_FILE}`,
      'model/latest: not a version folder (versions are positive integers)',
    ]);
  });

  it('lists what a load of one model passes over', () => {
    versionFolder(root, 'model', '1');
    mkdirSync(path.join(root, 'model', 'warmup'));
    symlinkSync(versionFolder(elsewhere, '2'), path.join(root, 'model', '2'));
    const model = discoverModel(root, 'model')!;
    expect(model.versions.map((v) => v.version)).toEqual([2]);
    expect(model.ignored).toEqual(['model/warmup: not a version folder (versions are positive integers)']);
  });
});
