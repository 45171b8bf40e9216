/**
 * Decimal numbers (an integer mantissa scaled by a power of ten, as read from a
 * JSON literal) to the double that JSON.parse and Number() make of them: the
 * correctly rounded one. Each function here answers only where it can be sure,
 * and NaN elsewhere; the caller then parses the literal's text with Number().
 */

/** 10^k is exact as a double up to here. */
const EXACT_POWER = 22;
const POWERS_OF_TEN = Array.from({ length: EXACT_POWER + 1 }, (_, k) => Number(`1e${k}`));
/** A mantissa of at most this many digits is below 2^53, so exact as a double. */
export const EXACT_DIGITS = 15;

/**
 * mantissa * 10^scale, correctly rounded, for an exact mantissa of `digits` <= 15
 * digits: one multiplication or division by an exact power of ten rounds once,
 * hence correctly (Clinger). NaN where that does not apply.
 */
export function clingerDouble(mantissa: number, scale: number, digits: number): number {
  if (scale >= 0) {
    if (scale <= EXACT_POWER) return mantissa * POWERS_OF_TEN[scale]!;
    // mantissa * 10^(scale-22) still has at most 15 digits, so it is exact; one rounding remains.
    if (scale <= EXACT_POWER + EXACT_DIGITS - digits) return mantissa * POWERS_OF_TEN[scale - EXACT_POWER]! * POWERS_OF_TEN[EXACT_POWER]!;
    return NaN;
  }
  return scale >= -EXACT_POWER ? mantissa / POWERS_OF_TEN[-scale]! : NaN;
}

// Error-free transformations: each returns a rounded result and leaves the exact error in ERROR[0]:
// these run per tensor element, and a pair object would be allocated each time, as would a double
// kept in a module variable (V8 boxes those); a typed array's element holds it unboxed.
const ERROR = new Float64Array(1);
/** Veltkamp's splitter for doubles, 2^27 + 1. */
const SPLITTER = 134217729;

/** a + b = result + ERROR[0], exactly (Knuth's TwoSum). */
function twoSum(a: number, b: number): number {
  const sum = a + b;
  const bPart = sum - a;
  ERROR[0] = a - (sum - bPart) + (b - bPart);
  return sum;
}

/** a * b = result + ERROR[0], exactly (Dekker's TwoProduct), for products far from overflow and underflow. */
function twoProduct(a: number, b: number): number {
  const product = a * b;
  const aScaled = SPLITTER * a;
  const aHigh = aScaled - (aScaled - a);
  const aLow = a - aHigh;
  const bScaled = SPLITTER * b;
  const bHigh = bScaled - (bScaled - b);
  const bLow = b - bHigh;
  ERROR[0] = aHigh * bHigh - product + aHigh * bLow + aLow * bHigh + aLow * bLow;
  return product;
}

const MOST_LOW_DIGITS = 5;
/** Margins below are this share of the terms that carry rounding errors: 2^-48, many times those errors. */
const MARGIN = 2 ** -48;

/**
 * (high * 10^lowDigits + low) * 10^scale, correctly rounded, for a mantissa below
 * 10^19 given as its leading digits (`high`, an integer below 2^53) and the
 * `lowDigits` <= 5 digits after them (`low`), with |scale| <= 22; NaN when the
 * value lies too close to the middle between two doubles to tell which is nearer
 * (then Number() decides).
 *
 * The mantissa is held exactly as two doubles, multiplied or divided by the exact
 * power of ten into a rounded result plus a correction, whose own error is at
 * most three roundings of the terms it is made of, and the answer is the rounding
 * of their sum. Rounding is monotonic, so when the sum rounds to the same double
 * with the correction moved either way by a margin well beyond that error, that
 * double is the answer.
 */
export function roundedDouble(high: number, low: number, lowDigits: number, scale: number): number {
  if (scale > EXACT_POWER || scale < -EXACT_POWER || lowDigits > MOST_LOW_DIGITS) return NaN;
  // high * 10^lowDigits + low = head + tail exactly: all are integers, and the tail (two rounding errors of values below 2^64) is below 2^12.
  const shifted = twoProduct(high, POWERS_OF_TEN[lowDigits]!);
  const shiftError = ERROR[0]!;
  const head = twoSum(shifted, low);
  const tail = ERROR[0]! + shiftError;
  let approximation: number;
  let correction: number;
  /** A bound on the terms whose roundings the correction carries. */
  let inexact: number;
  if (scale >= 0) {
    const power = POWERS_OF_TEN[scale]!;
    approximation = twoProduct(head, power);
    const productError = ERROR[0]!;
    const tailProduct = tail * power;
    correction = productError + tailProduct;
    inexact = Math.abs(productError) + Math.abs(tailProduct);
  } else {
    const power = POWERS_OF_TEN[-scale]!;
    approximation = head / power;
    // What the division left over, head + tail - approximation * power, divided in turn. The first
    // difference is exact (the two are within a factor of 2: Sterbenz); the rest rounds three times.
    const back = twoProduct(approximation, power);
    const backError = ERROR[0]!;
    const leftOver = head - back;
    correction = (leftOver - backError + tail) / power;
    inexact = (Math.abs(leftOver) + Math.abs(backError) + Math.abs(tail)) / power;
  }
  const rounded = twoSum(approximation, correction);
  const residual = ERROR[0]!;
  const margin = (inexact + Math.abs(residual)) * MARGIN;
  const below = rounded + (residual - margin);
  return below === rounded + (residual + margin) ? below : NaN;
}

/** Scales beyond this are left to Number(). */
const APPROXIMATE_SCALE = 3 * EXACT_POWER;
/**
 * The approximation below is within 2^-49.5 of the literal's value (at most 8
 * roundings accumulating 19 digits, 3 scaling it) and the double JSON.parse
 * makes within 2^-53 of that; this margin is more than 8 times their sum.
 */
const FLOAT32_MARGIN = 2 ** -46;

/**
 * A double that a Float32Array stores as the same float32 as the correctly
 * rounded double of mantissa * 10^scale, for a mantissa of up to 19 digits
 * accumulated in doubles (so within 8 roundings of exact), or NaN when that
 * cannot be told. The correctly rounded double lies within the margin of the
 * approximation, and rounding to float32 is monotonic: when both ends of that
 * interval round to one float32, so does it. A float32 printed as a double
 * (`0.42073549330234528`) is always that far from the middle between two
 * float32s; only literals within 2^-21 of a float32 step from such a middle are
 * left to Number().
 */
export function float32Equivalent(mantissa: number, scale: number): number {
  // Within this range every value below is a normal double, so its errors are relative.
  if (scale > APPROXIMATE_SCALE || scale < -APPROXIMATE_SCALE) return NaN;
  let value = mantissa;
  for (; scale > EXACT_POWER; scale -= EXACT_POWER) value *= POWERS_OF_TEN[EXACT_POWER]!;
  for (; scale < -EXACT_POWER; scale += EXACT_POWER) value /= POWERS_OF_TEN[EXACT_POWER]!;
  value = scale >= 0 ? value * POWERS_OF_TEN[scale]! : value / POWERS_OF_TEN[-scale]!;
  const margin = value * FLOAT32_MARGIN;
  return Math.fround(value - margin) === Math.fround(value + margin) ? value : NaN;
}
