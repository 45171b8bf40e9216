/**
 * `brisk routes list|show|set|promote|rollback|audit`: the admin API for people; the rollout
 * commands are in rollout-cli.ts.
 *   brisk routes set scorer 1=90 2=10 --shadow 3=100
 * A target is `version=weight` (the model is the route's name) or `model/version=weight`.
 * Address and token as for every admin command (cli-client.ts).
 */
import { adminCommandArgs, CliError } from './cli-client.js';
import { ROLLOUT_COMMANDS, ROLLOUT_USAGE, rolloutCommand } from './rollout-cli.js';

interface RouteJson {
  name: string;
  revision: number;
  updated_at: string;
  targets: { model: string; version: string; weight: number }[];
  shadows: { model: string; version: string; percent: number }[];
  shadow_stats: { shadow: string; compared: number; errors: number; dropped: number; max_abs_diff: number; mean_abs_diff: number; argmax_agreement: number | null }[];
}

function parseTarget(arg: string, route: string): { model: string; version: string; value: number } {
  const match = /^(?:([A-Za-z0-9_][A-Za-z0-9_.-]*)\/)?(\d+)=(\d+(?:\.\d+)?)$/.exec(arg);
  if (!match) throw new CliError(`cannot read ${JSON.stringify(arg)}: expected version=weight or model/version=weight`);
  return { model: match[1] ?? route, version: match[2]!, value: Number(match[3]) };
}

function describe(route: RouteJson): string {
  const lines = [`${route.name}  revision ${route.revision}  (changed ${route.updated_at})`];
  for (const t of route.targets) lines.push(`  ${`${t.model}/${t.version}`.padEnd(24)} ${String(t.weight).padStart(3)}%`);
  for (const s of route.shadows) {
    const stats = route.shadow_stats.find((x) => x.shadow === `${s.model}/${s.version}`);
    const figures = stats
      ? `compared ${stats.compared}, errors ${stats.errors}, dropped ${stats.dropped}, max |diff| ${stats.max_abs_diff.toPrecision(3)}, mean |diff| ${stats.mean_abs_diff.toPrecision(3)}` +
        (stats.argmax_agreement === null ? '' : `, argmax agreement ${(stats.argmax_agreement * 100).toFixed(1)}%`)
      : '';
    lines.push(`  shadow ${`${s.model}/${s.version}`.padEnd(17)} ${String(s.percent).padStart(3)}%  ${figures}`);
  }
  return lines.join('\n');
}

/** `print` shows lines as they come (rollout-status --watch); the returned text comes last. */
export async function routesCommand(argv: string[], print: (text: string) => void = console.log): Promise<string> {
  if (ROLLOUT_COMMANDS.includes(argv[0] ?? '')) return rolloutCommand(argv, print);
  // Loaded only for a migration: they open the store itself, not the admin API.
  if (argv[0] === 'export') return (await import('./routes-migrate.js')).exportRoutes(argv.slice(1));
  if (argv[0] === 'import') return (await import('./routes-migrate.js')).importRoutes(argv.slice(1));
  const { values, positionals, call: admin } = adminCommandArgs(argv, {
    shadow: { type: 'string', multiple: true },
    'if-match': { type: 'string' },
  });
  const [command, route, ...targets] = positionals;
  const ifMatch = values['if-match'];
  const call = <T>(method: string, path: string, body?: unknown): Promise<T> =>
    admin<T>(method, path, body, typeof ifMatch === 'string' && ifMatch ? { 'if-match': ifMatch } : {});
  const needRoute = (): string => {
    if (!route) throw new CliError(`routes ${command} needs a route name`);
    return route;
  };

  switch (command) {
    case 'list': {
      const { routes } = await call<{ routes: RouteJson[] }>('GET', '/admin/routes');
      return routes.length ? routes.map(describe).join('\n\n') : 'no routes';
    }
    case 'show':
      return describe(await call<RouteJson>('GET', `/admin/routes/${encodeURIComponent(needRoute())}`));
    case 'set': {
      const name = needRoute();
      if (targets.length === 0) throw new CliError('routes set needs at least one target: version=weight');
      const body = {
        targets: targets.map((t) => {
          const { model, version, value } = parseTarget(t, name);
          return { model, version, weight: value };
        }),
        shadows: (values.shadow ?? []).map((t) => {
          const { model, version, value } = parseTarget(t, name);
          return { model, version, percent: value };
        }),
      };
      return describe(await call<RouteJson>('PUT', `/admin/routes/${encodeURIComponent(name)}`, body));
    }
    case 'promote':
    case 'rollback':
      return describe(await call<RouteJson>('POST', `/admin/routes/${encodeURIComponent(needRoute())}/${command}`));
    case 'audit': {
      const { entries } = await call<{
        entries: { at: string; token: string; route: string; action: string; revision: number; after: { targets: RouteJson['targets'] }; reason?: string }[];
      }>('GET', '/admin/audit');
      return (
        entries
          .map(
            (e) =>
              `${e.at}  ${e.token}  ${e.action} ${e.route} → revision ${e.revision}: ${e.after.targets.map((t) => `${t.model}/${t.version}=${t.weight}`).join(' ')}` +
              (e.reason ? `\n    ${e.reason}` : ''),
          )
          .join('\n') || 'no changes yet'
      );
    }
    default:
      throw new CliError(`usage: brisk routes list|show <route>|set <route> <version=weight>... [--shadow version=percent]|promote <route>|rollback <route>|audit|export [store flags]|import <file> [store flags]\n${ROLLOUT_USAGE}`);
  }
}
