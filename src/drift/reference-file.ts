/**
 * Reading drift_reference.json from a version folder. The file is trusted for nothing:
 * its size is bounded before it is read, its shape and bounds are checked by a schema,
 * and it must agree with the model (tensor names, kinds, feature counts) and with itself
 * (edges strictly increasing, one count more than edges, every feature's counts summing
 * to reference_rows). Nothing is allocated from the sizes it claims; any fault is a load
 * error that names the field.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { formatZodError } from '../config/zod-errors.js';
import { readRegularFile } from '../models/regular-file.js';
import { MAX_FEATURES, type ProfiledTensor } from './profiled-tensors.js';
import { REFERENCE_FILE, REFERENCE_FORMAT, type ReferenceProfile } from './reference-profile.js';

/** heavy_mlp's reference is about 300 kB; this bound only stops a mistaken or hostile file. */
export const MAX_REFERENCE_BYTES = 64 * 1024 * 1024;
/** Quantile edges are at most 2 × (bins − 1) with bins ≤ 100; categories at most 33. */
const MAX_EDGES = 256;
const MAX_TENSORS = 256;

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const schema = z
  .object({
    format: z.literal(REFERENCE_FORMAT),
    model: z.string().max(256),
    version: z.string().max(32),
    source: z.enum(['captured', 'profiled']),
    bins: z.number().int().min(2).max(100),
    reference_rows: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    tensors: z
      .array(
        z
          .object({
            name: z.string().min(1).max(256),
            kind: z.enum(['input', 'output', 'output_class']),
            features: z
              .array(
                z
                  .object({
                    edges: z.array(z.number()).max(MAX_EDGES),
                    counts: z.array(count).min(1).max(MAX_FEATURES),
                  })
                  .strict(),
              )
              .min(1)
              .max(MAX_FEATURES),
          })
          .strict(),
      )
      .max(MAX_TENSORS),
  })
  .strict();

/** Checks a parsed file against the model; throws naming the first fault. */
function checkAgainstModel(profile: ReferenceProfile, profiled: readonly ProfiledTensor[]): void {
  const seen = new Set<string>();
  for (const [i, t] of profile.tensors.entries()) {
    const where = `tensors.${i} (${t.kind} ${t.name})`;
    const key = `${t.kind}:${t.name}`;
    if (seen.has(key)) throw new Error(`${where}: listed twice`);
    seen.add(key);
    const spec = profiled.find((p) => p.name === t.name && p.kind === t.kind);
    if (!spec) throw new Error(`${where}: the model has no such ${t.kind === 'output_class' ? 'class_scores output' : t.kind} that drift profiles`);
    const expected = t.kind === 'output_class' ? 1 : spec.width;
    if (t.features.length !== expected) throw new Error(`${where}: ${t.features.length} features, the model has ${expected}`);
    for (const [f, feature] of t.features.entries()) {
      const at = `${where} features.${f}`;
      if (t.kind === 'output_class') {
        if (feature.edges.length !== 0) throw new Error(`${at}: an output_class feature has no edges`);
        if (feature.counts.length !== spec.width) throw new Error(`${at}: ${feature.counts.length} class counts, the output has ${spec.width} classes`);
      } else if (feature.counts.length !== feature.edges.length + 1) {
        throw new Error(`${at}: ${feature.counts.length} counts for ${feature.edges.length} edges (needs one more count than edges)`);
      }
      for (let e = 0; e < feature.edges.length; e++) {
        const edge = feature.edges[e]!;
        if (!Number.isFinite(edge)) throw new Error(`${at}: edge ${e} is not a finite number`);
        if (e > 0 && !(edge > feature.edges[e - 1]!)) throw new Error(`${at}: edges must be strictly increasing (edge ${e})`);
      }
      let sum = 0;
      for (const c of feature.counts) sum += c;
      if (sum !== profile.reference_rows) throw new Error(`${at}: counts sum to ${sum}, not reference_rows ${profile.reference_rows}`);
    }
  }
}

/** A reference profile from a file's text, checked against the model's profiled tensors. */
export function parseReference(text: string, profiled: readonly ProfiledTensor[]): ReferenceProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`${REFERENCE_FILE}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`${REFERENCE_FILE}: ${formatZodError(parsed.error)}`);
  const profile = parsed.data as ReferenceProfile;
  try {
    checkAgainstModel(profile, profiled);
  } catch (error) {
    throw new Error(`${REFERENCE_FILE}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (profile.tensors.length === 0) throw new Error(`${REFERENCE_FILE}: lists no tensors`);
  return profile;
}

/** The reference in a version folder, or undefined when it has none. */
export function readReferenceFile(versionDir: string, profiled: readonly ProfiledTensor[]): ReferenceProfile | undefined {
  const file = path.join(versionDir, REFERENCE_FILE);
  if (!existsSync(file)) return undefined;
  return parseReference(readRegularFile(file, MAX_REFERENCE_BYTES, REFERENCE_FILE).toString('utf8'), profiled);
}

/** What a usable reference leaves out, or names differently from the version it is loaded for. */
export interface ReferenceMismatch {
  /** Profiled tensors it has no counts for (`kind name`): their drift is not scored. */
  missing: string[];
  /** Its `model` and `version` fields where they name another model or version. */
  mismatched: string[];
}

/**
 * Not refused: a reference for some tensors still scores those, and one copied from another
 * version may be meant. But either is more often a mistake (a file from the wrong folder, an
 * old profile), so the load says so. Undefined when it all matches.
 */
export function referenceMismatch(profile: ReferenceProfile, profiled: readonly ProfiledTensor[], model: string, version: string): ReferenceMismatch | undefined {
  const missing = profiled.filter((p) => !profile.tensors.some((t) => t.name === p.name && t.kind === p.kind)).map((p) => `${p.kind} ${p.name}`);
  const mismatched = [
    ...(profile.model === model ? [] : [`model ${JSON.stringify(profile.model)}, not ${JSON.stringify(model)}`]),
    ...(profile.version === version ? [] : [`version ${JSON.stringify(profile.version)}, not ${JSON.stringify(version)}`]),
  ];
  return missing.length || mismatched.length ? { missing, mismatched } : undefined;
}
