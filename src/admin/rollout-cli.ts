/**
 * `brisk routes rollout|rollout-status|rollout-pause|rollout-resume|rollout-abort`: progressive
 * rollouts through the admin API.
 *   brisk routes rollout scorer 3 --steps 5,25,50,100 --interval 60s --max-error-rate 0.01
 *   brisk routes rollout-status scorer --watch
 * The target is `version` (the model is the route's name) or `model/version`.
 * Address and token as for every admin command (cli-client.ts).
 */
import type { RolloutView } from '../rollout/rollout-controller.js';
import { adminCommandArgs, CliError } from './cli-client.js';

export const ROLLOUT_USAGE = `usage: brisk routes rollout <route> <version|model/version> [--steps 5,25,50,100] [--interval 60s]
           [--min-requests N] [--max-error-rate R] [--max-p99-ratio R|off] [--latency-test mann-whitney]
           [--max-shadow-mean-abs-difference D] [--min-argmax-agreement R] [--failure-limit N] [--inconclusive-limit N]
       brisk routes rollout-status <route> [--watch] [--every 1s]
       brisk routes rollout-pause|rollout-resume|rollout-abort <route>`;

export const ROLLOUT_COMMANDS: readonly string[] = ['rollout', 'rollout-status', 'rollout-pause', 'rollout-resume', 'rollout-abort'];

const FINISHED = new Set(['promoted', 'rolled_back', 'aborted']);

/** `60s`, `1m`, `1.5h`, `500ms` or a bare number of seconds, in seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new CliError(`${flag} ${JSON.stringify(text)}: expected a duration such as 60s, 5m or 500ms`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] ?? 's']!;
  return Number(match[1]) * unit;
}

function parseNumber(text: string, flag: string, allowOff = false): number | null {
  if (allowOff && text === 'off') return null;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new CliError(`${flag} ${JSON.stringify(text)}: expected a number${allowOff ? ' or off' : ''}`);
  return value;
}

function parseSteps(text: string): number[] {
  const steps = text.split(',').map((s) => Number(s.trim()));
  if (steps.some((s) => !Number.isInteger(s))) throw new CliError(`--steps ${JSON.stringify(text)}: expected weights in percent, such as 5,25,50,100`);
  return steps;
}

const percent = (value: number | null): string => (value === null ? '-' : `${(value * 100).toFixed(2)}%`);
const ms = (seconds: number | null): string => (seconds === null ? '-' : `${(seconds * 1000).toPrecision(3)} ms`);

const COLUMNS = ['#', 'step', 'weight', 'verdict', 'canary req', 'errors', 'error rate', 'p99 canary', 'p99 primary', 'shadow |diff|', 'why'];
const WIDTHS = [4, 4, 6, 12, 10, 7, 10, 11, 11, 13];

function row(cells: string[]): string {
  return cells.map((cell, i) => (i < WIDTHS.length ? cell.padEnd(WIDTHS[i]!) : cell)).join('  ').trimEnd();
}

function intervalRow(i: RolloutView['intervals'][number]): string {
  return row([
    String(i.index),
    String(i.step),
    `${i.weight}%`,
    i.verdict + (i.early ? ' (early)' : ''),
    String(i.canary.requests),
    String(i.canary.errors),
    percent(i.canary.error_rate),
    ms(i.canary.p99_seconds),
    ms(i.primary.p99_seconds),
    i.shadow?.mean_abs_difference == null ? '-' : i.shadow.mean_abs_difference.toPrecision(3),
    i.reasons.join('; '),
  ]);
}

function heading(view: RolloutView): string {
  const target = `${view.target.model}/${view.target.version}`;
  const primary = `${view.primary.model}/${view.primary.version}`;
  const lines = [
    `${view.route}  ${view.state}  step ${view.step} of ${view.steps.length} (${view.weight}%)  ${target} against ${primary}, every ${view.interval_seconds} s`,
    `  started ${view.started_at} by ${view.started_by}; fails ${view.fails} of ${view.failure_limit}; inconclusive ${view.inconclusive} of ${view.inconclusive_limit} in a row; ` +
      `the canary answered ${view.totals.canary_requests} requests, ${view.totals.canary_errors} with an error`,
  ];
  if (view.reason) lines.push(`  ${view.reason}`);
  return lines.join('\n');
}

function table(view: RolloutView): string {
  const rows = view.intervals.map(intervalRow);
  return [heading(view), '', row(COLUMNS), ...(rows.length ? rows : ['(no interval judged yet)'])].join('\n');
}

export async function rolloutCommand(argv: string[], print: (text: string) => void): Promise<string> {
  const { values, positionals, call } = adminCommandArgs(argv, {
    steps: { type: 'string' },
    interval: { type: 'string' },
    'min-requests': { type: 'string' },
    'max-error-rate': { type: 'string' },
    'max-p99-ratio': { type: 'string' },
    'latency-test': { type: 'string' },
    'max-shadow-mean-abs-difference': { type: 'string' },
    'min-argmax-agreement': { type: 'string' },
    'failure-limit': { type: 'string' },
    'inconclusive-limit': { type: 'string' },
    watch: { type: 'boolean' },
    every: { type: 'string' },
  });
  const [command, route, target] = positionals;
  if (!route) throw new CliError(ROLLOUT_USAGE);
  const path = `/admin/routes/${encodeURIComponent(route)}/rollout`;
  const given = values as Record<string, string | boolean | undefined>;
  const text = (flag: string): string | undefined => (typeof given[flag] === 'string' ? (given[flag] as string) : undefined);

  switch (command) {
    case 'rollout': {
      const match = target === undefined ? null : /^(?:([A-Za-z0-9_][A-Za-z0-9_.-]*)\/)?(\d+)$/.exec(target);
      if (!match) throw new CliError(`routes rollout needs a target: version or model/version\n${ROLLOUT_USAGE}`);
      const gates: Record<string, number | null> = {};
      const gate = (flag: string, field: string, allowOff = false): void => {
        const given = text(flag);
        if (given !== undefined) gates[field] = parseNumber(given, `--${flag}`, allowOff);
      };
      gate('min-requests', 'min_requests');
      gate('max-error-rate', 'max_error_rate', true);
      gate('max-p99-ratio', 'max_p99_ratio', true);
      gate('max-shadow-mean-abs-difference', 'max_shadow_mean_abs_difference', true);
      gate('min-argmax-agreement', 'min_argmax_agreement', true);
      const body: Record<string, unknown> = { target: { model: match[1] ?? route, version: match[2] }, gates };
      if (text('steps') !== undefined) body['steps'] = parseSteps(text('steps')!);
      if (text('interval') !== undefined) body['interval_seconds'] = parseDuration(text('interval')!, '--interval');
      if (text('latency-test') !== undefined) body['latency_test'] = text('latency-test') === 'off' ? null : text('latency-test');
      if (text('failure-limit') !== undefined) body['failure_limit'] = parseNumber(text('failure-limit')!, '--failure-limit');
      if (text('inconclusive-limit') !== undefined) body['inconclusive_limit'] = parseNumber(text('inconclusive-limit')!, '--inconclusive-limit');
      const started = await call<RolloutView>('PUT', path, body);
      return `${heading(started)}\nfollow it with: brisk routes rollout-status ${route} --watch`;
    }
    case 'rollout-status': {
      if (!values['watch']) return table(await call<RolloutView>('GET', path));
      const everyMs = parseDuration(text('every') ?? '1s', '--every') * 1000;
      let shownUpTo = 0;
      let last: RolloutView | undefined;
      for (;;) {
        const view = await call<RolloutView>('GET', path);
        if (!last) print(`${heading(view)}\n\n${row(COLUMNS)}`);
        for (const interval of view.intervals.filter((i) => i.index > shownUpTo)) print(intervalRow(interval));
        shownUpTo = view.intervals.at(-1)?.index ?? shownUpTo;
        if (last && (last.state !== view.state || last.step !== view.step)) print(`  → ${view.state}, step ${view.step} (${view.weight}%)${view.reason ? `: ${view.reason}` : ''}`);
        last = view;
        // Paused waits for a person: the watch ends there too.
        if (FINISHED.has(view.state) || view.state === 'paused') return `${view.route}: ${view.state}${view.reason ? ` (${view.reason})` : ''}`;
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    }
    case 'rollout-pause':
    case 'rollout-resume':
    case 'rollout-abort':
      return heading(await call<RolloutView>('POST', `${path}/${command.slice('rollout-'.length)}`));
    default:
      throw new CliError(ROLLOUT_USAGE);
  }
}
