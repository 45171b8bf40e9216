/**
 * `--repository-poll-secs`: the repository is scanned every interval, and a model
 * whose files changed is loaded again (new models and versions come in, changed
 * ones reload, versions gone from the folder or the policy unload), by the same
 * path as the repository API. A change is acted on only once it has held still
 * for two scans (same sizes and modification times), so that a file still being
 * copied in is never loaded half-written.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { isModelName } from './names.js';

export interface RepositoryControl {
  load(name: string): Promise<void>;
  unload(name: string): Promise<void>;
}

/**
 * Every file in a model's folder and its version folders, with size, modification time and
 * inode. Symbolic links are followed (ConfigMap and volume mounts swap files by re-pointing
 * links), and the inode shows a link re-pointed to a file of the same size and time.
 */
function snapshotModel(dir: string): string {
  const parts: string[] = [];
  const walk = (folder: string, depth: number): void => {
    for (const name of readdirSync(folder).sort()) {
      const full = path.join(folder, name);
      let stat;
      try {
        stat = statSync(full);
      } catch {
        // A dangling link: noted as such, so the rest of the folder is still watched.
        parts.push(`${path.relative(dir, full)}:unreadable`);
        continue;
      }
      if (stat.isDirectory() && depth < 2) walk(full, depth + 1);
      else if (stat.isFile()) parts.push(`${path.relative(dir, full)}:${stat.size}:${stat.mtimeMs}:${stat.ino}`);
    }
  };
  walk(dir, 0);
  return parts.join('|');
}

/**
 * Each model folder's snapshot. A folder that cannot be read now (being rewritten, or a
 * permission error) keeps the snapshot `previous` had for it, so it is neither taken for a
 * change nor for a removal.
 */
export function snapshotRepository(root: string, previous?: ReadonlyMap<string, string>): Map<string, string> {
  const snapshots = new Map<string, string>();
  for (const name of readdirSync(root)) {
    if (!isModelName(name)) continue;
    try {
      if (!statSync(path.join(root, name)).isDirectory()) continue;
      snapshots.set(name, snapshotModel(path.join(root, name)));
    } catch {
      const kept = previous?.get(name);
      if (kept !== undefined) snapshots.set(name, kept);
    }
  }
  return snapshots;
}

export class RepositoryPoller {
  /** What the last scan saw. */
  private previous: Map<string, string>;
  /** What each model was last loaded from (or, for a failure, last tried). */
  private readonly acted: Map<string, string>;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly root: string,
    private readonly control: RepositoryControl,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {
    // The repository as the first load found it.
    this.previous = snapshotRepository(root);
    this.acted = new Map(this.previous);
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.scan().finally(() => this.schedule()), this.intervalMs);
    this.timer.unref();
  }

  /** One scan: acts on every change that has held still since the previous scan. */
  async scan(): Promise<void> {
    let now: Map<string, string>;
    try {
      now = snapshotRepository(this.root, this.previous);
    } catch (error) {
      this.log.error({ reason: error instanceof Error ? error.message : String(error) }, 'repository scan failed');
      return;
    }
    const settled = (name: string): boolean => this.previous.get(name) === now.get(name);
    const actions: Promise<void>[] = [];
    for (const [name, snapshot] of now) {
      if (!settled(name) || this.acted.get(name) === snapshot) continue;
      this.acted.set(name, snapshot);
      actions.push(this.act('load', name));
    }
    for (const name of [...this.acted.keys()]) {
      if (now.has(name) || !settled(name)) continue;
      this.acted.delete(name);
      actions.push(this.act('unload', name));
    }
    this.previous = now;
    await Promise.all(actions);
  }

  private async act(action: 'load' | 'unload', name: string): Promise<void> {
    this.log.info({ model: name, action }, 'repository changed');
    try {
      await this.control[action](name);
    } catch (error) {
      this.log.error({ model: name, action, reason: error instanceof Error ? error.message : String(error) }, 'repository change not applied');
    }
  }
}
