/**
 * A real etcd (Debian's etcd-server, which .ci/run installs) on free loopback ports with a
 * temporary data directory, that a test can stop and start again on the same ports and data.
 * Also a TCP relay in front of it, to cut one replica off while etcd and the others go on.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Etcd3 } from 'etcd3';
import { waitFor } from './conditions.js';
import { tempDir } from './repository.js';

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

export interface TestEtcd {
  endpoint: string;
  client: Etcd3;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEtcd(): Promise<TestEtcd> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = tempDir('etcd');
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const client = new Etcd3({ hosts: endpoint, defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + 1000 }) });
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(
      'etcd',
      ['--name', 'test', '--data-dir', dataDir, '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
        '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-cluster', `test=http://127.0.0.1:${peerPort}`, '--log-level', 'error'],
      { stdio: 'ignore' },
    );
    await waitFor('etcd to answer', () => client.get('probe').then(() => true, () => false), 20_000, 50);
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return { endpoint, client, start, stop };
}

/** Relays loopback TCP to `target`; `cut()` drops every connection and refuses new ones until `restore()`. */
export async function startRelay(targetPort: number): Promise<{ endpoint: string; cut(): void; restore(): void; close(): void }> {
  let open = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    if (!open) {
      socket.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(socket).add(upstream);
    const drop = (): void => {
      socket.destroy();
      upstream.destroy();
      sockets.delete(socket);
      sockets.delete(upstream);
    };
    socket.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut: () => {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore: () => (open = true),
    close: () => {
      open = false;
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
