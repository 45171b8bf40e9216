/**
 * What every admin command of the CLI shares: the --admin-url and --token-file flags,
 * the token, and one HTTP call that turns an error answer into a CliError.
 * The address comes from --admin-url or BRISK_ADMIN_URL (default http://127.0.0.1:8002),
 * the token from ADMIN_TOKEN or the first token in --token-file.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake of the person at the terminal, or an error answer: printed as one line, exit status 2. */
export class CliError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Calls the admin API; the parsed JSON answer, or undefined for an empty one. */
export type AdminCall = <T>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<T>;

function token(tokenFile: string | undefined): string {
  if (process.env['ADMIN_TOKEN']) return process.env['ADMIN_TOKEN'];
  if (tokenFile) {
    const line = readFileSync(tokenFile, 'utf8').split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
    if (line) return line.split(/\s+/).at(-1)!;
  }
  throw new CliError('no admin token: set ADMIN_TOKEN or pass --token-file');
}

/** Parses a command's arguments with the shared flags added, and makes the client from them. */
export function adminCommandArgs<O extends Options>(argv: string[], options: O) {
  const parsed = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...options, 'admin-url': { type: 'string' }, 'token-file': { type: 'string' } },
  });
  const values = parsed.values as Record<string, string | boolean | (string | boolean)[] | undefined>;
  const base = (String(values['admin-url'] ?? process.env['BRISK_ADMIN_URL'] ?? 'http://127.0.0.1:8002')).replace(/\/$/, '');
  const tokenFile = values['token-file'];
  // The token is read when the first call is made, so that a usage error is reported first.
  const call: AdminCall = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token(typeof tokenFile === 'string' ? tokenFile : undefined)}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error: string }).error;
      } catch {
        // Not our JSON: show what came back.
      }
      throw new CliError(`${response.status}: ${message}`);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
  return { values: parsed.values, positionals: parsed.positionals, call };
}
