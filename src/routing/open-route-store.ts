/**
 * The route store the flags ask for: the state directory (`--route-store file`), or etcd shared
 * by every replica (`--route-store etcd`), with the rollouts kept beside the routes and judged by
 * the elected leader alone.
 */
import os from 'node:os';
import type { Registry } from 'prom-client';
import type { ServerConfig } from '../config/server-config.js';
import type { Logger } from '../observability/logger.js';
import { parseRolloutsText, rolloutsText, type RolloutRecordStore } from '../rollout/rollout-record.js';
import { etcdClient } from './etcd-client.js';
import { EtcdLeader } from './etcd-leader.js';
import { ServingError } from '../errors.js';
import { EtcdRouteStore, FencedOutError, type WriteFence } from './etcd-route-store.js';
import { FileRouteStore, type RouteStore } from './route-store.js';

/** The etcd document that holds the rollouts (the file store's rollouts.json). */
export const ROLLOUTS_DOCUMENT = 'rollouts';
/** A leader gone without resigning (killed, cut off) is replaced after this long. */
const LEADER_LEASE_SECONDS = 5;

export interface OpenedRouteStore {
  store: RouteStore;
  /** For the rollout controller: where its records live, and whether this replica may act. */
  rollouts: { records?: RolloutRecordStore; notLeader?: () => string | undefined };
  leader?: { start(elected: () => Promise<void>, deposed: () => void): void; stop(): Promise<void> };
}

export function etcdStoreFromConfig(config: ServerConfig, log: Logger, registry?: Registry): EtcdRouteStore {
  const client = etcdClient({
    endpoints: config.etcdEndpoints ?? [],
    caFile: config.etcdCaFile,
    certFile: config.etcdCertFile,
    keyFile: config.etcdKeyFile,
    username: config.etcdUsername,
    password: config.etcdPassword,
  });
  return new EtcdRouteStore(client, config.etcdPrefix, log, registry);
}

/** What the rollout records need of the leader: its fence, and stepping down when etcd refuses it. */
export interface RolloutWriter {
  fence(): WriteFence | undefined;
  stepDown(reason: string): void;
}

/**
 * The rollouts as one etcd document, written by the leader alone and fenced on its election key:
 * a write that etcd refuses (the lease gone, another leader elected) changes nothing, and this
 * replica steps down.
 */
export function etcdRolloutRecords(store: EtcdRouteStore, log: Logger, writer: () => RolloutWriter | undefined): RolloutRecordStore {
  return {
    read: (onCorrupt) => {
      const text = store.document(ROLLOUTS_DOCUMENT);
      if (text === undefined) return new Map();
      try {
        return parseRolloutsText(text);
      } catch (error) {
        onCorrupt(`${store.prefix}doc/${ROLLOUTS_DOCUMENT} (left as it is)`, error instanceof Error ? error.message : String(error));
        return new Map();
      }
    },
    write: async (records) => {
      const leader = writer();
      const fence = leader?.fence();
      if (!leader || !fence) throw new ServingError('OVERLOADED', 'the rollouts were not written: this replica no longer leads', 1);
      try {
        await store.putDocument(ROLLOUTS_DOCUMENT, rolloutsText(records), fence);
      } catch (error) {
        if (error instanceof FencedOutError) {
          log.error({ reason: error.message }, 'a rollout write was refused by etcd: another replica may lead; stepping down');
          leader.stepDown(error.message);
        }
        throw error;
      }
    },
  };
}

export function openRouteStore(config: ServerConfig, log: Logger, registry?: Registry): OpenedRouteStore {
  if (config.routeStore === 'file') return { store: new FileRouteStore(config.stateDir, log), rollouts: {} };
  const store = etcdStoreFromConfig(config, log, registry);
  const replica = config.replicaName ?? `${os.hostname()}-${process.pid}`;
  let leader: EtcdLeader | undefined;
  return {
    store,
    rollouts: { records: etcdRolloutRecords(store, log, () => leader), notLeader: () => (leader ? leader.notLeader() : 'the leader election has not started yet; retry') },
    leader: {
      start: (elected, deposed) => {
        leader = new EtcdLeader(
          store.namespace,
          'rollout-judge',
          replica,
          LEADER_LEASE_SECONDS,
          {
            // The rollouts as etcd has them now, not as this replica's watch has brought them so far.
            elected: () =>
              void store
                .refreshDocument(ROLLOUTS_DOCUMENT)
                .then(elected)
                .catch((error: unknown) => {
                  // A leader that cannot run the rollouts lets another replica try.
                  log.error({ err: error }, 'cannot take the rollouts over: stepping down');
                  leader?.stepDown('the rollouts could not be taken over');
                }),
            deposed,
          },
          log,
        );
        leader.start();
      },
      stop: async () => leader?.stop(),
    },
  };
}
