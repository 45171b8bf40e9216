/**
 * `brisk drift show`: the compiled CLI against a small HTTP server on loopback that answers as the
 * drift endpoint does (issue 15), and as servers do when something is wrong.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/admin/cli-client.js';
import { driftCommand, type DriftJson } from '../../src/admin/drift-cli.js';
import { projectFile } from '../../src/project-files.js';
import { rejection } from '../helpers/conditions.js';

const report: DriftJson = {
  model: 'tiny_classifier',
  version: '2',
  reference_rows: 2000,
  window_rows: 2000,
  tensors: [
    {
      name: 'input',
      kind: 'input',
      max_psi: 0.71,
      features: Array.from({ length: 30 }, (_, index) => {
        const psi = index < 8 ? 0.71 - index / 100 : 0.02;
        return { index, psi, js: psi / 2, verdict: psi >= 0.25 ? ('drift' as const) : ('ok' as const) };
      }),
    },
    { name: 'class_scores', kind: 'output_class', max_psi: 0.3, features: [{ index: 0, psi: 0.3, js: 0.2, verdict: 'drift' }] },
  ],
};

/** Paths asked for, in order: the CLI's requests as the server saw them. */
const asked: string[] = [];
let server: Server;
let url: string;
/** A port nothing listens on. */
let closedUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    asked.push(req.url!);
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    switch (req.url) {
      case '/v2/models/tiny_classifier/versions/2/drift':
      case '/v2/models/tiny_classifier/drift':
        return json(200, report);
      case '/v2/models/nope/versions/1/drift':
        return json(404, { error: "no model named 'nope'" });
      case '/v2/models/off/drift':
        return json(400, { error: 'drift is off for off 1: set drift in its config.json' });
      case '/v2/models/proxy/drift':
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
        return;
      case '/v2/models/other/drift':
        return json(200, { name: 'other', versions: ['1'] });
      case '/v2/models/hang/drift':
        return; // Never answers.
      default:
        return json(404, { error: `no route ${req.url}` });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise((resolve) => closed.close(resolve));
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

const brisk = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, [projectFile('dist', 'src', 'cli.js'), 'drift', ...args], { env: { ...process.env, BRISK_URL: '', ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );

describe('brisk drift show', () => {
  it('prints the header and the top 20 features by PSI, then how many more there are', async () => {
    const { code, stdout, stderr } = await brisk(['show', 'tiny_classifier', '2', '--url', url]);
    expect(code, stderr).toBe(0);
    expect(asked.at(-1)).toBe('/v2/models/tiny_classifier/versions/2/drift');
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('tiny_classifier 2  reference 2000 rows  window 2000 rows  (9 drift, 22 ok)');
    expect(lines[1]).toMatch(/^tensor\s+kind\s+index\s+psi\s+js\s+verdict$/);
    expect(lines[2]).toMatch(/^input\s+input\s+0\s+0\.710\s+0\.355\s+drift$/);
    // The output's argmax at 0.3 sits between input features 7 (0.64) and 8 (0.02).
    expect(lines[10]).toMatch(/^class_scores\s+output_class\s+0\s+0\.300\s+0\.200\s+drift$/);
    expect(lines.slice(2, -1)).toHaveLength(20);
    expect(lines.at(-1)).toBe('… 11 more features (--top to see more)');
  });

  it('without a version, asks for the model ready version, and takes the address from BRISK_URL', async () => {
    const { code, stdout, stderr } = await brisk(['show', 'tiny_classifier', '--top', '3'], { BRISK_URL: url });
    expect(code, stderr).toBe(0);
    expect(asked.at(-1)).toBe('/v2/models/tiny_classifier/drift');
    expect(stdout.trimEnd().split('\n')).toHaveLength(2 + 3 + 1);
    expect(stdout).toContain('… 28 more features');
  });

  it('--top all shows every feature; --json prints the answer as it came', async () => {
    const all = await brisk(['show', 'tiny_classifier', '2', '--top', 'all', '--url', url]);
    expect(all.stdout.trimEnd().split('\n')).toHaveLength(2 + 31);
    const json = await brisk(['show', 'tiny_classifier', '2', '--json', '--url', url]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(report);
  });

  it.each([
    [['show', 'nope', '1'], "brisk: 404: no model named 'nope'"],
    [['show', 'off'], 'brisk: 400: drift is off for off 1: set drift in its config.json'],
    [['show', 'proxy'], 'brisk: 502: <html>Bad Gateway</html>'],
    [['show', 'other'], /^brisk: http:\/\/127\.0\.0\.1:\d+\/v2\/models\/other\/drift did not answer with a drift report: \{"name":"other"/],
    [['show', 'hang', '--timeout', '300ms'], /^brisk: cannot reach the server at http:\/\/127\.0\.0\.1:\d+ \(no answer in 0\.3 s\): is it running\?/],
  ])('%j: one line that says what the server answered, exit status 2', async (args, message) => {
    const { code, stdout, stderr } = await brisk([...args, '--url', url]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd()).toMatch(typeof message === 'string' ? new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : message);
  });

  it('says that a server which is not listening cannot be reached, and how to point at another', async () => {
    const { code, stderr } = await brisk(['show', 'tiny_classifier', '--url', closedUrl]);
    expect(code).toBe(2);
    expect(stderr.trimEnd()).toBe(`brisk: cannot reach the server at ${closedUrl} (ECONNREFUSED): is it running? Pass --url or set BRISK_URL`);
  });

  it.each([
    [[], /^brisk: usage: brisk drift show/],
    [['show'], /^brisk: usage: brisk drift show <model> \[version\]/],
    [['show', 'a', '1', 'extra'], /^brisk: usage: brisk drift show/],
    [['show', 'a', '--top', '0'], /^brisk: --top "0": expected a positive whole number or all$/],
    [['show', 'a', '--timeout', '0s'], /^brisk: --timeout 0s: expected more than 0$/],
    [['show', 'a', '--url', 'localhost:8000'], /^brisk: --url "localhost:8000": expected http:\/\/host:port$/],
    [['show', 'a', '--colour'], /^brisk: Unknown option '--colour'/],
    [['capture2'], /^brisk: usage: brisk drift show/],
    [['toString'], /^brisk: usage: brisk drift show/],
  ])('%j is a usage error, and asks the server nothing', async (args, message) => {
    // In process: how a CliError reaches the terminal is shown by the spawned cases above.
    const before = asked.length;
    const error = await rejection(driftCommand(args.includes('--url') ? args : [...args, '--url', url]));
    expect(error).toBeInstanceOf(CliError);
    expect(`brisk: ${error.message}`).toMatch(message);
    expect(asked.length).toBe(before);
  });
});
