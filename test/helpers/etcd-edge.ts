/**
 * A real etcd on free loopback ports, and a TCP relay in front of it that can cut a client off,
 * for the replica edge tests (a copy of the minimal start code, kept apart from the shared starter).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Etcd3 } from 'etcd3';
import { waitFor } from './conditions.js';
import { tempDir } from './repository.js';

export const etcdInstalled = (): boolean => spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface EdgeEtcd {
  endpoint: string;
  port: number;
  client: Etcd3;
  stop(): Promise<void>;
}

export async function startEdgeEtcd(): Promise<EdgeEtcd> {
  const port = await freePort();
  const peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new Etcd3({ hosts: endpoint, defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + 1000 }) });
  const child: ChildProcess = spawn(
    'etcd',
    ['--name', 'edge', '--data-dir', tempDir('etcd-edge'), '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `edge=http://127.0.0.1:${peerPort}`, '--log-level', 'error'],
    { stdio: 'ignore' },
  );
  await waitFor('etcd to answer', () => client.get('probe').then(() => true, () => false), 20_000, 50);
  return {
    endpoint,
    port,
    client,
    stop: async () => {
      client.close();
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Relays loopback TCP to `port`; `cut()` drops every connection and refuses new ones; `blackhole()`
 * stops forwarding without closing anything (new connections too), as a silent network drop does,
 * and `muteAnswers()` forwards what clients send but not what etcd answers (new connections too),
 * until `restore()`.
 */
export async function startEdgeRelay(
  port: number,
): Promise<{ endpoint: string; cut(): void; blackhole(): void; muteAnswers(): void; restore(): void; close(): void }> {
  let open = true;
  let forwarding = true;
  let answering = true;
  const sockets = new Set<net.Socket>();
  const upstreams = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    if (!open) return void socket.destroy();
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(socket).add(upstream);
    upstreams.add(upstream);
    const drop = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    socket.pipe(upstream).pipe(socket);
    // After pipe(), which resumes its source.
    if (!forwarding) socket.pause();
    if (!forwarding || !answering) upstream.pause();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const cut = (): void => {
    open = false;
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  // Paused sockets are not read: what they were sent waits in the kernel, unanswered.
  const blackhole = (): void => {
    forwarding = false;
    for (const s of sockets) s.pause();
  };
  const muteAnswers = (): void => {
    answering = false;
    for (const s of upstreams) s.pause();
  };
  const restore = (): void => {
    forwarding = true;
    answering = true;
    for (const s of sockets) s.resume();
  };
  return { endpoint: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, cut, blackhole, muteAnswers, restore, close: () => (cut(), server.close()) };
}
