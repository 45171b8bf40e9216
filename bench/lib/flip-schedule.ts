/** When the replicas bench flips the weights, which version each flip sends traffic to, and what the flips' agreement times come to. */

/** Seconds into the load of each flip: spread evenly, with load before the first and after the last. */
export function flipSchedule(durationSeconds: number, flips: number): number[] {
  if (!(durationSeconds > 0) || !Number.isInteger(flips) || flips < 1) throw new Error(`need a positive duration and at least one flip (got ${durationSeconds} s, ${flips})`);
  return Array.from({ length: flips }, (_, k) => ((k + 1) * durationSeconds) / (flips + 1));
}

/** Flip k (from 1) moves every slot: odd flips to version 2, even flips back to version 1, so any routing key shows it. */
export const flipVersion = (k: number): '1' | '2' => (k % 2 === 1 ? '2' : '1');

/** The median (mean of the middle two for an even count) and the largest. */
export function agreementSummary(ms: readonly number[]): { median: number; max: number } {
  if (ms.length === 0) return { median: Number.NaN, max: Number.NaN };
  const sorted = [...ms].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return { median: sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2, max: sorted[sorted.length - 1]! };
}
