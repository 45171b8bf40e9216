import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { OPTIONS, serverConfigSchema, type OptionKey, type ServerConfig } from './server-config.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const keys = Object.keys(OPTIONS) as OptionKey[];

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Flags, environment and config file into one validated, frozen configuration. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServerConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        ...Object.fromEntries(keys.flatMap((k) => (OPTIONS[k].flag ? [[OPTIONS[k].flag, { type: 'string' as const }]] : []))),
      },
    });
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const flags = parsed.values as Record<string, string | undefined>;
  const configFile = flags['config'] ?? env['BRISK_CONFIG'];
  const merged: Record<string, unknown> = configFile ? readConfigFile(configFile) : {};
  for (const key of keys) {
    const fromEnv = env[OPTIONS[key].env];
    if (fromEnv !== undefined && fromEnv !== '') merged[key] = fromEnv;
    const flag = OPTIONS[key].flag;
    const fromFlag = flag ? flags[flag] : undefined;
    if (fromFlag !== undefined) merged[key] = fromFlag;
  }
  const result = serverConfigSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path[0] as OptionKey | undefined;
      const option = key ? OPTIONS[key] : undefined;
      const origin = option ? `${key} (${option.flag ? `--${option.flag} / ` : ''}${option.env})` : issue.path.join('.') || 'config';
      return `${origin}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(result.data);
}

export function configHelp(): string {
  return keys
    .map((k) => {
      const o = OPTIONS[k];
      const fallback: unknown = o.schema.parse(undefined);
      const name = o.flag ? `--${o.flag}` : `(env only)`;
      return `  ${name.padEnd(30)} ${o.help} (env ${o.env}${fallback === undefined ? '' : `, default ${JSON.stringify(fallback)}`})`;
    })
    .concat(['  --config FILE        JSON file with any of the settings above, by their camelCase names (env BRISK_CONFIG)'])
    .join('\n');
}
