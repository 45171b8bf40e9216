/**
 * Integer literals of a REST request's tensor `data`, read from the body as the
 * client wrote them. JSON.parse gives every number as a double: integers past
 * 2^53 come out rounded and 1.00000000000000000001 comes out as 1, so an integer
 * tensor decoded from the parsed Numbers alone could hold values the client
 * never sent.
 *
 * A literal of at most 15 digits whose exponent is not below -99 parses to
 * exactly its value whenever that value is a safe integer, and to a non-integer
 * whenever its value is one: the rounding error, under 2^-53 of the value, is
 * smaller than the value's distance to the nearest integer, and no such literal
 * is small enough to underflow to 0. So the text is read again only when it
 * holds some other literal, or when a value needs more than 53 bits; otherwise
 * the request costs one scan of its text.
 *
 * The text has already been accepted by JSON.parse, so the scanners below may
 * assume valid JSON; they are iterative, and linear in the text's length.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Mantissas longer than this many digits may not be exact as doubles. */
const EXACT_DIGITS = 15;

// Past the end of a string, charCodeAt gives NaN, which none of these accept.
const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDelimiter = (c: number): boolean => c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT || isSpace(c);
const isNumberChar = (c: number): boolean =>
  isDigit(c) || c === MINUS || c === PLUS || c === DOT || c === LOWER_E || c === UPPER_E;

const isRunChar = (c: number): boolean => isDigit(c) || c === DOT;

/**
 * True where some literal might have been rounded by JSON.parse: a run of more
 * than 15 digits (dots counted, so a long fraction counts too), or an exponent
 * below -99, which might underflow to 0. Strings are not skipped: a match inside
 * one only costs the exact reading, never a wrong answer.
 */
function mayHoldRoundedLiteral(text: string): boolean {
  return hasLongRun(text) || hasTinyExponent(text, 'e-') || hasTinyExponent(text, 'E-');
}

/**
 * Any run of 16 characters covers one of every 16th position, so only those are
 * looked at, and the run through each measured; digit-heavy tensor data costs a
 * fraction of a pass. (V8 runs the regular expression /[0-9.]{16}/ an order of
 * magnitude slower on such text.)
 */
function hasLongRun(text: string): boolean {
  for (let i = EXACT_DIGITS; i < text.length; i += EXACT_DIGITS + 1) {
    if (!isRunChar(text.charCodeAt(i))) continue;
    let start = i;
    while (isRunChar(text.charCodeAt(start - 1))) start--;
    let end = i + 1;
    while (isRunChar(text.charCodeAt(end))) end++;
    if (end - start > EXACT_DIGITS) return true;
  }
  return false;
}

/** `marker` is `e-` or `E-`; a tiny exponent has three digits or more (leading zeros too: only a cost). */
function hasTinyExponent(text: string, marker: string): boolean {
  for (let i = text.indexOf(marker); i >= 0; i = text.indexOf(marker, i + 2)) {
    if (isRunChar(text.charCodeAt(i - 1)) && isDigit(text.charCodeAt(i + 2)) && isDigit(text.charCodeAt(i + 3)) && isDigit(text.charCodeAt(i + 4))) {
      return true;
    }
  }
  return false;
}

function skipSpace(text: string, i: number): number {
  while (isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** From an opening quote to just past its closing quote. */
function stringEnd(text: string, i: number): number {
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(i - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return i + 1;
  }
}

/** The rest of an array holding no array, object or string: it cannot backtrack, as `]` is outside the class. */
const FLAT_ARRAY_REST = /[^[\]{}"]*\]/y;

/** From a value's first character to just past the value. */
function valueEnd(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === QUOTE) return stringEnd(text, i);
  if (first !== OPEN_ARRAY && first !== OPEN_OBJECT) {
    // A number, true, false or null: runs to the next delimiter.
    while (i < text.length && !isDelimiter(text.charCodeAt(i))) i++;
    return i;
  }
  let depth = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      continue;
    }
    if (c === OPEN_ARRAY) {
      // Tensor data is mostly flat arrays of numbers: the regular expression engine skips those fastest.
      FLAT_ARRAY_REST.lastIndex = i + 1;
      if (FLAT_ARRAY_REST.test(text)) {
        i = FLAT_ARRAY_REST.lastIndex;
        if (depth === 0) return i;
        continue;
      }
      depth++;
    } else if (c === OPEN_OBJECT) depth++;
    else if ((c === CLOSE_ARRAY || c === CLOSE_OBJECT) && --depth === 0) return i + 1;
    i++;
  }
  return i;
}

/** Whether the member name from `start` (its opening quote) to `end` reads as `name`, as JSON.parse reads it. */
function nameIs(text: string, start: number, end: number, name: string): boolean {
  const length = end - start - 2;
  if (length === name.length) return text.startsWith(name, start + 1);
  if (length < name.length) return false;
  // Only a name written with escapes ("d\u0061ta") is longer than it reads; only such a name is decoded.
  for (let i = start + 1; i < end - 1; i++) {
    if (text.charCodeAt(i) === BACKSLASH) return JSON.parse(text.slice(start, end)) === name;
  }
  return false;
}

/**
 * Walks the object starting at `start` to its end, which it returns. The value of
 * each member called `name` is walked by `read`, which returns where it ends;
 * JSON.parse keeps the last of repeated names, and so does a `read` that overwrites.
 */
function walkObject(text: string, start: number, name: string, read: (valueStart: number) => number): number {
  let i = skipSpace(text, start + 1);
  if (text.charCodeAt(i) === CLOSE_OBJECT) return i + 1;
  for (;;) {
    const nameEnd = stringEnd(text, i);
    const matches = nameIs(text, i, nameEnd, name);
    i = skipSpace(text, nameEnd);
    if (text.charCodeAt(i) === COLON) i = skipSpace(text, i + 1);
    i = skipSpace(text, matches ? read(i) : valueEnd(text, i));
    if (text.charCodeAt(i) !== COMMA) return i + 1;
    i = skipSpace(text, i + 1);
  }
}

/** The `inputs` array at `start`: where each input's `data` starts (-1 where absent), and where the array ends. */
function walkInputs(text: string, start: number): { dataStarts: number[]; end: number } {
  const dataStarts: number[] = [];
  if (text.charCodeAt(start) !== OPEN_ARRAY) return { dataStarts, end: valueEnd(text, start) };
  let i = skipSpace(text, start + 1);
  if (text.charCodeAt(i) === CLOSE_ARRAY) return { dataStarts, end: i + 1 };
  for (;;) {
    let data = -1;
    if (text.charCodeAt(i) === OPEN_OBJECT) {
      i = walkObject(text, i, 'data', (value) => {
        data = value;
        return valueEnd(text, value);
      });
    } else {
      i = valueEnd(text, i);
    }
    dataStarts.push(data);
    i = skipSpace(text, i);
    if (text.charCodeAt(i) !== COMMA) return { dataStarts, end: i + 1 };
    i = skipSpace(text, i + 1);
  }
}

/** Where each `inputs[k].data` starts (-1 where absent), in one pass over the body. */
function inputDataStarts(text: string): number[] {
  let dataStarts: number[] = [];
  const top = skipSpace(text, 0);
  if (text.charCodeAt(top) !== OPEN_OBJECT) return dataStarts;
  walkObject(text, top, 'inputs', (value) => {
    const inputs = walkInputs(text, value);
    dataStarts = inputs.dataStarts;
    return inputs.end;
  });
  return dataStarts;
}

/**
 * The number literals of the array starting at `start`, nested or flat, in
 * document order: the order in which the decoder flattens the parsed array. It
 * stops at the first leaf that is no number; the decoder refuses that leaf by its
 * type before it asks for any literal at or past it.
 */
function numberLiterals(text: string, start: number): string[] {
  const literals: string[] = [];
  if (start < 0 || text.charCodeAt(start) !== OPEN_ARRAY) return literals;
  let depth = 0;
  for (let i = start; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === MINUS || isDigit(c)) {
      let end = i + 1;
      while (isNumberChar(text.charCodeAt(end))) end++;
      literals.push(text.slice(i, end));
      i = end;
      continue;
    }
    if (c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_ARRAY) {
      if (--depth === 0) break;
    } else if (c !== COMMA && !isSpace(c)) break;
    i++;
  }
  return literals;
}

/**
 * The JSON part of one REST request body. Built for every request and does no
 * work until an integer tensor asks; then it scans the body once and keeps what
 * it found for the request's other inputs.
 */
export class JsonRequestText {
  private roundedLiterals: boolean | undefined = undefined;
  private dataStarts: number[] | undefined = undefined;

  /** `text` is the JSON as JSON.parse read it. */
  constructor(readonly text: string) {}

  /** False when every number literal in the body is exact as JSON.parse read it (see the file comment). */
  mayHoldRoundedLiteral(): boolean {
    return (this.roundedLiterals ??= mayHoldRoundedLiteral(this.text));
  }

  /** The number literals of `inputs[inputIndex].data`, as written. */
  inputDataLiterals(inputIndex: number): string[] {
    this.dataStarts ??= inputDataStarts(this.text);
    return numberLiterals(this.text, this.dataStarts[inputIndex] ?? -1);
  }
}

/**
 * True for a literal of at most 15 digits and nothing but an optional minus:
 * JSON.parse read it exactly, so its parsed value can be used as it is.
 */
export function isShortInteger(literal: string): boolean {
  const start = literal.charCodeAt(0) === MINUS ? 1 : 0;
  if (literal.length - start > EXACT_DIGITS) return false;
  for (let i = start; i < literal.length; i++) if (!isDigit(literal.charCodeAt(i))) return false;
  return true;
}

/** Any 64-bit integer has at most 20 digits; a literal worth more is refused before a BigInt is made. */
const MAX_INTEGER_DIGITS = 20;

/**
 * The exact integer a JSON number literal denotes, or undefined when it denotes
 * a non-integer or an integer of more than 20 digits. `1e3`, `1000.0` and
 * `10000e-1` are all 1000n.
 */
export function integerOfLiteral(literal: string): bigint | undefined {
  const negative = literal.charCodeAt(0) === MINUS;
  let mantissaEnd = literal.length;
  let exponent = 0;
  let plain = true;
  for (let i = negative ? 1 : 0; i < literal.length; i++) {
    const c = literal.charCodeAt(i);
    if (c === LOWER_E || c === UPPER_E) {
      mantissaEnd = i;
      exponent = Number(literal.slice(i + 1));
      plain = false;
      break;
    }
    if (c === DOT) plain = false;
  }
  // The common long literal, digits only: JSON allows no leading zeros, so its length bounds it.
  if (plain) return literal.length - (negative ? 1 : 0) > MAX_INTEGER_DIGITS ? undefined : BigInt(literal);
  const mantissa = literal.slice(negative ? 1 : 0, mantissaEnd);
  const dot = mantissa.indexOf('.');
  const fractionDigits = dot < 0 ? 0 : mantissa.length - dot - 1;
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  let first = 0;
  while (first < digits.length && digits.charCodeAt(first) === ZERO) first++;
  if (first === digits.length) return 0n;
  let last = digits.length - 1;
  while (digits.charCodeAt(last) === ZERO) last--;
  const scale = exponent - fractionDigits + (digits.length - 1 - last);
  const significant = last - first + 1;
  if (!(scale >= 0) || significant + scale > MAX_INTEGER_DIGITS) return undefined;
  const magnitude = BigInt(digits.slice(first, last + 1)) * 10n ** BigInt(scale);
  return negative ? -magnitude : magnitude;
}
