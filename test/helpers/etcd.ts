/**
 * The real etcd the replica tests run on (bench/lib/etcd.ts, shared with the replicas bench), and
 * a TCP relay in front of it, to cut one replica off while etcd and the others go on.
 */
import net from 'node:net';
import type { LocalEtcd } from '../../bench/lib/etcd.js';

export { etcdAvailable, startEtcd } from '../../bench/lib/etcd.js';
export type TestEtcd = LocalEtcd;

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
