/** Model repositories for tests, written into temporary folders by the project's own builder. */
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeModel } from '../../src/modelgen/build.js';
import { BUNDLED_MODELS, TEST_MODELS, type CatalogEntry } from '../../src/modelgen/catalog.js';
import { projectFile } from '../../src/project-files.js';

export interface ModelSetup {
  entry: CatalogEntry;
  /** Written as config.json; undefined writes none. */
  config?: Record<string, unknown>;
  /** Serve under another name. */
  as?: string;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `brisk-${prefix}-`));
}

export function writeRepository(models: readonly ModelSetup[]): string {
  const root = tempDir('repo');
  for (const { entry, config, as } of models) {
    const named = { ...entry, model: as ?? entry.model };
    writeModel(root, named);
    if (config) writeFileSync(path.join(root, named.model, 'config.json'), JSON.stringify(config));
  }
  return root;
}

const bundled = (model: string): CatalogEntry[] => BUNDLED_MODELS.filter((e) => e.model === model);

/** A copy of the bundled repository's configs and freshly built models (all but the heavy one, to start fast). */
export function bundledRepository(extra: readonly ModelSetup[] = []): string {
  const root = writeRepository([
    ...['tiny_classifier', 'scorer', 'mixed_types', 'channel_stats'].flatMap((model) =>
      bundled(model).map((entry) => ({ entry })),
    ),
    ...extra,
  ]);
  for (const model of ['tiny_classifier', 'scorer', 'channel_stats']) {
    cpSync(projectFile('models', model, 'config.json'), path.join(root, model, 'config.json'));
  }
  return root;
}

/** Adds a model folder by hand: for broken configs and corrupt files. */
export function addRawModel(root: string, name: string, files: Record<string, string | Uint8Array>): void {
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(root, name, file);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}

export { TEST_MODELS };
