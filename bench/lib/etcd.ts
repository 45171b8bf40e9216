/**
 * A real etcd (Debian's etcd-server, which .ci/run installs) on free loopback ports with a
 * temporary data directory, that can be stopped and started again on the same ports and data.
 * Used by the replicas bench and by the replica tests.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';

export function etcdAvailable(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface LocalEtcd {
  endpoint: string;
  /** The client port, for a relay in front of it. */
  port: number;
  /** A client of its own, with a 1 s deadline on every call. */
  client: Etcd3;
  start(): Promise<void>;
  /** SIGKILL: etcd gone as a crash or a cut network leaves it. The data stays for start(). */
  stop(): Promise<void>;
  /** stop(), the client closed and the data directory removed. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;

/** Polls etcd until it answers a read; etcd takes a second or two to elect itself leader. */
async function untilAnswering(client: Etcd3, exited: () => boolean): Promise<void> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (!(await client.get('probe').then(() => true, () => false))) {
    if (exited()) throw new Error('etcd exited before it answered');
    if (performance.now() > deadline) throw new Error(`etcd did not answer within ${START_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startEtcd(): Promise<LocalEtcd> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'brisk-etcd-'));
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const client = new Etcd3({ hosts: endpoint, defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + 1000 }) });
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const started = spawn(
      'etcd',
      ['--name', 'local', '--data-dir', dataDir, '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
        '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-cluster', `local=http://127.0.0.1:${peerPort}`, '--log-level', 'error'],
      { stdio: 'ignore' },
    );
    child = started;
    await untilAnswering(client, () => started.exitCode !== null || started.signalCode !== null);
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    endpoint,
    port: clientPort,
    client,
    start,
    stop,
    close: async () => {
      client.close();
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
