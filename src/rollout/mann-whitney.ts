/**
 * The Mann-Whitney U test (Wilcoxon rank-sum) with the confidence interval and
 * Hodges–Lehmann estimate of the location shift x − y, as R's
 * `wilcox.test(x, y, conf.int = TRUE, exact = FALSE, correct = TRUE)` computes them and as
 * Kayenta's judge uses them: the normal approximation with tie and continuity
 * corrections, each bound the root of a monotone function of the shift.
 *
 * `latencyVerdict` is Kayenta's classifier (NetflixACAJudge: confidence 0.98, tolerance 0.25):
 * the canary is slower when the interval's lower bound exceeds 25% of the estimated shift
 * itself, i.e. the shift is both positive and well clear of zero, and its mean is not lower.
 * Pure; both samples are sorted once, and each evaluation of the function is one merge.
 */

export interface ShiftInterval {
  /** Bounds of the confidence interval of the shift x − y. */
  lower: number;
  upper: number;
  /** The Hodges–Lehmann estimate: the shift that balances the ranks. */
  estimate: number;
}

/** Kayenta's defaults (kayenta-judge, NetflixACAJudge). */
export const KAYENTA_CONFIDENCE = 0.98;
export const KAYENTA_TOLERANCE = 0.25;

/**
 * The standard normal quantile, Wichura's AS 241 (PPND16), accurate to about 1e-16.
 * Only probabilities in [1e-11, 1 − 1e-11] are needed (confidence levels), so the far tail
 * branch is left out and refused.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 1e-11 && p <= 1 - 1e-11)) throw new RangeError(`normalQuantile: probability ${p} is outside [1e-11, 1 - 1e-11]`);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (
      (q *
        (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r + 45921.953931549871457) * r +
          13731.693765509461125) *
          r +
          1971.5909503065514427) *
          r +
          133.14166789178437745) *
          r +
          3.387132872796366608)) /
      (((((((r * 5226.495278852854561 + 28729.085735721942674) * r + 39307.89580009271061) * r + 21213.794301586595867) * r +
        5394.1960214247511077) *
        r +
        687.1870074920579083) *
        r +
        42.313330701600911252) *
        r +
        1)
    );
  }
  // p within 1e-11 of 0 or 1 gives r ≤ 5: the middle-tail branch covers every p allowed.
  const r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p)) - 1.6;
  const value =
    (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r + 0.24178072517745061177) * r + 1.27045825245236838258) * r +
      3.64784832476320460504) *
      r +
      5.7694972214606914055) *
      r +
      4.6303378461565452959) *
      r +
      1.42343711074968357734) /
    (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r + 0.14810397642748007459) * r +
      0.68976733498510000455) *
      r +
      1.6763848301838038494) *
      r +
      2.05319162663775882187) *
      r +
      1);
  return q < 0 ? -value : value;
}

/**
 * The standardised rank-sum of x − shift against y, with the continuity correction:
 * decreasing in `shift`. `ties` is Σ(t³ − t) over groups of equal values in the pooled sample.
 * x and y are sorted; shifting x keeps it sorted, so ranks come from one merge.
 */
function standardisedRankSum(x: Float64Array, y: Float64Array, shift: number): number {
  const nx = x.length;
  const ny = y.length;
  let i = 0;
  let j = 0;
  let rank = 1;
  let xRanks = 0;
  let ties = 0;
  while (i < nx || j < ny) {
    const value = i < nx && (j >= ny || x[i]! - shift <= y[j]!) ? x[i]! - shift : y[j]!;
    let inX = 0;
    let group = 0;
    while (i < nx && x[i]! - shift === value) {
      i++;
      inX++;
      group++;
    }
    while (j < ny && y[j] === value) {
      j++;
      group++;
    }
    // Tied values share the mean of the ranks they span.
    xRanks += inX * (rank + (group - 1) / 2);
    ties += group * group * group - group;
    rank += group;
  }
  const n = nx + ny;
  const dz = xRanks - (nx * (nx + 1)) / 2 - (nx * ny) / 2;
  const sigma = Math.sqrt(((nx * ny) / 12) * (n + 1 - ties / (n * (n - 1))));
  if (sigma === 0) return Number.NaN;
  return (dz - Math.sign(dz) * 0.5) / sigma;
}

/** The edge between the shifts where the rank-sum is above `z` (or at least `z`, with `orEqual`) and the rest, by bisection. */
function edge(x: Float64Array, y: Float64Array, z: number, orEqual: boolean, low: number, high: number): number {
  const inside = (shift: number): boolean => {
    const value = standardisedRankSum(x, y, shift);
    return orEqual ? value >= z : value > z;
  };
  if (!inside(low)) return low;
  if (inside(high)) return high;
  let a = low;
  let b = high;
  // To 1e-12 of the data's range: about 40 halvings, each one merge of the samples.
  const resolution = (high - low) * 1e-12;
  while (b - a > resolution) {
    const mid = a + (b - a) / 2;
    if (mid === a || mid === b) break;
    if (inside(mid)) a = mid;
    else b = mid;
  }
  return b;
}

/**
 * Where the rank-sum, a decreasing step function of the shift, crosses `z`. It may sit at `z`
 * over a whole range (for the estimate, when the ranks balance exactly): then the middle of that
 * range, which is the median of the pairwise differences when their count is even.
 */
function crossing(x: Float64Array, y: Float64Array, z: number, low: number, high: number): number {
  const first = edge(x, y, z, false, low, high);
  const last = edge(x, y, z, true, low, high);
  return first + (last - first) / 2;
}

/**
 * The confidence interval and estimate of the shift x − y; undefined when a sample is empty or
 * every value in both is the same (no ranks to compare: the caller decides what that means).
 */
export function shiftInterval(xValues: ArrayLike<number>, yValues: ArrayLike<number>, confidence = KAYENTA_CONFIDENCE): ShiftInterval | undefined {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence ${confidence} is not between 0 and 1`);
  if (xValues.length === 0 || yValues.length === 0) return undefined;
  // Non-finite values have no rank; a latency never is one, but a merge on NaN would not advance.
  const x = Float64Array.from(xValues).filter(Number.isFinite).sort();
  const y = Float64Array.from(yValues).filter(Number.isFinite).sort();
  if (x.length === 0 || y.length === 0) return undefined;
  if (x[0] === x[x.length - 1] && y[0] === y[y.length - 1] && x[0] === y[0]) return undefined;
  const low = x[0]! - y[y.length - 1]!;
  const high = x[x.length - 1]! - y[0]!;
  const z = -normalQuantile((1 - confidence) / 2);
  return {
    lower: crossing(x, y, z, low, high),
    upper: crossing(x, y, -z, low, high),
    estimate: crossing(x, y, 0, low, high),
  };
}

export interface LatencyComparison extends ShiftInterval {
  /** Mean of the canary's samples over the primary's. */
  meanRatio: number;
  slower: boolean;
}

/**
 * Kayenta's classification of the canary's latencies against the primary's: slower ("High") when
 * the lower bound of the shift exceeds `tolerance` × |estimate| and the mean ratio is at least 1.
 * Undefined when there is nothing to compare; identical samples are not slower.
 */
export function compareLatencies(canary: ArrayLike<number>, primary: ArrayLike<number>, confidence = KAYENTA_CONFIDENCE, tolerance = KAYENTA_TOLERANCE): LatencyComparison | undefined {
  if (canary.length === 0 || primary.length === 0) return undefined;
  const mean = (values: ArrayLike<number>): number => {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i]!;
    return sum / values.length;
  };
  const meanRatio = mean(canary) / mean(primary);
  const interval = shiftInterval(canary, primary, confidence);
  if (!interval) return { lower: 0, upper: 0, estimate: 0, meanRatio, slower: false };
  const slower = interval.lower > tolerance * Math.abs(interval.estimate) && (Number.isNaN(meanRatio) || meanRatio >= 1);
  return { ...interval, meanRatio, slower };
}
