/**
 * The install policy (issue 18): `npm install` runs no dependency's install script that nobody
 * decided on, never downloads from outside the registry, and prints no warnings; CI fails on a
 * new npm warning. These tests hold package.json, .npmrc and .ci/npm-warnings to that.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectFile } from '../../src/project-files.js';

interface PackageJson {
  engines: Record<string, string>;
  allowScripts: Record<string, boolean>;
}
interface LockEntry {
  version: string;
  hasInstallScript?: boolean;
}

const pkg = JSON.parse(readFileSync(projectFile('package.json'), 'utf8')) as PackageJson;
const lock = JSON.parse(readFileSync(projectFile('package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };

/** An npm command in the project, without the npm_config_* that `npm test` hands its children. */
function npm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  const r = spawnSync('npm', args, { cwd: projectFile(), env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('install policy', () => {
  it('every dependency with an install script is allowed or denied by name in allowScripts', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([location]) => location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts).toContain('onnxruntime-node');
    // Name-only keys: a pinned deny would let other versions run, and a pinned allow cannot be
    // checked against a lockfile written without resolved URLs.
    for (const name of withScripts) expect(pkg.allowScripts, `${name} has an install script`).toHaveProperty([name]);
    for (const [key, value] of Object.entries(pkg.allowScripts)) {
      expect(key, 'name-only key').toMatch(/^(@[a-z0-9-._~]+\/)?[a-z0-9-._~]+$/);
      expect(typeof value).toBe('boolean');
    }
  });

  it("denies onnxruntime-node's script (its only work here is the CUDA download) and protobufjs's (a hint for other authors)", () => {
    expect(pkg.allowScripts['onnxruntime-node']).toBe(false);
    expect(pkg.allowScripts['protobufjs']).toBe(false);
  });

  it('the CPU build of ONNX Runtime ships in the package, and its script still takes ONNXRUNTIME_NODE_INSTALL (the GPU command)', () => {
    const dir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    expect(existsSync(path.join(dir, 'bin', 'napi-v6', process.platform, process.arch, 'onnxruntime_binding.node'))).toBe(true);
    expect(readFileSync(path.join(dir, 'script', 'install-utils.js'), 'utf8')).toContain('process.env.ONNXRUNTIME_NODE_INSTALL');
  });

  it('.npmrc skips the CUDA download by its own key too, and npm reads the strict settings from it', () => {
    const strict = npm(['config', 'get', 'strict-allow-scripts']);
    expect(strict.stdout.trim()).toBe('true');
    expect(npm(['config', 'get', 'engine-strict']).stdout.trim()).toBe('true');
    expect(npm(['config', 'get', 'onnxruntime-node-install']).stdout.trim()).toBe('skip');
    // npm 11 warns on every command about a key it does not know ("Unknown project config"):
    // the one it warns about is onnxruntime-node's, and .ci/npm-warnings lets exactly that through.
    const warnings = strict.stderr.split('\n').filter((line) => /npm warn/i.test(line));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('Unknown project config "onnxruntime-node-install"');
    const filtered = spawnSync('bash', [projectFile('.ci', 'npm-warnings')], { input: strict.stderr, encoding: 'utf8' });
    expect(filtered.status).toBe(0);
    expect(pkg.engines['npm']).toMatch(/^>=11\./);
  });
});

describe('.ci/npm-warnings', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'npm-warnings-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function filter(output: string, allowList?: string): { status: number | null; stdout: string; stderr: string } {
    const args = [projectFile('.ci', 'npm-warnings')];
    if (allowList !== undefined) {
      const file = path.join(dir, `allowed-${Math.random().toString(36).slice(2)}`);
      writeFileSync(file, allowList);
      args.push(file);
    }
    const r = spawnSync('bash', args, { input: output, encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  const install = 'added 330 packages in 18s\n';
  const deprecated = 'npm warn deprecated old-thing@1.0.0: no longer supported\n';

  it('passes clean output through unchanged and succeeds, with the repository allow-list', () => {
    const r = filter(install);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(install);
  });

  it('fails on a warning not on the list, names it, and still passes the output through', () => {
    const r = filter(install + deprecated, '');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(install + deprecated);
    expect(r.stderr).toContain(deprecated.trim());
  });

  it('sees a warning that npm coloured for a terminal', () => {
    expect(filter(`\x1b[33mnpm\x1b[39m \x1b[33mwarn\x1b[39m install-scripts 1 package\n`, '').status).toBe(1);
  });

  it('lets through a warning whose pattern is listed under its reason, and only that one', () => {
    const list = '# why: old-thing is pinned by a dependency that has no newer release\n^npm warn deprecated old-thing@1\\.0\\.0:\n';
    expect(filter(install + deprecated, list).status).toBe(0);
    const other = filter(install + deprecated + 'npm warn config production Use `--omit=dev` instead.\n', list);
    expect(other.status).toBe(1);
    expect(other.stderr).toContain('npm warn config production');
    expect(other.stderr).not.toContain('old-thing');
  });

  it('refuses an allow-list pattern without a reason', () => {
    const r = filter(install + deprecated, '^npm warn deprecated old-thing@1\\.0\\.0:\n');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/without a "# why:" line/);
  });
});
