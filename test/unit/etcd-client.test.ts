import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { checkWatchInternals, etcdClient } from '../../src/routing/etcd-client.js';
import { waitFor } from '../helpers/conditions.js';

interface Backoff {
  duration: number;
  next(): Backoff;
}
const backoff = (): Backoff => ({ duration: 1, next: backoff });

const { WatchManager } = createRequire(import.meta.url)('etcd3/lib/watch.js') as {
  WatchManager: (new (client: unknown, backoff: { next(): Backoff }) => { handleResponse(res: { watch_id: string }): void; attach(watcher: unknown): void }) & { prototype: Record<string, unknown> };
};

// As etcd3 has them, before etcdClient() patches them.
const { handleResponse, handleError, establishStream } = WatchManager.prototype;

/** A watch stream as grpc-js gives it, far enough for the WatchManager: written to, cancelled, emitting. */
class FakeStream extends EventEmitter {
  readonly written: unknown[] = [];
  cancelled = false;
  write(message: unknown): void {
    this.written.push(message);
  }
  cancel(): void {
    this.cancelled = true;
  }
}

describe('the etcd3 watch patch', () => {
  // First: the check reads the methods before etcdClient() wraps them.
  it('accepts the etcd3 it was written for', () => {
    expect(() => checkWatchInternals(WatchManager.prototype)).not.toThrow();
  });

  it('drops a watch answer for a watcher the client no longer has, instead of throwing from the stream handler', () => {
    etcdClient({ endpoints: ['http://127.0.0.1:1'] }).close();
    const manager = new WatchManager({}, { next: backoff });
    expect(() => manager.handleResponse({ watch_id: '7' })).not.toThrow();
  });

  it('hears nothing more from a stream it replaced: neither a stale answer for a reused watch id nor its late error', async () => {
    etcdClient({ endpoints: ['http://127.0.0.1:1'] }).close();
    const streams: FakeStream[] = [];
    const manager = new WatchManager({ watch: async () => streams[streams.push(new FakeStream()) - 1] }, { next: backoff });
    const watcher = Object.assign(new EventEmitter(), { id: null as string | null, request: {} });
    const heard: string[] = [];
    watcher.on('data', (res: { header: string }) => heard.push(`data ${res.header}`)).on('disconnected', () => heard.push('disconnected'));
    manager.attach(watcher);
    await waitFor('the first stream', () => streams[0]?.written.length === 1);
    const [first] = streams as [FakeStream];
    first.emit('data', { created: true, watch_id: '0' });
    first.emit('error', new Error('etcd restarted'));
    expect(first.cancelled).toBe(true);
    await waitFor('the second stream', () => streams[1]?.written.length === 1);
    const second = streams[1]!;
    // etcd numbers watches per stream: the new one has id 0 again.
    second.emit('data', { created: true, watch_id: '0' });
    expect(watcher.id).toBe('0');
    heard.length = 0;

    first.emit('data', { watch_id: '0', header: 'stale', events: [] });
    first.emit('error', new Error('cancelled'));
    first.emit('end');
    second.emit('data', { watch_id: '0', header: 'live', events: [] });
    expect(heard).toEqual(['data live']);
    expect(second.cancelled).toBe(false);
  });

  it('fails loudly on an etcd3 whose internals differ', () => {
    expect(() => checkWatchInternals(undefined)).toThrow(/etcd3 changed: its WatchManager is not the one brisk patches/);
    expect(() => checkWatchInternals({ handleResponse() {} })).toThrow(/etcd3 changed/);
    expect(() => checkWatchInternals({ onResponse: () => undefined })).toThrow(/etcd3 changed/);
    // The stream replacement is patched too: its methods must be the ones expected as well.
    expect(() => checkWatchInternals({ handleResponse, handleError, establishStream })).not.toThrow();
    expect(() => checkWatchInternals({ handleResponse })).toThrow(/etcd3 changed/);
    expect(() => checkWatchInternals({ handleResponse, handleError })).toThrow(/etcd3 changed/);
  });
});
