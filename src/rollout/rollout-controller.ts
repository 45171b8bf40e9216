/**
 * Progressive rollouts: for each route with one, steps its target's weight up interval by
 * interval, judges every interval from the requests that interval's weights routed
 * (judge.ts), and promotes, holds, pauses or rolls back. All route changes go through the
 * RouteStore with the revision the rollout last saw, so a change by anyone else wins, and
 * aborts the rollout (the store tells its watchers of every change).
 *
 * The figures come from `onOutcome`, which the serving core calls for every routed request:
 * it looks the route up in a Map, counts, and puts a latency in a fixed reservoir; nothing
 * is allocated. An error burst is caught there: once the interval holds `failure_limit` fails'
 * worth of canary requests (what is left of it: (failure_limit − fails) × min_requests) and
 * their error rate breaks the gate, the interval is judged at once rather than at its end.
 *
 * Decisions are applied one at a time (a promise chain). A decision that changes the route is
 * saved first (applied: false), then applied, then saved as applied: a restart in between
 * finishes it, unless someone changed the route since, whose change stands.
 */
import { ServingError, invalidArgument } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { primaryTarget, targetId } from '../routing/route.js';
import type { RouteStore, RouteState, RouteAction } from '../routing/route-store.js';
import type { RouteOutcomeListener } from '../routing/router.js';
import type { ShadowStats, ShadowStatsTable } from '../routing/shadow-stats.js';
import { SideWindow } from './interval-window.js';
import { judgeInterval, type ShadowFigures } from './judge.js';
import type { RolloutMetrics } from './rollout-metrics.js';
import { INTERVALS_KEPT, isFinished, rolloutFileStore, type IntervalRecord, type RolloutRecordStore, type RolloutRecord, type RolloutState } from './rollout-record.js';
import { parseRolloutSpec, type RolloutSpec } from './rollout-spec.js';
import { othersWeight, shadowsTarget, specWithWeight, weightOfTarget, type VersionRef } from './rollout-weights.js';

export interface RolloutDependencies {
  store: RouteStore;
  shadowStats: ShadowStatsTable;
  /** Why a model version cannot serve, or undefined when it can. */
  servable(model: string, version: string): string | undefined;
  /** A ready version's inputs and outputs as one comparable string; undefined when it has none to give. */
  signature(model: string, version: string): string | undefined;
  stateDir: string;
  /** Where the rollouts are kept; the state directory when absent. */
  records?: RolloutRecordStore;
  /**
   * With replicas (--route-store etcd) one of them, the leader, judges and changes the rollouts;
   * undefined when this replica may, or why it may not (who the leader is).
   */
  notLeader?: () => string | undefined;
  log: Logger;
  metrics?: RolloutMetrics;
  random?: () => number;
}

/** The shadow counters at an interval's start, to take the interval's share from. */
interface ShadowMark {
  compared: number;
  errors: number;
  sumMeanAbsDiff: number;
  argmaxAgreed: number;
  argmaxRows: number;
}

/** A rollout in memory: its record and the current interval's figures. */
class LiveRollout {
  readonly canary: SideWindow;
  readonly primary: SideWindow;
  timer: NodeJS.Timeout | undefined = undefined;
  intervalStartedAt = new Date();
  /** Set while an interval is being judged and its decision applied: no burst check schedules another. */
  judging = false;
  /** True from an interval's start until it is judged: its timer and a burst check may both fire, and only the first judges. */
  open = false;
  shadow: ShadowStats | undefined = undefined;
  shadowMark: ShadowMark | undefined = undefined;

  constructor(
    public record: RolloutRecord,
    random: () => number,
  ) {
    this.canary = new SideWindow(undefined, random);
    this.primary = new SideWindow(undefined, random);
  }

  isTarget(model: string, version: string): boolean {
    return model === this.record.spec.target.model && version === this.record.spec.target.version;
  }

  isBaseline(model: string, version: string): boolean {
    return model === this.record.baseline.model && version === this.record.baseline.version;
  }
}

const now = (): string => new Date().toISOString();
const weightAt = (spec: RolloutSpec, step: number): number => (step === 0 ? 0 : spec.steps[step - 1]!);

export class RolloutController {
  private readonly live = new Map<string, LiveRollout>();
  private chain: Promise<unknown> = Promise.resolve();
  private saving: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly random: () => number;
  private readonly records: RolloutRecordStore;

  constructor(private readonly deps: RolloutDependencies) {
    this.random = deps.random ?? Math.random;
    this.records = deps.records ?? rolloutFileStore(deps.stateDir);
    deps.store.watch((route, action, token) => this.routeChanged(route, action, token));
  }

  /** For InferenceService's `onOutcome`: O(1), allocation-free, on every routed request. */
  readonly onOutcome: RouteOutcomeListener = (route, model, version, _role, outcome, seconds) => {
    const live = this.live.get(route);
    if (live === undefined) return;
    const record = live.record;
    if (live.isTarget(model, version)) {
      // Every answer of the target is counted, stragglers after a rollback included, so that the
      // errors it gave are known exactly; the window is reset at each interval's start.
      record.totals.canary_requests += 1;
      if (live.canary.record(outcome, seconds)) {
        record.totals.canary_errors += 1;
        if (record.state === 'progressing') this.checkBurst(live);
      }
      return;
    }
    if (live.isBaseline(model, version)) live.primary.record(outcome, seconds);
  };

  /** Restores the saved rollouts and resumes the ones in progress, each with a fresh interval. */
  async load(): Promise<void> {
    // Also when a replica becomes the leader: what an earlier leader left is taken up afresh.
    this.stopped = false;
    for (const live of this.live.values()) clearTimeout(live.timer);
    this.live.clear();
    const records = this.records.read((setAside, reason) =>
      this.deps.log.error({ setAside, reason }, 'rollout state file is corrupt: set aside, no rollouts restored'),
    );
    for (const record of records.values()) this.live.set(record.route, new LiveRollout(record, this.random));
    await this.serial(async () => {
      for (const live of this.live.values()) {
        try {
          await this.resumeAfterRestart(live);
        } catch (error) {
          // A rollout that cannot go on (a hand-edited file, a route that lost its primary) waits
          // for a person; it never keeps the server from starting.
          const why = error instanceof Error ? error.message : String(error);
          this.deps.log.error({ route: live.record.route, err: error }, 'rollout could not be resumed after a restart');
          clearTimeout(live.timer);
          if (!isFinished(live.record.state)) this.update(live, { state: 'paused', reason: `paused: it could not be resumed after a restart: ${why}` });
          await this.save().catch(() => undefined);
        }
      }
    });
  }

  /**
   * Timers stop and no decision starts; resolves once the one under way, if any, has been
   * applied and saved. The saved state stays as it is, for the next start to resume.
   */
  stop(): Promise<void> {
    this.stopped = true;
    for (const live of this.live.values()) clearTimeout(live.timer);
    return this.chain.then(() => this.saving).then(() => undefined);
  }

  get(route: string): RolloutView | undefined {
    if (this.deps.notLeader?.() !== undefined) {
      // Another replica judges it: its record as last saved, in the shared store.
      const record = this.records.read(() => undefined).get(route);
      return record && view(new LiveRollout(record, this.random));
    }
    const live = this.live.get(route);
    return live && view(live);
  }

  /** Rollout changes are made by the leader alone: elsewhere they are refused with 503 and its name. */
  private refusal(): ServingError | undefined {
    const reason = this.deps.notLeader?.();
    return reason === undefined ? undefined : new ServingError('OVERLOADED', reason, 1);
  }

  start(route: string, raw: unknown, token: string): Promise<RolloutView> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return this.serial(async () => {
      const current = this.deps.store.get(route);
      if (!current) throw new ServingError('NOT_FOUND', `no route ${route}`);
      const spec = parseRolloutSpec(raw);
      const existing = this.live.get(route);
      if (existing && !isFinished(existing.record.state)) {
        throw new ServingError('CONFLICT', `route ${route} already has a rollout ${existing.record.state}; abort it first`);
      }
      const baseline = this.checkStartable(current, spec);
      const step = shadowsTarget(current.spec, spec.target) ? 0 : 1;
      const record: RolloutRecord = {
        route,
        spec,
        baseline,
        state: 'progressing',
        step,
        weight: weightAt(spec, step),
        fails: 0,
        inconclusive: 0,
        intervals: [],
        started_at: now(),
        updated_at: now(),
        started_by: token,
        reason: null,
        route_revision: current.revision,
        applied: false,
        superseded: false,
        totals: { canary_requests: 0, canary_errors: 0 },
      };
      const live = new LiveRollout(record, this.random);
      this.live.set(route, live);
      const steps = `steps ${spec.steps.join(', ')}, every ${spec.interval_seconds} s`;
      const reason =
        step === 0
          ? `rollout of ${targetId(spec.target)} started by ${token} (${steps}): step 0, judged on its shadow`
          : `rollout of ${targetId(spec.target)} started by ${token} (${steps}): step 1, ${record.weight}%`;
      try {
        await this.apply(live, reason, token);
      } catch (error) {
        // Nothing changed on the route: the rollout never started, and is not kept.
        this.live.delete(route);
        if (existing) this.live.set(route, existing);
        await this.save().catch(() => undefined);
        throw error;
      }
      this.deps.log.info({ route, target: spec.target, steps: spec.steps, intervalSeconds: spec.interval_seconds, token }, 'rollout started');
      this.startInterval(live);
      return view(live);
    });
  }

  pause(route: string, token: string): Promise<RolloutView> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return this.serial(async () => {
      const live = this.active(route, 'pause');
      if (live.record.state === 'paused') return view(live);
      await this.pauseNow(live, `paused by ${token}`, token);
      return view(live);
    });
  }

  resume(route: string, token: string): Promise<RolloutView> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return this.serial(async () => {
      const live = this.active(route, 'resume');
      if (live.record.state === 'progressing') return view(live);
      this.update(live, { state: 'progressing', inconclusive: 0, reason: null });
      await this.save();
      await this.deps.store.note(route, `rollout:${token}`, `rollout of ${targetId(live.record.spec.target)} resumed by ${token} at step ${live.record.step} (${live.record.weight}%)`);
      this.startInterval(live);
      return view(live);
    });
  }

  /** The target's weight returns to 0 and the rollout ends. */
  abort(route: string, token: string): Promise<RolloutView> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return this.serial(async () => {
      const live = this.active(route, 'abort');
      clearTimeout(live.timer);
      const { baseline, spec } = live.record;
      const current = this.deps.store.get(route);
      if (!current || !current.spec.targets.some((t) => t.model === baseline.model && t.version === baseline.version)) {
        // Nothing to give the weight back to: the rollout ends, and the route stays as it is.
        const reason = `aborted by ${token}; the route no longer has its primary ${targetId(baseline)} and is left as it is`;
        this.update(live, { state: 'aborted', weight: current ? weightOfTarget(current.spec, spec.target) : 0, reason, applied: true, route_revision: current?.revision ?? live.record.route_revision });
        await this.save();
        if (current) await this.deps.store.note(route, `rollout:${token}`, `rollout of ${targetId(spec.target)} ${reason}`);
        return view(live);
      }
      this.update(live, { state: 'aborted', weight: 0, reason: `aborted by ${token}` });
      await this.apply(live, `rollout of ${targetId(live.record.spec.target)} aborted by ${token}: its weight back to 0`, token);
      return view(live);
    });
  }

  private active(route: string, what: string): LiveRollout {
    const live = this.live.get(route);
    if (!live) throw new ServingError('NOT_FOUND', `route ${route} has no rollout`);
    if (isFinished(live.record.state)) throw new ServingError('CONFLICT', `cannot ${what} the rollout of route ${route}: it is ${live.record.state}`);
    return live;
  }

  /** The baseline (the route's primary); throws INVALID_ARGUMENT when the target cannot be rolled out on this route. */
  private checkStartable(current: RouteState, spec: RolloutSpec): VersionRef {
    const { target } = spec;
    const id = targetId(target);
    const problem = this.deps.servable(target.model, target.version);
    if (problem) throw invalidArgument(`invalid rollout: ${id} ${problem}`);
    if (!current.spec.targets.some((t) => t.model === target.model)) {
      throw invalidArgument(`invalid rollout: route ${current.name} does not serve model ${target.model}`);
    }
    const primary = primaryTarget(current.spec);
    if (primary.model === target.model && primary.version === target.version) throw invalidArgument(`invalid rollout: ${id} is already the primary of route ${current.name}`);
    const baseline = { model: primary.model, version: primary.version };
    const targetSignature = this.deps.signature(target.model, target.version);
    const baselineSignature = this.deps.signature(baseline.model, baseline.version);
    if (targetSignature !== undefined && baselineSignature !== undefined && targetSignature !== baselineSignature) {
      throw invalidArgument(`invalid rollout: ${id} takes or returns other tensors than the primary ${targetId(baseline)}; clients' requests would be refused`);
    }
    const others = othersWeight(current.spec, target, baseline);
    const tooBig = spec.steps.find((s) => s < 100 && s + others > 99);
    if (tooBig !== undefined) throw invalidArgument(`invalid rollout: step ${tooBig}% leaves the primary nothing beside the other targets' ${others}%`);
    // Step 1 at 100% would promote the target before a single interval is judged.
    if (spec.steps[0]! >= 100 && !shadowsTarget(current.spec, target)) {
      throw invalidArgument(
        `invalid rollout: steps [${spec.steps.join(', ')}] give ${id} all the traffic before any interval is judged; start under 100%, or shadow ${id} on route ${current.name} first (step 0)`,
      );
    }
    const shadowGates = spec.gates.max_shadow_mean_abs_difference !== null || spec.gates.min_argmax_agreement !== null;
    if (shadowGates && !shadowsTarget(current.spec, target)) {
      throw invalidArgument(`invalid rollout: the shadow gates need route ${current.name} to shadow ${id} (step 0); add it to the route's shadows first`);
    }
    return baseline;
  }

  /**
   * Starts the next interval. After an inconclusive one the figures carry over (the weights have
   * not changed): an interval too short for its traffic is extended rather than wasted, and a
   * canary that fails every request it gets is caught by the burst check however thin its traffic.
   */
  private startInterval(live: LiveRollout, carryOver = false): void {
    if (this.stopped || live.record.state !== 'progressing') return;
    const { spec } = live.record;
    if (!carryOver) {
      live.canary.reset();
      live.primary.reset();
      live.intervalStartedAt = new Date();
      if (shadowsTarget(this.deps.store.get(live.record.route)?.spec ?? { targets: [], shadows: [] }, spec.target)) {
        live.shadow = this.deps.shadowStats.for(live.record.route, targetId(spec.target));
        live.shadowMark = markOf(live.shadow);
      } else {
        live.shadow = undefined;
        live.shadowMark = undefined;
      }
    }
    live.judging = false;
    live.open = true;
    clearTimeout(live.timer);
    live.timer = setTimeout(() => this.endInterval(live, false), spec.interval_seconds * 1000);
    live.timer.unref();
  }

  private checkBurst(live: LiveRollout): void {
    if (!live.judging && burstHolds(live)) {
      live.judging = true;
      setImmediate(() => this.endInterval(live, true));
    }
  }

  /** Judges the interval now; its decision is applied in turn with the API's calls. */
  private endInterval(live: LiveRollout, early: boolean): void {
    if (this.stopped || !live.open || live.record.state !== 'progressing' || this.live.get(live.record.route) !== live) return;
    if (early && !burstHolds(live)) {
      // Successes came in since the burst was seen: the error rate is back under the gate. An early
      // verdict would cut the interval short (and step up on a pass); the interval goes on instead.
      live.judging = false;
      return;
    }
    clearTimeout(live.timer);
    live.open = false;
    live.judging = true;
    const { record } = live;
    const judgement = judgeInterval(record.spec, record.step, {
      canary: live.canary,
      primary: live.primary,
      canarySamples: live.canary.sortedSamples(),
      primarySamples: live.primary.sortedSamples(),
      shadow: live.shadow && live.shadowMark ? shadowFigures(live.shadow, live.shadowMark) : null,
    });
    const interval: IntervalRecord = {
      index: (record.intervals.at(-1)?.index ?? 0) + 1,
      step: record.step,
      weight: record.weight,
      started_at: live.intervalStartedAt.toISOString(),
      ended_at: now(),
      early,
      ...judgement,
    };
    record.intervals.push(interval);
    if (record.intervals.length > INTERVALS_KEPT) record.intervals.splice(0, record.intervals.length - INTERVALS_KEPT);
    this.deps.metrics?.verdict(record.route, judgement.verdict);
    this.deps.log.info({ route: record.route, interval: interval.index, step: record.step, weight: record.weight, verdict: judgement.verdict, reasons: judgement.reasons, early }, 'rollout interval judged');
    void this.serial(() => this.decide(live, interval)).catch((error: unknown) => {
      this.deps.log.error({ route: record.route, err: error }, 'rollout decision failed; the rollout is paused');
      if (live.record.state === 'progressing' && !this.stopped) void this.serial(() => this.pauseNow(live, `paused: a decision could not be applied (${error instanceof Error ? error.message : String(error)})`, 'rollout'));
    });
  }

  private async decide(live: LiveRollout, interval: IntervalRecord): Promise<void> {
    const { record } = live;
    // An API call or a change by hand came first, or the server is stopping (a restart judges afresh).
    if (this.stopped || record.state !== 'progressing' || this.live.get(record.route) !== live) return;
    const target = targetId(record.spec.target);
    const figures = summary(interval);
    const token = `rollout:${record.started_by}`;
    if (interval.verdict === 'pass') {
      const next = record.step + 1;
      const nextWeight = next > record.spec.steps.length ? 100 : weightAt(record.spec, next);
      if (nextWeight >= 100) {
        this.update(live, { state: 'promoted', step: next, weight: 100, fails: record.fails, inconclusive: 0, reason: `promoted after interval ${interval.index} passed` });
        await this.apply(live, `rollout of ${target} promoted: interval ${interval.index} at step ${interval.step} passed (${figures})`, token);
        this.deps.log.info({ route: record.route, target }, 'rollout promoted');
        return;
      }
      this.update(live, { step: next, weight: nextWeight, inconclusive: 0 });
      await this.apply(live, `rollout of ${target} to step ${next}, ${nextWeight}%: interval ${interval.index} passed (${figures})`, token);
    } else if (interval.verdict === 'fail') {
      const fails = interval.early ? Math.max(record.fails + 1, record.spec.failure_limit) : record.fails + 1;
      if (fails >= record.spec.failure_limit) {
        const why = `${interval.early ? 'an error burst mid-interval' : `${fails} failed intervals`}: ${interval.reasons.join('; ')}`;
        this.update(live, { state: 'rolled_back', weight: 0, fails, inconclusive: 0, reason: `rolled back after ${why}` });
        await this.apply(live, `rollout of ${target} rolled back at step ${interval.step} after ${why} (${figures})`, token);
        this.deps.log.warn({ route: record.route, target, reasons: interval.reasons, canaryErrors: interval.canary.errors }, 'rollout rolled back');
        return;
      }
      this.update(live, { fails, inconclusive: 0 });
      await this.save();
    } else {
      const inconclusive = record.inconclusive + 1;
      if (inconclusive >= record.spec.inconclusive_limit) {
        this.update(live, { inconclusive });
        await this.pauseNow(live, `paused after ${inconclusive} inconclusive intervals in a row: ${interval.reasons.join('; ')}`, token);
        return;
      }
      this.update(live, { inconclusive });
      await this.save();
      this.startInterval(live, true);
      return;
    }
    this.startInterval(live);
  }

  private async pauseNow(live: LiveRollout, reason: string, token: string): Promise<void> {
    clearTimeout(live.timer);
    this.update(live, { state: 'paused', reason });
    await this.save();
    await this.deps.store.note(live.record.route, token.startsWith('rollout:') ? token : `rollout:${token}`, `rollout of ${targetId(live.record.spec.target)} ${reason}`);
    this.deps.log.warn({ route: live.record.route, reason }, 'rollout paused');
  }

  /**
   * Makes the route carry the record's weight (or its promotion): saved as not applied first,
   * then changed with the revision the rollout last saw, then saved as applied. An audit entry
   * is written either way: the change's, or a note when the route already has that weight.
   */
  private async apply(live: LiveRollout, reason: string, token: string): Promise<void> {
    const { record } = live;
    this.update(live, { applied: false });
    await this.save();
    const current = this.deps.store.get(record.route);
    if (!current) throw new ServingError('NOT_FOUND', `no route ${record.route}`);
    const wanted = specWithWeight(current.spec, record.spec.target, record.baseline, record.weight);
    const auditToken = token.startsWith('rollout:') ? token : `rollout:${token}`;
    if (JSON.stringify(wanted.targets) === JSON.stringify(current.spec.targets)) {
      await this.deps.store.note(record.route, auditToken, reason);
      this.update(live, { applied: true, route_revision: current.revision });
    } else {
      const changed = await this.deps.store.setByRollout(record.route, wanted, auditToken, record.route_revision, reason);
      this.update(live, { applied: true, route_revision: changed.revision });
    }
    await this.save();
  }

  /** After a restart: finish a decision that was saved but not applied, then go on with a fresh interval. */
  private async resumeAfterRestart(live: LiveRollout): Promise<void> {
    const { record } = live;
    const route = this.deps.store.get(record.route);
    if (!route) {
      if (!isFinished(record.state)) {
        this.update(live, { state: 'aborted', reason: 'the route no longer exists', superseded: true, applied: true });
        await this.save();
      }
      return;
    }
    // A change by anyone else since the rollout's last one stands, and ends the rollout.
    const byHand = this.deps.store
      .audit()
      .find((e) => e.route === record.route && e.revision > record.route_revision && e.action !== 'rollout');
    if (byHand && (!isFinished(record.state) || !record.applied)) {
      await this.supersede(live, byHand.action, byHand.token);
      return;
    }
    if (!record.applied) {
      await this.apply(live, `rollout of ${targetId(record.spec.target)}: a ${record.state} decision at step ${record.step} (${record.weight}%) finished after a restart`, `rollout:${record.started_by}`);
    } else if (!isFinished(record.state)) {
      this.update(live, { route_revision: route.revision });
    }
    this.deps.metrics?.show(record.route, record.state, record.weight);
    if (record.state === 'progressing') {
      this.deps.log.info({ route: record.route, step: record.step, weight: record.weight }, 'rollout resumed after a restart');
      this.startInterval(live);
    }
  }

  /** A change to the route by anyone but the rollout, once it has taken effect. */
  private routeChanged(route: RouteState, action: RouteAction, token: string): void {
    if (action === 'rollout') return;
    const live = this.live.get(route.name);
    if (!live || (isFinished(live.record.state) && live.record.applied)) return;
    clearTimeout(live.timer);
    // Marked now, so that no decision queued behind this change applies; saved in turn.
    this.update(live, { state: 'aborted', reason: `aborted: the route was changed by hand (${action} by ${token}); that change stands`, superseded: true, applied: true });
    void this.serial(async () => {
      await this.save();
      await this.deps.store.note(route.name, token, `rollout of ${targetId(live.record.spec.target)} aborted: the route was changed by hand (${action} by ${token}); that change stands`);
    }).catch((error: unknown) => this.deps.log.error({ route: route.name, err: error }, 'cannot record the abort of a rollout'));
    this.deps.log.warn({ route: route.name, action, token }, 'rollout aborted by a change to its route');
  }

  private async supersede(live: LiveRollout, action: string, token: string): Promise<void> {
    clearTimeout(live.timer);
    const reason = `aborted: the route was changed by hand (${action} by ${token}); that change stands`;
    this.update(live, { state: 'aborted', reason, superseded: true, applied: true });
    await this.save();
    await this.deps.store.note(live.record.route, token, `rollout of ${targetId(live.record.spec.target)} ${reason}`);
  }

  private update(live: LiveRollout, changes: Partial<RolloutRecord>): void {
    live.record = Object.assign(live.record, changes, { updated_at: now() });
    this.deps.metrics?.show(live.record.route, live.record.state, live.record.weight);
  }

  /** Saves every rollout; writes are serialized, and a failed one is retried by the next. */
  private save(): Promise<void> {
    const write = (): Promise<void> =>
      this.records.write(new Map([...this.live].map(([route, live]) => [route, live.record]))).catch((error: unknown) => {
        this.deps.log.error({ reason: (error as NodeJS.ErrnoException).code ?? String(error) }, 'cannot save rollout state');
        throw new ServingError('INTERNAL', 'the rollout state could not be saved');
      });
    const result = this.saving.then(write, write);
    this.saving = result.catch(() => undefined);
    return result;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.chain.then(task, task);
    this.chain = result.catch(() => undefined);
    return result;
  }
}

/**
 * An error burst: the interval already holds what is left of `failure_limit` fails' worth of canary
 * requests, and their error rate breaks the gate (compared as the judge compares it). O(1).
 */
function burstHolds(live: LiveRollout): boolean {
  const { record, canary } = live;
  const { gates, failure_limit } = record.spec;
  if (record.step === 0 || gates.max_error_rate === null) return false;
  const judged = canary.successes + canary.errors;
  return judged >= Math.max(1, failure_limit - record.fails) * gates.min_requests && canary.errors / judged > gates.max_error_rate;
}

function markOf(stats: ShadowStats): ShadowMark {
  return { compared: stats.compared, errors: stats.errors, sumMeanAbsDiff: stats.sumMeanAbsDiff, argmaxAgreed: stats.argmaxAgreed, argmaxRows: stats.argmaxRows };
}

/** The shadow's figures over the interval: the counters' growth since its start. */
function shadowFigures(stats: ShadowStats, mark: ShadowMark): ShadowFigures {
  const compared = stats.compared - mark.compared;
  const rows = stats.argmaxRows - mark.argmaxRows;
  return {
    compared,
    errors: stats.errors - mark.errors,
    mean_abs_difference: compared > 0 ? (stats.sumMeanAbsDiff - mark.sumMeanAbsDiff) / compared : null,
    argmax_agreement: rows > 0 ? (stats.argmaxAgreed - mark.argmaxAgreed) / rows : null,
  };
}

function summary(interval: IntervalRecord): string {
  const c = interval.canary;
  const p = interval.primary;
  const rate = (r: number | null): string => (r === null ? '-' : `${(r * 100).toPrecision(3)}%`);
  const p99 = (s: number | null): string => (s === null ? '-' : `${(s * 1000).toPrecision(3)} ms`);
  const shadow = interval.shadow ? `; shadow compared ${interval.shadow.compared}, errors ${interval.shadow.errors}` : '';
  return `canary ${c.requests} requests, ${c.errors} errors (${rate(c.error_rate)}), p99 ${p99(c.p99_seconds)}; primary ${p.requests} requests, p99 ${p99(p.p99_seconds)}${shadow}`;
}

export interface RolloutView {
  route: string;
  state: RolloutState;
  target: VersionRef;
  primary: VersionRef;
  step: number;
  steps: number[];
  weight: number;
  /** False for the moment between a decision and the route carrying its weight (a write to disk). */
  applied: boolean;
  interval_seconds: number;
  gates: RolloutSpec['gates'];
  latency_test: RolloutSpec['latency_test'];
  failure_limit: number;
  inconclusive_limit: number;
  fails: number;
  inconclusive: number;
  reason: string | null;
  started_at: string;
  started_by: string;
  updated_at: string;
  totals: RolloutRecord['totals'];
  /** The interval being measured now, while progressing. */
  current_interval: { started_at: string; canary_requests: number; canary_errors: number; primary_requests: number } | null;
  intervals: IntervalRecord[];
}

function view(live: LiveRollout): RolloutView {
  const r = live.record;
  return {
    route: r.route,
    state: r.state,
    target: r.spec.target,
    primary: r.baseline,
    step: r.step,
    steps: r.spec.steps,
    weight: r.weight,
    applied: r.applied,
    interval_seconds: r.spec.interval_seconds,
    gates: r.spec.gates,
    latency_test: r.spec.latency_test,
    failure_limit: r.spec.failure_limit,
    inconclusive_limit: r.spec.inconclusive_limit,
    fails: r.fails,
    inconclusive: r.inconclusive,
    reason: r.reason,
    started_at: r.started_at,
    started_by: r.started_by,
    updated_at: r.updated_at,
    totals: { ...r.totals },
    current_interval:
      r.state === 'progressing'
        ? { started_at: live.intervalStartedAt.toISOString(), canary_requests: live.canary.requests, canary_errors: live.canary.errors, primary_requests: live.primary.requests }
        : null,
    intervals: r.intervals,
  };
}
