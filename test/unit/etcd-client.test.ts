import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { checkWatchInternals, etcdClient } from '../../src/routing/etcd-client.js';

const { WatchManager } = createRequire(import.meta.url)('etcd3/lib/watch.js') as {
  WatchManager: new (client: unknown, backoff: { next(): unknown }) => { handleResponse(res: { watch_id: string }): void; prototype: Record<string, unknown> };
};

describe('the etcd3 watch patch', () => {
  // First: the check reads the method before etcdClient() wraps it.
  it('accepts the etcd3 it was written for', () => {
    expect(() => checkWatchInternals(WatchManager.prototype as unknown as Record<string, unknown>)).not.toThrow();
  });

  it('drops a watch answer for a watcher the client no longer has, instead of throwing from the stream handler', () => {
    etcdClient({ endpoints: ['http://127.0.0.1:1'] }).close();
    const manager = new WatchManager({}, { next: () => ({ duration: 1, next: () => undefined }) });
    expect(() => manager.handleResponse({ watch_id: '7' })).not.toThrow();
  });

  it('fails loudly on an etcd3 whose internals differ', () => {
    expect(() => checkWatchInternals(undefined)).toThrow(/etcd3 changed: its WatchManager.handleResponse/);
    expect(() => checkWatchInternals({ handleResponse() {} })).toThrow(/etcd3 changed/);
    expect(() => checkWatchInternals({ onResponse: () => undefined })).toThrow(/etcd3 changed/);
  });
});
