/**
 * One run of the zero-downtime lifecycle (issue 11) on a copy of the bundled
 * repository: under closed-loop load on the route `scorer`, version 3 appears and
 * is loaded, takes 10% of the route, is promoted, version 1's folder goes and a
 * load unloads it; then SIGTERM, with the load going on until every client is
 * refused and the server has exited. Before the load, on the quiet server, the
 * first-request latency with and without warmup.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectFile } from '../../src/project-files.js';
import { requestBody } from '../scenarios.js';
import { AdminClient, type AdminAnswer, type IndexEntry } from './admin-client.js';
import { startBrisk } from './child-server.js';
import { UntilRefusedClients, type PhaseTally } from './until-refused.js';
import { measureWarmup, type WarmupSample } from './warmup-latency.js';

export interface LifecycleOptions {
  clients: number;
  /** Seconds of load between steps, so that each step sees traffic. */
  gapSeconds: number;
  drainDelaySeconds: number;
  warmupCycles: number;
}

export interface StepRecord {
  step: string;
  /** Seconds from the start of the load to the step's call. */
  atSeconds: number;
  status: number;
  callMs: number;
  /** What the repository index showed after the step. */
  detail?: string;
  /** What the step expected and did not get; undefined when all was as expected. */
  problem?: string;
}

/** The index entry a step expects, and whether it came. */
interface StepCheck {
  detail: string;
  ok: boolean;
}

export interface LifecycleResult {
  steps: StepRecord[];
  phases: PhaseTally[];
  exitCode: number | null;
  /** Seconds after SIGTERM: the server's "listeners closed" line, the first refusal, the last client stopped, the exit. */
  shutdown: { listenersClosed?: number; firstRefusal?: number; lastClientStopped?: number; exited: number };
  warmup: WarmupSample[];
}

const SCORER = { name: 'scorer', model: 'scorer', inputName: 'features', rowSize: 32, encoding: 'json' } as const;
const TARGETS_90_10 = {
  targets: [{ model: 'scorer', version: '1', weight: 90 }, { model: 'scorer', version: '3', weight: 10 }],
  shadows: [],
};
export const SHUTDOWN_STEP = 'SIGTERM, load until every client is refused';
/** Clients stop on refusal and the server exits by itself; this only bounds a server that does neither. */
const SHUTDOWN_LIMIT_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const describeEntry = (e: IndexEntry | undefined) => (e ? `${e.state}${e.reason ? ` (${e.reason})` : ''}` : 'absent');

export async function lifecycleRun(options: LifecycleOptions): Promise<LifecycleResult> {
  const repository = mkdtempSync(path.join(os.tmpdir(), 'brisk-reload-bench-'));
  cpSync(projectFile('models'), repository, { recursive: true });
  const token = `reload-${process.pid}-${Date.now()}-token`;
  const server = await startBrisk(['--model-repository', repository, '--drain-delay', String(options.drainDelaySeconds)], { ADMIN_TOKEN: token });
  try {
    const httpBase = `http://127.0.0.1:${server.ready['httpPort'] as number}`;
    const admin = new AdminClient(`http://127.0.0.1:${server.ready['adminPort'] as number}`, token);
    const warmup = await measureWarmup(admin, httpBase, repository, options.warmupCycles);

    const { body, headers } = requestBody(SCORER);
    const clients = new UntilRefusedClients({ url: new URL(`${httpBase}/v2/models/scorer/infer`), body, headers, clients: options.clients, timeoutMs: 30_000 }, 'load only');
    const loadStarted = clients.phases[0]!.startedAt;
    const steps: StepRecord[] = [];
    /** A phase per step: answers that end during it are counted under its name. */
    const step = async (name: string, act: () => Promise<AdminAnswer>, check?: () => Promise<StepCheck>) => {
      await sleep(options.gapSeconds * 1000);
      clients.phase(name);
      const atSeconds = (performance.now() - loadStarted) / 1000;
      const answer = await act();
      const checked = answer.status === 200 ? await check?.() : undefined;
      const problem = answer.status !== 200 ? `answered ${answer.status}: ${answer.text.slice(0, 300)}` : checked?.ok === false ? `index: ${checked.detail}` : undefined;
      steps.push({ step: name, atSeconds, status: answer.status, callMs: answer.ms, ...(checked ? { detail: checked.detail } : {}), ...(problem ? { problem } : {}) });
    };
    const scorerDir = (version: string) => path.join(repository, 'scorer', version);

    await step(
      'version 3 folder added, scorer loaded',
      () => {
        cpSync(scorerDir('2'), scorerDir('3'), { recursive: true });
        return admin.load('scorer');
      },
      async () => {
        const entry = await admin.entry('scorer', '3');
        return { ok: entry?.state === 'READY', detail: `scorer 3 ${describeEntry(entry)} when the load answered` };
      },
    );
    await step('route 90/10 to versions 1/3', () => admin.call('PUT', '/admin/routes/scorer', TARGETS_90_10));
    await step('promote (version 3 at 100)', () => admin.call('POST', '/admin/routes/scorer/promote'));
    await step(
      'version 1 folder removed, scorer loaded',
      () => {
        rmSync(scorerDir('1'), { recursive: true });
        return admin.load('scorer');
      },
      async () => {
        const unloaded = await admin.waitFor('scorer', '1', (e) => e?.state === 'UNAVAILABLE' && e.reason === 'unloaded', 10_000);
        return { ok: unloaded.ok, detail: `scorer 1 ${describeEntry(unloaded.entry)} ${Math.round(unloaded.ms)} ms after the load answered` };
      },
    );

    await sleep(options.gapSeconds * 1000);
    clients.phase(SHUTDOWN_STEP);
    const sigtermAt = performance.now();
    const sigtermEpochMs = Date.now();
    steps.push({ step: SHUTDOWN_STEP, atSeconds: (sigtermAt - loadStarted) / 1000, status: 0, callMs: 0 });
    let exitedAt = 0;
    const exited = server.stop().then((code) => ((exitedAt = performance.now()), code));
    const finished = Promise.all([clients.stopped, exited]);
    const inTime = await Promise.race([finished.then(() => true), sleep(SHUTDOWN_LIMIT_MS).then(() => false)]);
    if (!inTime) {
      clients.abort();
      // A second SIGTERM would only exit at once with the signal; SIGKILL also ends a hung drain.
      if (server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL');
    }
    const exitCode = await exited;
    await clients.stopped;

    const closedLine = server.logs.find((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('listeners closed'));
    const after = (at: number | undefined) => (at === undefined ? undefined : (at - sigtermAt) / 1000);
    return {
      steps,
      phases: clients.phases,
      exitCode,
      shutdown: {
        // pino's time: an ISO string or epoch ms, depending on the logger's options.
        listenersClosed: closedLine ? (new Date(closedLine['time'] as string | number).getTime() - sigtermEpochMs) / 1000 : undefined,
        firstRefusal: after(clients.firstRefusalAt),
        lastClientStopped: after(clients.lastStoppedAt),
        exited: after(exitedAt)!,
      },
      warmup,
    };
  } finally {
    await server.stop();
    rmSync(repository, { recursive: true, force: true });
  }
}
