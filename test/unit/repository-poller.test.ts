import { appendFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { RepositoryPoller } from '../../src/models/repository-poller.js';
import { createLogger } from '../../src/observability/logger.js';
import { tempDir } from '../helpers/repository.js';

let root: string;
let calls: string[];
let poller: RepositoryPoller;

const control = {
  load: async (name: string) => void calls.push(`load ${name}`),
  unload: async (name: string) => void calls.push(`unload ${name}`),
};

/** A scan, and what it did. */
async function scan(): Promise<string[]> {
  calls = [];
  await poller.scan();
  return calls;
}

beforeEach(() => {
  root = tempDir('poll');
  mkdirSync(path.join(root, 'kept', '1'), { recursive: true });
  writeFileSync(path.join(root, 'kept', '1', 'model.onnx'), 'model');
  calls = [];
  poller = new RepositoryPoller(root, control, 1000, createLogger('silent'));
});

describe('RepositoryPoller', () => {
  it('does nothing while nothing changes', async () => {
    expect(await scan()).toEqual([]);
    expect(await scan()).toEqual([]);
  });

  it('loads a new model only once its files held still for two scans', async () => {
    mkdirSync(path.join(root, 'fresh', '1'), { recursive: true });
    writeFileSync(path.join(root, 'fresh', '1', 'model.onnx'), 'half');
    expect(await scan()).toEqual([]);
    // Still being written: its size changed since the last scan.
    appendFileSync(path.join(root, 'fresh', '1', 'model.onnx'), ' and the rest');
    expect(await scan()).toEqual([]);
    expect(await scan()).toEqual(['load fresh']);
    expect(await scan()).toEqual([]);
  });

  it('reloads a model whose config changed, and one that gained a version', async () => {
    writeFileSync(path.join(root, 'kept', 'config.json'), '{"instances": 2}');
    expect(await scan()).toEqual([]);
    expect(await scan()).toEqual(['load kept']);
    mkdirSync(path.join(root, 'kept', '2'));
    writeFileSync(path.join(root, 'kept', '2', 'model.onnx'), 'model 2');
    expect(await scan()).toEqual([]);
    expect(await scan()).toEqual(['load kept']);
  });

  it('unloads a model whose folder is gone, once it stays gone', async () => {
    rmSync(path.join(root, 'kept'), { recursive: true });
    expect(await scan()).toEqual([]);
    expect(await scan()).toEqual(['unload kept']);
    expect(await scan()).toEqual([]);
  });

  it('does not retry a failed change until the files change again', async () => {
    const failing = {
      load: async (name: string) => {
        calls.push(`load ${name}`);
        throw new Error('bad model');
      },
      unload: control.unload,
    };
    poller = new RepositoryPoller(root, failing, 1000, createLogger('silent'));
    writeFileSync(path.join(root, 'kept', '1', 'model.onnx'), 'broken');
    expect(await scan()).toEqual([]);
    expect(await scan()).toEqual(['load kept']);
    expect(await scan()).toEqual([]);
  });

  it('sees a symlinked model file re-pointed to another file of the same size', async () => {
    writeFileSync(path.join(root, 'a.onnx'), 'model A');
    writeFileSync(path.join(root, 'b.onnx'), 'model B');
    mkdirSync(path.join(root, 'linked', '1'), { recursive: true });
    symlinkSync(path.join(root, 'a.onnx'), path.join(root, 'linked', '1', 'model.onnx'));
    expect(await scan()).toEqual([]);
    expect(await scan()).toEqual(['load linked']);
    rmSync(path.join(root, 'linked', '1', 'model.onnx'));
    symlinkSync(path.join(root, 'b.onnx'), path.join(root, 'linked', '1', 'model.onnx'));
    expect(await scan()).toEqual([]);
    expect(await scan()).toEqual(['load linked']);
  });

  it('keeps watching a model folder that holds a dangling link, without taking it for removed', async () => {
    symlinkSync(path.join(root, 'nowhere'), path.join(root, 'kept', 'broken-link'));
    expect(await scan()).toEqual([]);
    expect(await scan()).toEqual(['load kept']);
    expect(await scan()).toEqual([]);
    writeFileSync(path.join(root, 'kept', 'config.json'), '{"instances": 2}');
    expect(await scan()).toEqual([]);
    expect(await scan()).toEqual(['load kept']);
  });
});
