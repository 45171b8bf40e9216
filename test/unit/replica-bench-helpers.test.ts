/** The replicas bench's arithmetic: how connections are dealt, how outcomes are told apart, when flips happen. */
import { describe, expect, it } from 'vitest';
import { agreementSummary, flipSchedule, flipVersion } from '../../bench/lib/flip-schedule.js';
import { countOf, dealConnections, tallyOutcomes } from '../../bench/lib/replica-load.js';

describe('the replicas bench helpers', () => {
  it('deals connections in turn, the first replicas taking the remainder', () => {
    expect(dealConnections(24, 3)).toEqual([8, 8, 8]);
    expect(dealConnections(8, 3)).toEqual([3, 3, 2]);
    expect(() => dealConnections(2, 3)).toThrow(/at least one each/);
  });

  it('tells 2xx, other statuses and transport errors apart, summed over replicas', () => {
    const tally = tallyOutcomes([
      { sent: 10, outcomes: { '200': 7, '503': 1, ECONNRESET: 2 } },
      { sent: 5, outcomes: { '200': 3, '204': 1, 'no answer': 1 } },
    ]);
    expect(tally).toEqual({ sent: 15, ok: 11, refused: { '503': 1 }, transport: { ECONNRESET: 2, 'no answer': 1 } });
    expect(countOf(tally.transport)).toBe(3);
  });

  it('spreads flips evenly inside the load and alternates the version every slot moves to', () => {
    expect(flipSchedule(20, 3)).toEqual([5, 10, 15]);
    expect([1, 2, 3].map(flipVersion)).toEqual(['2', '1', '2']);
    expect(() => flipSchedule(20, 0)).toThrow();
  });

  it('summarizes agreement times by median and longest', () => {
    expect(agreementSummary([40, 10, 30, 20])).toEqual({ median: 25, max: 40 });
    expect(agreementSummary([5, 1, 3])).toEqual({ median: 3, max: 5 });
  });
});
