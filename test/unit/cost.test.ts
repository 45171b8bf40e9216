import { describe, expect, it } from 'vitest';
import { costPer1k } from '../../src/observability/cost.js';

describe('cost per 1k inferences', () => {
  it('matches hand-computed values', () => {
    // $3.60 an hour is $0.001 a second. Model a used 10 core-seconds for 1,000 inferences,
    // b 30 core-seconds for 500, on 2 cores, over 100 s.
    const [a, b] = costPer1k({
      pricePerHour: 3.6,
      elapsedSeconds: 100,
      cores: 2,
      models: [
        { key: 'a', busyCoreSeconds: 10, inferences: 1000 },
        { key: 'b', busyCoreSeconds: 30, inferences: 500 },
      ],
    });
    // compute: 0.001 × (10 / 2) / 1 = 0.005; 0.001 × (30 / 2) / 0.5 = 0.03
    expect(a!.compute).toBeCloseTo(0.005, 12);
    expect(b!.compute).toBeCloseTo(0.03, 12);
    // allocated: 0.001 × 100 × (10 / 40) / 1 = 0.025; 0.001 × 100 × (30 / 40) / 0.5 = 0.15
    expect(a!.allocated).toBeCloseTo(0.025, 12);
    expect(b!.allocated).toBeCloseTo(0.15, 12);
    // All the machine's time is allocated: Σ allocated × thousands = price × elapsed.
    expect(a!.allocated * 1 + b!.allocated * 0.5).toBeCloseTo(0.1, 12);
  });

  it('leaves out models with no inferences', () => {
    expect(costPer1k({ pricePerHour: 1, elapsedSeconds: 1, cores: 1, models: [{ key: 'idle', busyCoreSeconds: 0, inferences: 0 }] })).toEqual([]);
  });
});
