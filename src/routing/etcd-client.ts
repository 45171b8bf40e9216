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
 * etcd3 1.1.2's WatchManager, when its stream fails, cancels it and opens another, but leaves its
 * listeners on the old one. What that cancelled stream still delivers then reaches the manager as
 * if it came from the new one: an answer for a watch id the new stream reuses goes to a live watcher
 * (etcd numbers watches per stream), one for an id gone throws from inside the stream handler (the
 * process dies: seen when etcd restarts under several watchers), and its late error or end tears the
 * new stream down. So the old stream's listeners are taken off when it is replaced, and an answer for
 * no watcher is dropped. etcd3 offers no supported hook for either. The patch relies on internals, so
 * they are checked first: an etcd3 whose WatchManager is not the one patched fails the start, naming
 * the problem, rather than misbehaving at the first watch answer or silently not being patched.
 */
interface PatchedManager {
  watchers: { id: unknown }[];
  state: number;
  stream?: NodeJS.EventEmitter;
}

function patchWatchManager(): void {
  const { WatchManager } = createRequire(import.meta.url)('etcd3/lib/watch.js') as { WatchManager?: { prototype: Record<string, unknown> & { __brisk?: boolean } } };
  const proto = WatchManager?.prototype;
  if (proto?.__brisk) return;
  checkWatchInternals(proto);
  proto.__brisk = true;
  const handleResponse = proto['handleResponse'] as (this: PatchedManager, res: { watch_id: unknown }) => void;
  proto['handleResponse'] = function (this: PatchedManager, res: { watch_id: unknown }): void {
    if (!this.watchers.some((w) => w.id === res.watch_id)) return;
    handleResponse.call(this, res);
  };
  const handleError = proto['handleError'] as (this: PatchedManager, error: Error) => void;
  proto['handleError'] = function (this: PatchedManager, error: Error): void {
    // Connected (2): the stream in use is cancelled by this call and replaced after the backoff.
    const replaced = this.state === 2 ? this.stream : undefined;
    handleError.call(this, error);
    if (!replaced) return;
    for (const event of ['data', 'error', 'end']) replaced.removeAllListeners(event);
    // Its cancellation still ends in an error event: one without a listener would throw.
    replaced.on('error', () => undefined);
  };
}

/** Throws unless `proto` is etcd3 1.1.2's WatchManager: the methods patched, what they read, the throw prevented. */
export function checkWatchInternals(proto: Record<string, unknown> | undefined): asserts proto is Record<string, unknown> & { __brisk?: boolean } {
  const source = (name: string): string => {
    const method = proto?.[name];
    return typeof method === 'function' ? Function.prototype.toString.call(method) : '';
  };
  const handleResponse = source('handleResponse');
  const handleError = source('handleError');
  const establishStream = source('establishStream');
  const as112 =
    handleResponse.includes('this.watchers.find(') &&
    handleResponse.includes('res.watch_id') &&
    handleResponse.includes('Failed to find watcher for IWatchResponse') &&
    // handleError cancels the stream only when connected (state 2) and goes idle (0);
    // establishStream puts its three listeners on the new stream it keeps in this.stream.
    handleError.includes('if (this.state === 2 /* State.Connected */)') &&
    handleError.includes('this.getStream().cancel()') &&
    handleError.includes('this.state = 0 /* State.Idle */') &&
    establishStream.includes('this.stream = stream') &&
    [".on('data'", ".on('error'", ".on('end'"].every((on) => establishStream.includes(on));
  if (!as112) {
    throw new Error(
      'etcd3 changed: its WatchManager is not the one brisk patches to survive etcd restarts (built against etcd3 1.1.2); check src/routing/etcd-client.ts against node_modules/etcd3/lib/watch.js',
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
  patchWatchManager();
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
