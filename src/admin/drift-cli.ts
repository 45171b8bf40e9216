/**
 * `brisk drift <subcommand>`: a model version's drift, for people.
 *   brisk drift show tiny_classifier 1 --top 10
 *   brisk drift capture tiny_classifier 1 --model-repository models
 *   brisk drift profile tiny_classifier 1 --input rows.json --model-repository models
 *   brisk drift recapture tiny_classifier 1
 * `show` reads GET /v2/models/{m}[/versions/{v}]/drift on the data port (like stats, no token):
 * --url or BRISK_URL, default http://127.0.0.1:8000. `capture` reads the reference the server
 * captured (GET …/drift/reference) and writes it into the version folder as drift_reference.json;
 * `profile` makes one from a file of rows, with no server (drift-profile.ts). `recapture` asks the
 * admin API (address and token as for every admin command, cli-client.ts) to drop the version's
 * reference and capture a new one. Each subcommand is one entry of SUBCOMMANDS.
 */
import { existsSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { REFERENCE_FILE, REFERENCE_FORMAT } from '../drift/reference-profile.js';
import { checkModelName, checkVersion } from '../models/names.js';
import { adminCommandArgs, CliError } from './cli-client.js';
import { parseDuration } from './rollout-cli.js';

export type Verdict = 'ok' | 'warn' | 'drift' | 'insufficient_data';

/** The endpoint's answer (issue 15); psi and js are null while a feature has too few rows. */
export interface DriftJson {
  model: string;
  version: string;
  reference_rows: number;
  window_rows: number;
  tensors: {
    name: string;
    kind: 'input' | 'output' | 'output_class';
    max_psi: number | null;
    features: { index: number; psi: number | null; js: number | null; verdict: Verdict }[];
  }[];
}

export const DEFAULT_TOP = 20;

const VERDICTS: readonly Verdict[] = ['drift', 'warn', 'ok', 'insufficient_data'];

const figure = (value: number | null): string => (value === null ? '-' : value.toFixed(3));

/**
 * The header and the `top` features with the highest PSI (all when top is Infinity). Features
 * without a PSI go last; ties keep the server's order, so the table is the same run after run.
 */
export function formatDrift(drift: DriftJson, top: number = DEFAULT_TOP): string {
  const features = drift.tensors.flatMap((t) => t.features.map((f) => ({ tensor: t.name, kind: t.kind, ...f })));
  const counts = VERDICTS.map((v) => [v, features.filter((f) => f.verdict === v).length] as const).filter(([, n]) => n > 0);
  const header =
    `${drift.model} ${drift.version}  reference ${drift.reference_rows} rows  window ${drift.window_rows} rows` +
    (counts.length ? `  (${counts.map(([v, n]) => `${n} ${v}`).join(', ')})` : '');
  if (features.length === 0) return `${header}\nno features`;
  const sorted = features
    .map((f, order) => ({ ...f, order }))
    .sort((a, b) => (b.psi ?? -Infinity) - (a.psi ?? -Infinity) || a.order - b.order);
  const shown = sorted.slice(0, top);
  const rows = [['tensor', 'kind', 'index', 'psi', 'js', 'verdict'], ...shown.map((f) => [f.tensor, f.kind, String(f.index), figure(f.psi), figure(f.js), f.verdict])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  // Names left, numbers right, so that the decimal points line up.
  const line = (r: string[]): string =>
    r.map((cell, i) => (i >= 2 && i <= 4 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  const more = sorted.length - shown.length;
  return [header, ...rows.map(line), ...(more > 0 ? [`… ${more} more feature${more === 1 ? '' : 's'} (--top to see more)`] : [])].join('\n');
}

function parseTop(text: string): number {
  if (text === 'all') return Infinity;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--top ${JSON.stringify(text)}: expected a positive whole number or all`);
  return n;
}

/** Enough of the shape to format it; anything else is a server that is not brisk, said so. */
function isDriftJson(value: unknown): value is DriftJson {
  const v = value as DriftJson | null;
  return (
    typeof v === 'object' && v !== null && typeof v.model === 'string' && Array.isArray(v.tensors) &&
    v.tensors.every((t) => typeof t === 'object' && t !== null && typeof t.name === 'string' && Array.isArray(t.features))
  );
}

/** GET on the data port; the answer's text, or a CliError that says what went wrong in one line. */
async function getText(base: string, path: string, timeoutSeconds: number): Promise<string> {
  let response: Response;
  let text: string;
  try {
    // The timeout covers the body too: a server that sends its headers and stalls does not hang us.
    response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(timeoutSeconds * 1000) });
    text = await response.text();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    const why = cause === 'TimeoutError' ? `no answer in ${timeoutSeconds} s` : cause;
    throw new CliError(`cannot reach the server at ${base} (${why}): is it running? Pass --url or set BRISK_URL`);
  }
  if (response.ok) return text;
  let message = text.trim().slice(0, 200) || response.statusText;
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof error === 'string') message = error;
  } catch {
    // Not our JSON (a proxy's page, say): show the start of what came back.
  }
  throw new CliError(`${response.status}: ${message}`);
}

/** The data port's address: --url, else BRISK_URL, else the default REST port on this machine. */
function dataUrl(flag: string | undefined): string {
  const text = flag ?? (process.env['BRISK_URL'] || 'http://127.0.0.1:8000');
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new CliError(`--url ${JSON.stringify(text)}: expected http://host:port`);
  return text.replace(/\/$/, '');
}

interface Subcommand {
  usage: string;
  run(argv: string[]): Promise<string>;
}

/** parseArgs, with an unknown flag reported as a usage error rather than a stack trace. */
function parseCommand<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], usage: string, options: O) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\nusage: ${usage}`);
  }
}

const SHOW_USAGE = 'brisk drift show <model> [version] [--top N|all] [--json] [--url URL] [--timeout 10s]';

async function show(argv: string[]): Promise<string> {
  const { values, positionals } = parseCommand(argv, SHOW_USAGE, {
    url: { type: 'string' },
    top: { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  const [model, version, extra] = positionals;
  if (!model || extra !== undefined) throw new CliError(`usage: ${SHOW_USAGE}`);
  const top = parseTop(values.top ?? String(DEFAULT_TOP));
  const timeout = parseDuration(values.timeout ?? '10s', '--timeout');
  if (timeout <= 0) throw new CliError(`--timeout ${values.timeout}: expected more than 0`);
  const base = dataUrl(values.url);
  // Without a version the server picks the model's ready one, and names it in the answer.
  const path = `/v2/models/${encodeURIComponent(model)}${version === undefined ? '' : `/versions/${encodeURIComponent(version)}`}/drift`;
  const text = await getText(base, path, timeout);
  if (values.json) return text.trimEnd();
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  if (!isDriftJson(answer)) throw new CliError(`${base}${path} did not answer with a drift report: ${text.trim().slice(0, 200)}`);
  return formatDrift(answer, top);
}

/** The version folder a reference goes into; it must exist (the model is served from it). */
function versionFolder(repository: string, model: string, version: string): string {
  try {
    checkModelName(model);
    checkVersion(version);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const folder = path.join(repository, model, version);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new CliError(`${folder} is not a folder: pass the server's --model-repository`);
  return folder;
}

/** Written beside the model under a temporary name and renamed: a server loading it never reads half a file. */
function writeReference(folder: string, text: string): string {
  const file = path.join(folder, REFERENCE_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, file);
  } catch (error) {
    if (existsSync(temporary)) unlinkSync(temporary);
    throw new CliError(`cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return file;
}

const summary = (reference: { reference_rows: number; tensors: { features: unknown[] }[] }): string =>
  `${reference.reference_rows} reference rows, ${reference.tensors.reduce((n, t) => n + t.features.length, 0)} features in ${reference.tensors.length} tensors`;

const CAPTURE_USAGE = 'brisk drift capture <model> <version> [--model-repository DIR] [--url URL] [--timeout 10s]';

async function capture(argv: string[]): Promise<string> {
  const { values, positionals } = parseCommand(argv, CAPTURE_USAGE, {
    url: { type: 'string' },
    'model-repository': { type: 'string' },
    timeout: { type: 'string' },
  });
  const [model, version, extra] = positionals;
  if (!model || !version || extra !== undefined) throw new CliError(`usage: ${CAPTURE_USAGE}`);
  const folder = versionFolder(values['model-repository'] ?? process.env['BRISK_MODEL_REPOSITORY'] ?? './models', model, version);
  const timeout = parseDuration(values.timeout ?? '10s', '--timeout');
  const base = dataUrl(values.url);
  // The server answers 409 until it has captured its reference_rows: nothing is written then.
  const text = await getText(base, `/v2/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/drift/reference`, timeout);
  let reference: { format?: unknown; reference_rows: number; tensors: { features: unknown[] }[] };
  try {
    reference = JSON.parse(text) as typeof reference;
  } catch {
    throw new CliError(`${base} did not answer with a drift reference: ${text.trim().slice(0, 200)}`);
  }
  if (reference?.format !== REFERENCE_FORMAT || !Array.isArray(reference.tensors)) {
    throw new CliError(`${base} did not answer with a drift reference (format ${REFERENCE_FORMAT}): ${text.trim().slice(0, 200)}`);
  }
  const file = writeReference(folder, text);
  return `wrote ${file}: ${summary(reference)}
it is the reference the version already uses: the version is not reloaded for it, and later loads read it from the file`;
}

const PROFILE_USAGE = 'brisk drift profile <model> <version> --input rows.json [--model-repository DIR]';

async function profile(argv: string[]): Promise<string> {
  const { values, positionals } = parseCommand(argv, PROFILE_USAGE, {
    input: { type: 'string' },
    'model-repository': { type: 'string' },
  });
  const [model, version, extra] = positionals;
  if (!model || !version || extra !== undefined || values.input === undefined) throw new CliError(`usage: ${PROFILE_USAGE}`);
  const repository = values['model-repository'] ?? process.env['BRISK_MODEL_REPOSITORY'] ?? './models';
  const folder = versionFolder(repository, model, version);
  // ONNX Runtime is loaded only for this subcommand.
  const { profileFromRows } = await import('./drift-profile.js');
  const reference = await profileFromRows(repository, model, version, values.input);
  const file = writeReference(folder, JSON.stringify(reference));
  return `wrote ${file}: ${summary(reference)}
a serving version takes it in place, without a reload, at its next load (brisk models load ${model}, or the repository poller's next scan)`;
}

const RECAPTURE_USAGE = 'brisk drift recapture <model> <version> [--admin-url URL] [--token-file FILE]';

async function recapture(argv: string[]): Promise<string> {
  let parsed: ReturnType<typeof adminCommandArgs>;
  try {
    parsed = adminCommandArgs(argv, {});
  } catch (error) {
    throw new CliError(`${(error as Error).message}\nusage: ${RECAPTURE_USAGE}`);
  }
  const [model, version, extra] = parsed.positionals;
  if (!model || !version || extra !== undefined) throw new CliError(`usage: ${RECAPTURE_USAGE}`);
  const answer = await parsed.call<{ capture_rows: number }>(
    'POST',
    `/admin/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/drift/recapture`,
  );
  return `${model} ${version}: reference and window dropped; capturing a new reference from the next ${answer.capture_rows} rows it serves
(no drift is scored meanwhile; then brisk drift capture ${model} ${version} keeps it for later loads)`;
}

/** Side by side: a new subcommand is a function above and one entry here. */
const SUBCOMMANDS = new Map<string, Subcommand>([
  ['show', { usage: SHOW_USAGE, run: show }],
  ['capture', { usage: CAPTURE_USAGE, run: capture }],
  ['profile', { usage: PROFILE_USAGE, run: profile }],
  ['recapture', { usage: RECAPTURE_USAGE, run: recapture }],
]);

export const DRIFT_USAGE = `usage: ${[...SUBCOMMANDS.values()].map((s) => s.usage).join('\n       ')}`;

export async function driftCommand(argv: string[]): Promise<string> {
  const [name, ...rest] = argv;
  const subcommand = SUBCOMMANDS.get(name ?? '');
  if (!subcommand) throw new CliError(DRIFT_USAGE);
  return subcommand.run(rest);
}
