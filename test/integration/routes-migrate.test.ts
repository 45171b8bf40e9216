/**
 * `brisk routes export` and `import` (issue 16): a state directory's routes, with their stored
 * slots, history and audit trail, moved into etcd and back out unchanged.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { projectFile } from '../../src/project-files.js';
import { createLogger } from '../../src/observability/logger.js';
import { parseRouteSpec } from '../../src/routing/route.js';
import { FileRouteStore } from '../../src/routing/route-store.js';
import { etcdAvailable, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { tempDir } from '../helpers/repository.js';

const haveEtcd = etcdAvailable();
if (!haveEtcd && process.env['CI'] === 'true') throw new Error("etcd is not installed: .ci/run installs Debian's etcd-server");
let etcd: TestEtcd | undefined;

afterAll(async () => {
  etcd?.client.close();
  await etcd?.close();
});

const brisk = (...args: string[]): string => execFileSync(process.execPath, [projectFile('dist', 'src', 'cli.js'), 'routes', ...args], { encoding: 'utf8' });

it.skipIf(!haveEtcd)('moves the whole route state from a state directory into etcd and back, slots and all', async () => {
  etcd = await startEtcd();
  const stateDir = tempDir('state');
  const store = new FileRouteStore(stateDir, createLogger('silent'));
  await store.load({});
  const spec = (one: number) => parseRouteSpec({ targets: [{ model: 'm', version: '1', weight: one }, { model: 'm', version: '2', weight: 100 - one }] }, () => undefined);
  // Slots that only this history gives: 30 then 70 then 40 moves slots a fresh assignment would not.
  for (const weight of [30, 70, 40]) await store.set('r', spec(weight), 'ops');
  const exported = brisk('export', '--route-store', 'file', '--state-dir', stateDir);
  const file = path.join(tempDir('export'), 'routes.json');
  writeFileSync(file, exported);
  expect(brisk('import', file, '--route-store', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', '/brisk/migrate/')).toMatch(/imported 1 routes, 3 audit entries/);
  const back = JSON.parse(brisk('export', '--route-store', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', '/brisk/migrate/')) as Record<string, unknown>;
  const original = JSON.parse(exported) as Record<string, unknown>;
  expect(back['routes']).toEqual(original['routes']);
  expect(back['history']).toEqual(original['history']);
  expect(back['audit']).toEqual(original['audit']);
  expect((back['routes'] as Record<string, { slots: string[] }>)['r']!.slots).toEqual(store.get('r')!.slots);
}, 30_000);
