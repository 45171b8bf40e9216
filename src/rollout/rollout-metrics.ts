/**
 * The rollout series, registered on the server's registry (observability/metrics.ts owns the
 * others). Label values are route names that an admin gave a rollout: bounded by them.
 *   brisk_rollout_state{route}           0 none, 1 progressing, 2 paused, 3 promoted, 4 rolled_back, 5 aborted
 *   brisk_rollout_weight{route}          the target's weight in percent
 *   brisk_rollout_verdicts_total{route,verdict}   pass, fail, inconclusive
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { stateNumber, type RolloutState } from './rollout-record.js';
import type { Verdict } from './judge.js';

export class RolloutMetrics {
  private readonly state: Gauge<'route'>;
  private readonly weight: Gauge<'route'>;
  private readonly verdicts: Counter<'route' | 'verdict'>;

  constructor(registry: Registry) {
    this.state = new Gauge({
      name: 'brisk_rollout_state',
      help: 'State of the latest rollout of a route: 1 progressing, 2 paused, 3 promoted, 4 rolled_back, 5 aborted',
      labelNames: ['route'],
      registers: [registry],
    });
    this.weight = new Gauge({ name: 'brisk_rollout_weight', help: "The rollout target's weight on its route, in percent", labelNames: ['route'], registers: [registry] });
    this.verdicts = new Counter({
      name: 'brisk_rollout_verdicts_total',
      help: 'Interval verdicts of rollouts: pass, fail or inconclusive',
      labelNames: ['route', 'verdict'],
      registers: [registry],
    });
  }

  show(route: string, state: RolloutState, weight: number): void {
    // Every verdict series exists from the start, so that increase() sees its first one.
    for (const verdict of ['pass', 'fail', 'inconclusive'] as const) this.verdicts.inc({ route, verdict }, 0);
    this.state.set({ route }, stateNumber(state));
    this.weight.set({ route }, weight);
  }

  verdict(route: string, verdict: Verdict): void {
    this.verdicts.inc({ route, verdict });
  }
}
