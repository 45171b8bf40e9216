/**
 * Leader election for single-writer work (the rollout judge) among the replicas of one etcd
 * prefix, with the etcd3 client's election: the leader holds a lease that it keeps alive; when
 * it stops or loses etcd for longer than the lease, another replica is elected and takes over.
 * A replica that loses its lease steps down at once and campaigns again.
 */
import type { Campaign, Namespace } from 'etcd3';
import type { Logger } from '../observability/logger.js';

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

  /** Undefined when this replica leads; otherwise why it may not do single-writer work. */
  notLeader = (): string | undefined => {
    if (this.leading) return undefined;
    return `rollouts are judged and changed by the leader replica${this.leaderName ? ` (${this.leaderName})` : ''}, not by ${this.replica}; ${this.leaderName ? 'send the call through another replica or retry' : 'no leader is elected yet (is etcd reachable?); retry'}`;
  };

  start(): void {
    if (this.stopped) return;
    const election = this.ns.election(this.name, this.ttlSeconds);
    if (!this.observing) this.observe(election);
    const campaign = election.campaign(this.replica);
    this.campaign = campaign;
    campaign.on('elected', () => {
      if (this.campaign !== campaign) return;
      this.leading = true;
      this.leaderName = this.replica;
      this.log.info({ replica: this.replica, election: this.name }, 'elected leader: this replica runs the rollout judge');
      this.callbacks.elected();
    });
    campaign.on('error', (error: Error) => {
      if (this.campaign !== campaign) return;
      this.campaign = undefined;
      const wasLeading = this.leading;
      this.leading = false;
      this.log.warn({ replica: this.replica, reason: error.message, wasLeading }, 'leader election: lease lost; campaigning again');
      if (wasLeading) this.callbacks.deposed();
      void campaign.resign().catch(() => undefined);
      setTimeout(() => this.start(), 500).unref();
    });
  }

  /** Who leads, for the answers of the other replicas. */
  private observe(election: ReturnType<Namespace['election']>): void {
    this.observing = true;
    election
      .observe()
      .then((observer) => {
        this.leaderName = observer.leader();
        observer.on('change', (value) => (this.leaderName = value));
        observer.on('error', () => undefined);
      })
      .catch(() => (this.observing = false));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const campaign = this.campaign;
    this.campaign = undefined;
    if (this.leading) {
      this.leading = false;
      this.callbacks.deposed();
    }
    // Resigning hands over at once rather than after the lease's time-to-live.
    await campaign?.resign().catch(() => undefined);
  }
}
