/**
 * `brisk models list|load|unload`: the model repository through the admin API.
 *   brisk models load tiny_classifier --config tiny.json
 * Address and token as for every admin command (cli-client.ts).
 */
import { readFileSync } from 'node:fs';
import type { IndexEntry } from '../inference/service.js';
import { adminCommandArgs, CliError, type AdminCall } from './cli-client.js';

export const MODELS_USAGE = 'usage: brisk models list | load <model> [--config config.json] | unload <model>';

/** The subcommands, so that `brisk models [dir]` (writing the example models) stays apart. */
export const MODELS_COMMANDS: readonly string[] = ['list', 'load', 'unload'];

function table(entries: readonly IndexEntry[]): string {
  if (entries.length === 0) return 'no models';
  const rows = entries.map((e) => [e.name, e.version ?? '-', e.state, e.reason ?? '']);
  const width = (i: number): number => Math.max(...rows.map((r) => r[i]!.length));
  return rows.map((r) => `${r[0]!.padEnd(width(0))}  ${r[1]!.padEnd(width(1))}  ${r[2]!.padEnd(width(2))}  ${r[3]}`.trimEnd()).join('\n');
}

const index = (call: AdminCall): Promise<IndexEntry[]> => call<IndexEntry[]>('POST', '/v2/repository/index');

/** What a model's versions are doing after a change: the answer to "did it work". */
async function after(call: AdminCall, model: string, done: string): Promise<string> {
  const entries = (await index(call)).filter((e) => e.name === model);
  return `${done}\n${table(entries)}`;
}

export async function modelsCommand(argv: string[]): Promise<string> {
  const { values, positionals, call } = adminCommandArgs(argv, { config: { type: 'string' } });
  const [command, model] = positionals;
  const needModel = (): string => {
    if (!model) throw new CliError(`models ${command} needs a model name`);
    return model;
  };
  switch (command) {
    case 'list':
      return table(await index(call));
    case 'load': {
      const name = needModel();
      const file = values['config'];
      let body: unknown;
      if (typeof file === 'string') {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (error) {
          throw new CliError(`cannot read --config ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
        }
        body = { parameters: { config: text } };
      }
      await call('POST', `/v2/repository/models/${encodeURIComponent(name)}/load`, body);
      return after(call, name, `loaded ${name}${typeof file === 'string' ? ` with ${file}` : ''}`);
    }
    case 'unload': {
      const name = needModel();
      await call('POST', `/v2/repository/models/${encodeURIComponent(name)}/unload`);
      // The versions drain first: requests already admitted are answered.
      return after(call, name, `unloading ${name}`);
    }
    default:
      throw new CliError(MODELS_USAGE);
  }
}
