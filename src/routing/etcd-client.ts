/**
 * An etcd client for the route store, from the server's flags: TLS and user credentials as
 * the etcd3 client takes them, a deadline on every call so that an admin write fails fast
 * (503) rather than hanging when etcd is gone, and a watch that comes back within a second of
 * etcd: the client's defaults (a 30 s watch backoff, a circuit breaker that stays open 5 s)
 * would hold replicas on stale weights long after etcd is back.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Etcd3, type IOptions } from 'etcd3';

/**
 * etcd3 1.1.2 throws, from inside a gRPC stream handler (so the process dies), when a watch answer
 * comes for a watcher it has just dropped: seen when etcd restarts under several watchers (the
 * routes' and the leader election's). Such an answer is for nobody and is dropped instead.
 * etcd3 offers no supported hook for it. The patch relies on internals, so they are checked first:
 * an etcd3 whose WatchManager is not the one patched fails the start, naming the problem, rather
 * than crashing at the first watch answer or silently not being patched.
 */
function tolerateStrayWatchAnswers(): void {
  const { WatchManager } = createRequire(import.meta.url)('etcd3/lib/watch.js') as { WatchManager?: { prototype: Record<string, unknown> & { __brisk?: boolean } } };
  const proto = WatchManager?.prototype;
  if (proto?.__brisk) return;
  checkWatchInternals(proto);
  proto.__brisk = true;
  const original = proto['handleResponse'] as (this: { watchers: { id: unknown }[] }, res: { watch_id: unknown }) => void;
  proto['handleResponse'] = function (this: { watchers: { id: unknown }[] }, res: { watch_id: unknown }): void {
    if (!this.watchers.some((w) => w.id === res.watch_id)) return;
    original.call(this, res);
  };
}

/** Throws unless `proto` is etcd3 1.1.2's WatchManager: the method patched, the list it reads, the throw it prevents. */
export function checkWatchInternals(proto: Record<string, unknown> | undefined): asserts proto is Record<string, unknown> & { __brisk?: boolean } {
  const handleResponse = proto?.['handleResponse'];
  const source = typeof handleResponse === 'function' ? Function.prototype.toString.call(handleResponse) : '';
  if (!source.includes('this.watchers.find(') || !source.includes('res.watch_id') || !source.includes('Failed to find watcher for IWatchResponse')) {
    throw new Error(
      'etcd3 changed: its WatchManager.handleResponse is not the one brisk patches to survive etcd restarts (built against etcd3 1.1.2); check src/routing/etcd-client.ts against node_modules/etcd3/lib/watch.js',
    );
  }
}

/** Longest an etcd call (a read, a transaction) takes by default before it fails. */
export const DEFAULT_CALL_TIMEOUT_MS = 3000;

export interface EtcdClientOptions {
  endpoints: readonly string[];
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** Longest a unary call (a read, a transaction) may take. */
  callTimeoutMs?: number;
  /** How often the connection is pinged (etcd refuses pings more often than every 5 s, its --grpc-keepalive-min-time). */
  keepaliveTimeMs?: number;
  /** How long a ping may go unanswered before the connection is dropped. */
  keepaliveTimeoutMs?: number;
}

/** A backoff of 100 ms doubling to 1 s: cockatiel's IBackoff shape, which the client takes. */
function watchBackoff(duration = 100): { duration: number; next(): ReturnType<typeof watchBackoff> } {
  return { duration, next: () => watchBackoff(Math.min(1000, duration * 2)) };
}

/** Every call goes through: the deadline and the watch backoff are the fault handling. */
const passThrough = { execute: <T>(fn: (context: { signal: AbortSignal; attempt: number }) => T) => Promise.resolve().then(() => fn({ signal: new AbortController().signal, attempt: 0 })) };

export function etcdClient(options: EtcdClientOptions): Etcd3 {
  tolerateStrayWatchAnswers();
  const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const tls = options.caFile !== undefined || options.certFile !== undefined;
  const config: IOptions = {
    hosts: [...options.endpoints],
    dialTimeout: callTimeoutMs,
    // Without pings, a network that silently drops packets (a blackhole, not a closed connection)
    // leaves the watch open and waiting: brisk_route_store_connected would stay 1 on stale routes.
    grpcOptions: {
      'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 10_000,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? 5_000,
      'grpc.keepalive_permit_without_calls': 1,
    },
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: {
      // etcd3 retries a call that failed with a deadline by default, over a new connection: a write
      // etcd had applied (its answer lost) was applied again, and a compare-and-swap lost its own race.
      global: passThrough as never,
      host: () => passThrough as never,
      watchBackoff: watchBackoff() as never,
    },
    ...(tls
      ? {
          credentials: {
            rootCertificate: options.caFile ? readFileSync(options.caFile) : (undefined as unknown as Buffer),
            ...(options.keyFile ? { privateKey: readFileSync(options.keyFile) } : {}),
            ...(options.certFile ? { certChain: readFileSync(options.certFile) } : {}),
          },
        }
      : {}),
    ...(options.username !== undefined && options.password !== undefined ? { auth: { username: options.username, password: options.password } } : {}),
  };
  return new Etcd3(config);
}
