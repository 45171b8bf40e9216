/**
 * Discovery of a model repository in Triton's layout:
 * `<repository>/<model>/<version>/model.onnx` with `config.json` beside the
 * version folders. Symbolic links to folders are followed (Kubernetes volumes and
 * many Triton repositories are links), but the names checked are the links' own.
 * Folders that are not identifiers or not positive integers are passed over and
 * listed with the reason, for the log; a broken config marks that model alone as
 * unavailable.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { formatZodError } from '../config/zod-errors.js';
import { readRegularFile } from './regular-file.js';
import { modelConfigFileSchema, type ModelConfigFile, type VersionPolicy } from './model-config.js';
import { isModelName, isVersion } from './names.js';

export const CONFIG_FILE = 'config.json';
export const MODEL_FILE = 'model.onnx';
/** Also named in drift/reference-profile.ts; kept here so discovery imports nothing of drift. */
const DRIFT_REFERENCE_FILE = 'drift_reference.json';
/** A config.json is a few hundred bytes; this bound only stops a mistaken or hostile one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export interface DiscoveredVersion {
  version: number;
  modelPath: string;
  /** Set when the version policy names a version that has no model file. */
  problem?: string;
}

export interface DiscoveredModel {
  name: string;
  /** Absent when the model has no config file: everything is derived from the model. */
  config?: ModelConfigFile;
  versions: DiscoveredVersion[];
  /** Set when the model cannot be served at all (broken config, no versions). */
  problem?: string;
  /** Entries of its folder passed over, with the reason, for the log. */
  ignored: string[];
}

export interface Discovery {
  models: DiscoveredModel[];
  /** Entries passed over, with the reason, for the log. */
  ignored: string[];
}

/** The model's config from its file, or from `text` given in its place (a load with a config). */
function readConfig(name: string, file: string, text?: string): { config?: ModelConfigFile; problem?: string } {
  if (text === undefined && !existsSync(file)) return {};
  const where = text === undefined ? `${name}/${CONFIG_FILE}` : `the config given for ${name}`;
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? readRegularFile(file, MAX_CONFIG_BYTES, CONFIG_FILE).toString('utf8'));
  } catch (error) {
    return { problem: `${where}: not valid JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  const parsed = modelConfigFileSchema.safeParse(raw);
  return parsed.success ? { config: parsed.data } : { problem: `${where}: ${formatZodError(parsed.error)}` };
}

/** The versions a policy serves out of those present. */
export function applyVersionPolicy(policy: VersionPolicy, present: readonly number[]): { serve: number[]; missing: number[] } {
  const sorted = [...present].sort((a, b) => b - a);
  if ('all' in policy) return { serve: sorted, missing: [] };
  if ('latest' in policy) return { serve: sorted.slice(0, policy.latest.num_versions), missing: [] };
  const wanted = [...new Set(policy.specific.versions)].sort((a, b) => b - a);
  return { serve: wanted.filter((v) => present.includes(v)), missing: wanted.filter((v) => !present.includes(v)) };
}

/**
 * The names of a folder's subfolders, links to folders included, sorted. Files are
 * passed over quietly (config.json, routes.json, labels); a link that cannot be
 * followed is listed in `ignored` as `<shown><name>: why`.
 */
function subfolders(dir: string, shown: string, ignored: string[]): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) names.push(entry.name);
    if (!entry.isSymbolicLink()) continue;
    try {
      if (statSync(path.join(dir, entry.name)).isDirectory()) names.push(entry.name);
    } catch (error) {
      ignored.push(`${shown}${entry.name}: a symbolic link that cannot be followed (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  return names.sort((a, b) => a.localeCompare(b));
}

/** One model's folder, or undefined when the repository has none by that name. */
export function discoverModel(root: string, name: string, configText?: string): DiscoveredModel | undefined {
  const dir = path.join(root, name);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return undefined;
  const { config, problem } = readConfig(name, path.join(dir, CONFIG_FILE), configText);
  const ignored: string[] = [];
  const present: number[] = [];
  for (const folder of subfolders(dir, `${name}/`, ignored)) {
    if (!isVersion(folder)) ignored.push(`${name}/${folder}: not a version folder (versions are positive integers)`);
    else if (!existsSync(path.join(dir, folder, MODEL_FILE))) ignored.push(`${name}/${folder}: holds no ${MODEL_FILE}`);
    else present.push(Number(folder));
  }
  const policy = config?.version_policy ?? { latest: { num_versions: 1 } };
  const { serve, missing } = applyVersionPolicy(policy, present);
  const versions: DiscoveredVersion[] = [
    ...serve.map((version) => ({ version, modelPath: path.join(dir, String(version), MODEL_FILE) })),
    ...missing.map((version) => ({
      version,
      modelPath: path.join(dir, String(version), MODEL_FILE),
      problem: `${name}/${version}/${MODEL_FILE} does not exist, but version_policy names version ${version}`,
    })),
  ];
  if (problem) return { name, versions, problem, ignored };
  if (versions.length === 0) return { name, versions, problem: `${name} has no version folder holding ${MODEL_FILE}`, ignored };
  return config ? { name, config, versions, ignored } : { name, versions, ignored };
}

export function discoverRepository(root: string): Discovery {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new Error(`model repository ${root} is not a directory`);
  }
  const models: DiscoveredModel[] = [];
  const ignored: string[] = [];
  for (const name of subfolders(root, '', ignored)) {
    if (!isModelName(name)) {
      ignored.push(`${name}: not a valid model name`);
      continue;
    }
    const model = discoverModel(root, name);
    if (!model) continue;
    models.push(model);
    ignored.push(...model.ignored);
  }
  return { models, ignored };
}

/**
 * What a version was loaded from: its effective config and its model file's size,
 * modification time and inode (`served`), and the same of its drift_reference.json
 * (`reference`). A load keeps a serving version whose fingerprint has not changed; one whose
 * reference file alone changed is kept too, and takes the file's reference in place.
 */
export interface VersionFingerprint {
  served: string;
  reference: string;
}

export function fingerprintVersion(model: DiscoveredModel, version: DiscoveredVersion): VersionFingerprint {
  let file = 'missing';
  try {
    const stat = statSync(version.modelPath);
    file = `${stat.size}:${stat.mtimeMs}:${stat.ino}`;
  } catch {
    // A file that vanished loads as a failure with its own reason.
  }
  // A drift reference written beside the model (brisk drift capture) is picked up by the next load.
  let reference = 'none';
  try {
    const stat = statSync(path.join(path.dirname(version.modelPath), DRIFT_REFERENCE_FILE));
    reference = `${stat.size}:${stat.mtimeMs}:${stat.ino}`;
  } catch {
    // No reference file: captured from traffic, if drift is on.
  }
  // The version policy decides which versions serve, not how: changing it reloads none.
  const { version_policy: _policy, ...config } = model.config ?? {};
  return { served: `${JSON.stringify(config)}|${file}`, reference };
}
