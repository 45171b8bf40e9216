/**
 * Leader election for single-writer work (the rollout judge) among the replicas of one etcd
 * prefix, with the etcd3 client's election: the leader holds a lease that it keeps alive; when
 * it stops or loses etcd for longer than the lease, another replica is elected and takes over.
 * A replica that loses its lease steps down at once and campaigns again.
 *
 * etcd3 tells a campaign its lease is lost only 2 × TTL after the last keepalive, while etcd
 * expires it after 1 × TTL and elects another replica: two leaders for a whole TTL. So the leader
 * keeps its own clock: the lease lives at least TTL past the sending of the last keepalive etcd
 * answered, and the leader steps down a third of a TTL before that moment passes unrenewed.
 *
 * That clock cannot stop a leader that is paused (a GC, a stopped VM) between its check and its
 * write, so its writes carry a fence: its election key and that key's create revision, which etcd
 * compares in the write's own transaction (etcd-route-store.ts putDocument).
 */
import { EventEmitter } from 'node:events';
import type { Campaign, ElectionObserver, Namespace } from 'etcd3';
import type { Logger } from '../observability/logger.js';
import { boundedWait, type WriteFence } from './etcd-route-store.js';

/** Longest stop() waits for etcd to confirm the end of the observer's watch. */
const CANCEL_WAIT_MS = 1000;

export interface LeaderCallbacks {
  elected(): void;
  /** Called when leadership is lost (the lease expired or etcd refused it). */
  deposed(): void;
}

export class EtcdLeader {
  private campaign: Campaign | undefined;
  private leading = false;
  private stopped = false;
  private leaderName: string | undefined;
  private observing = false;
  /** While leading: the lease is alive in etcd at least until then (ms since the epoch). */
  private leaseValidUntil = 0;
  private leaseCheck: NodeJS.Timeout | undefined;
  private leaderFence: WriteFence | undefined;
  private observer: ElectionObserver | undefined;

  constructor(
    private readonly ns: Namespace,
    private readonly name: string,
    readonly replica: string,
    private readonly ttlSeconds: number,
    private readonly callbacks: LeaderCallbacks,
    private readonly log: Logger,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** While leading: the condition on which etcd takes this leader's writes. */
  fence(): WriteFence | undefined {
    return this.leading ? this.leaderFence : undefined;
  }

  /** Undefined when this replica leads; otherwise why it may not do single-writer work. */
  notLeader = (): string | undefined => {
    if (this.leading) return undefined;
    return `rollouts are judged and changed by the leader replica${this.leaderName ? ` (${this.leaderName})` : ''}, not by ${this.replica}; ${this.leaderName ? 'send the call through another replica or retry' : 'no leader is elected yet (is etcd reachable?); retry'}`;
  };

  start(): void {
    if (this.stopped) return;
    const election = this.ns.election(this.name, this.ttlSeconds);
    if (!this.observing) this.observe(election);
    const campaignedAt = Date.now();
    const campaign = election.campaign(this.replica);
    this.campaign = campaign;
    // The lease is granted after this moment, so it lives at least a TTL from it.
    this.leaseValidUntil = campaignedAt + this.ttlSeconds * 1000;
    const lease = campaignLease(campaign);
    let firedAt: number[] = [];
    lease.on('keepaliveFired', () => firedAt.push(Date.now()));
    lease.on('keepaliveSucceeded', () => {
      // Answers come in order: this one is for the oldest keepalive not yet answered.
      const sentAt = firedAt.shift();
      if (sentAt !== undefined && this.campaign === campaign) this.leaseValidUntil = Math.max(this.leaseValidUntil, sentAt + this.ttlSeconds * 1000);
    });
    // A keepalive stream that failed never answers the ones it took.
    lease.on('keepaliveFailed', () => (firedAt = []));
    campaign.on('elected', () => {
      if (this.campaign !== campaign) return;
      // The lease is granted by now: this resolves at once with the key the campaign wrote.
      void campaign.getCampaignKey().then(
        (key) => this.elected(campaign, key),
        (error: Error) => this.campaign === campaign && this.lostLease(campaign, error.message),
      );
    });
    campaign.on('error', (error: Error) => {
      if (this.campaign === campaign) this.lostLease(campaign, error.message);
    });
  }

  private elected(campaign: Campaign, key: string): void {
    if (this.campaign !== campaign) return;
    if (!this.leaseAlive()) {
      this.lostLease(campaign, 'the lease was not renewed in time to lead');
      return;
    }
    const createRevision = campaignKeyRevision(campaign);
    if (createRevision === undefined) {
      // Without a fence its writes could overwrite a later leader's: it does not lead.
      this.log.error({ replica: this.replica }, 'etcd3 changed: a Campaign has no key revision to fence the leader\'s writes with (brisk is built against etcd3 1.1.2); not leading');
      this.lostLease(campaign, 'no fence for the leader\'s writes');
      return;
    }
    this.leaderFence = { key, createRevision };
    this.leading = true;
    this.leaseCheck = setInterval(() => {
      if (this.campaign === campaign && !this.leaseAlive()) this.lostLease(campaign, 'the lease may expire in etcd: keepalives are not answered');
    }, 100).unref();
    this.leaderName = this.replica;
    this.log.info({ replica: this.replica, election: this.name }, 'elected leader: this replica runs the rollout judge');
    this.callbacks.elected();
  }

  /** Gives leadership up (to another replica) and campaigns again. */
  stepDown(reason: string): void {
    if (this.campaign) this.lostLease(this.campaign, reason);
  }

  private leaseAlive(): boolean {
    return Date.now() < this.leaseValidUntil - (this.ttlSeconds * 1000) / 3;
  }

  /** Steps down at once (before another replica can be elected), resigns and campaigns again. */
  private lostLease(campaign: Campaign, reason: string): void {
    this.campaign = undefined;
    clearInterval(this.leaseCheck);
    const wasLeading = this.leading;
    this.leading = false;
    this.leaderFence = undefined;
    this.log.warn({ replica: this.replica, reason, wasLeading }, 'leader election: lease lost; campaigning again');
    if (wasLeading) this.callbacks.deposed();
    void campaign.resign().catch(() => undefined);
    setTimeout(() => this.start(), 500).unref();
  }

  /** Who leads, for the answers of the other replicas. */
  private observe(election: ReturnType<Namespace['election']>): void {
    this.observing = true;
    election
      .observe()
      .then((observer) => {
        // Stopped while the observer started: it watches nothing for anybody.
        if (this.stopped) return void boundedWait(observer.cancel(), CANCEL_WAIT_MS);
        this.observer = observer;
        this.leaderName = observer.leader();
        observer.on('change', (value) => (this.leaderName = value));
        // The observer stops at an error: the next campaign observes again.
        observer.on('error', () => {
          if (this.observer === observer) [this.observer, this.observing] = [undefined, false];
        });
      })
      .catch(() => (this.observing = false));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.leaseCheck);
    const campaign = this.campaign;
    this.campaign = undefined;
    if (this.leading) {
      this.leading = false;
      this.leaderFence = undefined;
      this.callbacks.deposed();
    }
    // Resigning hands over at once rather than after the lease's time-to-live.
    const observer = this.observer;
    this.observer = undefined;
    await Promise.all([campaign?.resign().catch(() => undefined), boundedWait(observer?.cancel(), CANCEL_WAIT_MS)]);
  }
}

/**
 * The campaign's lease, whose keepalive events etcd3 does not forward. Checked, so that an
 * etcd3 without it fails the start rather than leaving a leader without its clock.
 */
function campaignLease(campaign: Campaign): EventEmitter {
  const lease = (campaign as unknown as { lease?: unknown }).lease;
  if (!(lease instanceof EventEmitter)) throw new Error('etcd3 changed: a Campaign has no lease to watch the keepalives of (brisk is built against etcd3 1.1.2)');
  return lease;
}

/** The create revision of the campaign's key (etcd3 keeps it private), or undefined when etcd3 has none. */
function campaignKeyRevision(campaign: Campaign): string | undefined {
  const revision = (campaign as unknown as { keyRevision?: unknown }).keyRevision;
  return typeof revision === 'string' && /^[1-9][0-9]*$/.test(revision) ? revision : undefined;
}
