/**
 * The real etcd the replica tests run on (bench/lib/etcd.ts, shared with the replicas bench), and
 * a TCP relay in front of it.
 */
import net from 'node:net';
import type { LocalEtcd } from '../../bench/lib/etcd.js';

export { etcdAvailable, startEtcd } from '../../bench/lib/etcd.js';
export type TestEtcd = LocalEtcd;

/**
 * Relays loopback TCP to `port`; `cut()` drops every connection and refuses new ones; `blackhole()`
 * stops forwarding without closing anything (new connections too), as a silent network drop does,
 * and `muteAnswers()` forwards what clients send but not what etcd answers (new connections too),
 * until `restore()`. For cutting one replica off while etcd and the others go on.
 */
export async function startRelay(
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
    open = true;
    forwarding = true;
    answering = true;
    for (const s of sockets) s.resume();
  };
  return { endpoint: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, cut, blackhole, muteAnswers, restore, close: () => (cut(), server.close()) };
}
