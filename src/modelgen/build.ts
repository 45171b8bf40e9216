/**
 * Writes model.onnx files from the catalog (`brisk models`, `npm run models`).
 * Deterministic: the same code always writes the same bytes.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BUNDLED_MODELS, type CatalogEntry } from './catalog.js';
import { encodeModel } from './onnx-writer.js';

export function modelFilePath(repository: string, entry: Pick<CatalogEntry, 'model' | 'version'>): string {
  return path.join(repository, entry.model, String(entry.version), 'model.onnx');
}

/** Writes one model; returns its path. */
export function writeModel(repository: string, entry: CatalogEntry): string {
  const file = modelFilePath(repository, entry);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, encodeModel(entry.graph()));
  return file;
}

/** Writes the bundled models that are missing (all of them with `force`); returns what it wrote. */
export function buildBundledModels(repository: string, force = false): string[] {
  return BUNDLED_MODELS.filter((entry) => force || !existsSync(modelFilePath(repository, entry))).map((entry) =>
    writeModel(repository, entry),
  );
}

