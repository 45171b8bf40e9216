/**
 * `brisk routes export [store flags] > routes.json` and `brisk routes import routes.json [store flags]`:
 * the whole route state (routes with their stored slots, history, audit trail, rollouts) moved
 * between stores, read and written directly rather than through a server's admin API, so that
 * slots move with it and a routing key keeps its version. The store flags are the server's own
 * (--route-store, --state-dir, --etcd-*), from flags, environment or --config.
 * Into etcd, running replicas see the import through their watch; into a state directory, stop
 * its server first (it reads the file at start only).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { createLogger } from '../observability/logger.js';
import { etcdStoreFromConfig, ROLLOUTS_DOCUMENT } from '../routing/open-route-store.js';
import { parseSavedRoutes, readStateFile, savedRoutesJson, writeStateFile, type SavedRoutes } from '../routing/route-state-file.js';
import { parseRolloutsText, ROLLOUTS_FILE, rolloutsText, writeRolloutsFile } from '../rollout/rollout-record.js';
import { CliError } from './cli-client.js';

export async function exportRoutes(argv: string[]): Promise<string> {
  const config = loadConfig(argv, process.env);
  if (config.routeStore === 'file') {
    const saved = readStateFile(config.stateDir) ?? { routes: new Map(), history: new Map(), audit: [] };
    const rolloutsFile = path.join(config.stateDir, ROLLOUTS_FILE);
    const rollouts = existsSync(rolloutsFile) ? JSON.parse(readFileSync(rolloutsFile, 'utf8')) as unknown : { format: 1, rollouts: {} };
    return JSON.stringify({ ...savedRoutesJson(saved), rollouts }, null, 1);
  }
  const store = etcdStoreFromConfig(config, createLogger('silent'));
  try {
    await store.readAll();
    const saved: SavedRoutes = {
      routes: new Map(store.list().map((r) => [r.name, r])),
      history: store.histories(),
      audit: store.audit(),
    };
    const rollouts = JSON.parse(store.document(ROLLOUTS_DOCUMENT) ?? '{"format":1,"rollouts":{}}') as unknown;
    return JSON.stringify({ ...savedRoutesJson(saved), rollouts }, null, 1);
  } finally {
    store.client.close();
  }
}

export async function importRoutes(argv: string[]): Promise<string> {
  const file = argv.find((a) => !a.startsWith('--') && !a.includes('='));
  if (!file) throw new CliError('usage: brisk routes import <file> [--route-store file|etcd] [--state-dir DIR] [--etcd-endpoints URL,...]');
  const rest = argv.filter((a) => a !== file);
  const config = loadConfig(rest, process.env);
  let raw: { rollouts?: unknown };
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as { rollouts?: unknown };
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let saved: SavedRoutes;
  let rollouts;
  try {
    saved = parseSavedRoutes(raw);
    rollouts = parseRolloutsText(JSON.stringify(raw.rollouts ?? { format: 1, rollouts: {} }));
  } catch (error) {
    throw new CliError(`${file} is not a route export: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (config.routeStore === 'file') {
    await writeStateFile(config.stateDir, saved);
    await writeRolloutsFile(config.stateDir, rollouts);
  } else {
    const store = etcdStoreFromConfig(config, createLogger('silent'));
    try {
      await store.replaceAll(saved.routes, saved.history, saved.audit, new Map([[ROLLOUTS_DOCUMENT, rolloutsText(rollouts)]]));
    } finally {
      store.client.close();
    }
  }
  return `imported ${saved.routes.size} routes, ${saved.audit.length} audit entries and ${rollouts.size} rollouts into the ${config.routeStore} store`;
}
