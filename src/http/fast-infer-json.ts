/**
 * A fast path for the common REST inference request: JSON whose tensors are
 * FP32, FP64, BOOL or integers, read from the body's bytes straight into typed
 * arrays. JSON.parse boxes every element as a heap number in an array that the
 * general decoder then copies and drops; here each literal is converted once and
 * stored where it belongs.
 *
 * It accepts a strict subset of what the general decoder (infer-request.ts)
 * accepts and decodes it to exactly what that decoder produces. Anything else it
 * declines (returns undefined), so that the general decoder reads the request and
 * words any refusal: escapes or non-ASCII bytes in strings, repeated or unknown
 * keys, input parameters, other datatypes, `data` before `shape`, literals the
 * general decoder reads differently (integers that are not short integer
 * literals), and every error. Declining is always safe; accepting is exact.
 *
 * Work is linear in the body, nesting is bounded by the shape's rank (MAX_RANK),
 * and the one allocation sized by the body's numbers, a tensor, is made only once
 * its shape's element count is known to fit in the body, as the general decoder
 * checks it.
 */
import { datatypeInfo, type Datatype, type DatatypeInfo, type NumericArray, type TensorData } from '../tensor/datatypes.js';
import { clingerDouble, EXACT_DIGITS, float32Equivalent, roundedDouble } from '../tensor/decimal-conversion.js';
import { exactIntegerRange } from '../tensor/json-data.js';
import { MAX_RANK } from '../tensor/shape.js';
import type { InferRequest, InputTensor, Parameters, ParameterValue, RequestedOutput } from '../types.js';
import { inputTensor, requestedOutput, restInferRequest, type RestInferTarget } from './rest-infer-request.js';

/** Thrown inside the parser to give the request up, caught at its entry. Not an Error: no stack is captured. */
const DECLINE = Symbol('decline');

const END = -1;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const UPPER_E = 0x45;
const OPEN_ARRAY = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_ARRAY = 0x5d;
const LOWER_E = 0x65;
const LOWER_F = 0x66;
const LOWER_T = 0x74;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const DEL = 0x7f;

/** Strings up to this long are built from their bytes in JS. */
const SHORT_STRING = 16;
/** Integers below this are exact as doubles, and so is every step that builds them digit by digit. */
const EXACT_INTEGER_LIMIT = 2 ** 53;
/** More significant digits than this go to Number(): with them, a mantissa may drift from the literal. */
const APPROXIMATE_DIGITS = 19;
/** An exponent this large goes to Number() whatever the rest: it stops being counted, so the count stays exact. */
const EXPONENT_CAP = 100_000;

const TOP_KEYS = ['id', 'inputs', 'outputs', 'parameters'] as const;
const INPUT_KEYS = ['name', 'datatype', 'shape', 'data'] as const;
const OUTPUT_KEYS = ['name', 'parameters'] as const;
/** Datatypes whose JSON elements this path reads (BYTES, FP16 and BF16 are left to the general decoder). */
const DATATYPE_NAMES: readonly Datatype[] = ['FP32', 'FP64', 'BOOL', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64'];

/** How the elements of the `data` being read are stored. */
const STORE_FLOAT32 = 0;
const STORE_FLOAT64 = 1;
const STORE_INTEGER = 2;
const STORE_BIG_INTEGER = 3;
const STORE_BOOLEAN = 4;
/** The datatype comes after `data`: doubles now, converted once the datatype is known. */
const STORE_DEFERRED = 5;

type NumberArray = Exclude<NumericArray, BigInt64Array | BigUint64Array>;
/** Placeholders until a `data` is read, shared: a typed array per parser would cost more than the rest of its setup. */
const NO_NUMBERS: NumberArray = new Float64Array(0);
const NO_BIG_INTEGERS = new BigInt64Array(0);

const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;

/**
 * The request, or undefined when it is not in the accepted subset (see the file
 * comment). Never throws for anything in the body.
 */
export function decodeCommonJsonRequest(body: Buffer, target: RestInferTarget): InferRequest | undefined {
  if (target.headerLength !== '') return undefined;
  try {
    return new CommonRequestParser(body).request(target);
  } catch (error) {
    if (error === DECLINE) return undefined;
    throw error;
  }
}

class CommonRequestParser {
  private pos = 0;
  private readonly end: number;
  /** Every element needs at least one byte of body, so the body's size bounds any shape (as in the general decoder). */
  private readonly maxElements: number;
  /** Set by number(): the literal was `-?digits` of at most 15 digits, which every decoder reads exactly. */
  private shortInteger = false;

  // The `data` being read: where its elements go, and how.
  private store = STORE_FLOAT32;
  private numbers: NumberArray = NO_NUMBERS;
  private bigIntegers: BigInt64Array | BigUint64Array = NO_BIG_INTEGERS;
  private exactMin = 0;
  private exactMax = 0;
  private allShortIntegers = true;
  /** The body as a string, made on first use (Number() needs one): slicing it costs less than a call into Buffer per literal. */
  private text: string | undefined = undefined;

  constructor(private readonly bytes: Buffer) {
    this.end = bytes.length;
    this.maxElements = Math.max(bytes.length, 1);
  }

  request(target: RestInferTarget): InferRequest {
    this.expect(OPEN_OBJECT);
    let id: string | undefined;
    let inputs: InputTensor[] | undefined;
    let outputs: RequestedOutput[] | undefined;
    let parameters: Parameters | undefined;
    do {
      switch (this.key(TOP_KEYS)) {
        case 0:
          if (id !== undefined) throw DECLINE;
          id = this.string();
          break;
        case 1:
          if (inputs !== undefined) throw DECLINE;
          inputs = this.inputs();
          break;
        case 2:
          if (outputs !== undefined) throw DECLINE;
          outputs = this.outputs();
          break;
        default:
          if (parameters !== undefined) throw DECLINE;
          parameters = this.parameters();
      }
    } while (this.nextMember());
    this.skipSpace();
    if (this.pos !== this.end || inputs === undefined) throw DECLINE;
    return restInferRequest(target, id, parameters ?? {}, inputs, outputs);
  }

  private inputs(): InputTensor[] {
    this.expect(OPEN_ARRAY);
    const inputs: InputTensor[] = [];
    do inputs.push(this.input());
    while (this.nextItem());
    return inputs;
  }

  private input(): InputTensor {
    this.expect(OPEN_OBJECT);
    let name: string | undefined;
    let info: DatatypeInfo | undefined;
    let shape: number[] | undefined;
    let count = 0;
    let data: TensorData | undefined;
    let deferred: Float64Array | undefined;
    do {
      switch (this.key(INPUT_KEYS)) {
        case 0:
          if (name !== undefined) throw DECLINE;
          name = this.string();
          if (name === '') throw DECLINE;
          break;
        case 1:
          if (info !== undefined) throw DECLINE;
          info = this.datatype();
          break;
        case 2:
          if (shape !== undefined) throw DECLINE;
          shape = this.shape();
          count = this.elementCount(shape);
          break;
        default:
          if (data !== undefined || deferred !== undefined || shape === undefined) throw DECLINE;
          if (info !== undefined) data = this.data(info, shape, count);
          else deferred = this.data(undefined, shape, count) as Float64Array;
      }
    } while (this.nextMember());
    if (name === undefined || info === undefined || shape === undefined) throw DECLINE;
    if (deferred !== undefined) data = this.convertDeferred(info, deferred);
    if (data === undefined) throw DECLINE;
    return inputTensor(name, info.name, shape, data, {});
  }

  private datatype(): DatatypeInfo {
    const start = this.stringBounds();
    const index = matchKey(this.bytes, start, this.pos - 1, DATATYPE_NAMES);
    if (index < 0) throw DECLINE;
    return datatypeInfo(DATATYPE_NAMES[index]!);
  }

  /** Dimensions written as short integer literals (the general decoder takes `1.0` too: it is declined here). */
  private shape(): number[] {
    this.expect(OPEN_ARRAY);
    const shape: number[] = [];
    this.skipSpace();
    if (this.peek() === CLOSE_ARRAY) {
      this.pos++;
      return shape;
    }
    do {
      this.skipSpace();
      if (this.peek() === MINUS || shape.length === MAX_RANK) throw DECLINE;
      const dim = this.number(false);
      if (!this.shortInteger) throw DECLINE;
      shape.push(dim);
    } while (this.nextItem());
    return shape;
  }

  /** As checkedElementCount counts it, declining where that refuses. */
  private elementCount(shape: readonly number[]): number {
    let count = 1;
    for (let i = 0; i < shape.length; i++) {
      count *= shape[i]!;
      if (count > this.maxElements) throw DECLINE;
    }
    return count;
  }

  /**
   * `data`, flat or nested exactly to the shape, into a new typed array of `count`
   * elements (checked against the body's size before this is called). With no
   * datatype yet, into doubles.
   */
  private data(info: DatatypeInfo | undefined, shape: readonly number[], count: number): TensorData {
    // Every element takes at least a character and a separator of what is left of the body:
    // a shape the rest of the body cannot back is declined before its array is allocated, so
    // no allocation is sized by a declared shape alone (the general decoder words the error).
    if (count * 2 > this.end - this.pos + 1) throw DECLINE;
    const out = this.prepareStore(info, count);
    this.expect(OPEN_ARRAY);
    const open = this.pos - 1;
    this.skipSpace();
    const first = this.peek();
    if (first === OPEN_ARRAY) {
      // Nested, as the general decoder decides it: by the first element.
      if (shape.length === 0) throw DECLINE;
      this.pos = open;
      this.level(shape, 0, 0);
    } else if (first === CLOSE_ARRAY) {
      this.pos++;
      if (count !== 0) throw DECLINE;
    } else {
      let k = 0;
      do {
        if (k === count) throw DECLINE;
        this.skipSpace();
        this.element(k++);
      } while (this.nextItem());
      if (k !== count) throw DECLINE;
    }
    return out;
  }

  /** One level of nested data, from its `[`; returns the flat index after its last element. */
  private level(shape: readonly number[], depth: number, k: number): number {
    this.pos++;
    const length = shape[depth]!;
    const leaves = depth + 1 === shape.length;
    for (let i = 0; i < length; i++) {
      if (i > 0) this.expect(COMMA);
      this.skipSpace();
      if (leaves) this.element(k++);
      else if (this.peek() === OPEN_ARRAY) k = this.level(shape, depth + 1, k);
      else throw DECLINE;
    }
    this.expect(CLOSE_ARRAY);
    return k;
  }

  private prepareStore(info: DatatypeInfo | undefined, count: number): TensorData {
    if (info === undefined) {
      this.store = STORE_DEFERRED;
      this.allShortIntegers = true;
      return (this.numbers = new Float64Array(count));
    }
    const out = new info.arrayType!(count);
    const range = exactIntegerRange(info);
    if (info.json === 'float') this.store = info.name === 'FP32' ? STORE_FLOAT32 : STORE_FLOAT64;
    else if (info.json === 'bool') this.store = STORE_BOOLEAN;
    else if (info.json === 'bigint') this.store = STORE_BIG_INTEGER;
    else this.store = STORE_INTEGER;
    if (range !== undefined) {
      this.exactMin = range.exactMin;
      this.exactMax = range.exactMax;
    }
    if (this.store === STORE_BIG_INTEGER) this.bigIntegers = out as BigInt64Array | BigUint64Array;
    else this.numbers = out as NumberArray;
    return out;
  }

  /** The element at pos, stored at flat index `k` as the general decoder stores it. */
  private element(k: number): void {
    switch (this.store) {
      case STORE_FLOAT32:
        this.numbers[k] = this.number(true);
        return;
      case STORE_FLOAT64:
        this.numbers[k] = this.number(false);
        return;
      case STORE_INTEGER:
        this.numbers[k] = this.exactInteger();
        return;
      case STORE_BIG_INTEGER:
        this.bigIntegers[k] = BigInt(this.exactInteger());
        return;
      case STORE_BOOLEAN:
        this.numbers[k] = this.boolean() ? 1 : 0;
        return;
      default:
        this.numbers[k] = this.number(false);
        if (!this.shortInteger) this.allShortIntegers = false;
    }
  }

  /** A short integer literal in the datatype's exact range: what decodeIntegers stores as parsed. */
  private exactInteger(): number {
    const value = this.number(false);
    if (!this.shortInteger || !(value >= this.exactMin && value <= this.exactMax)) throw DECLINE;
    return value;
  }

  /** Deferred doubles into the datatype that came after them, element by element as stored directly. */
  private convertDeferred(info: DatatypeInfo, doubles: Float64Array): TensorData {
    if (info.json === 'float') return info.name === 'FP64' ? doubles : new Float32Array(doubles);
    if (doubles.length === 0) return new info.arrayType!(0);
    const range = exactIntegerRange(info);
    if (range === undefined || !this.allShortIntegers) throw DECLINE;
    for (let i = 0; i < doubles.length; i++) {
      const value = doubles[i]!;
      if (!(value >= range.exactMin && value <= range.exactMax)) throw DECLINE;
    }
    if (info.json === 'bigint') {
      const out = new info.arrayType!(doubles.length) as BigInt64Array | BigUint64Array;
      for (let i = 0; i < doubles.length; i++) out[i] = BigInt(doubles[i]!);
      return out;
    }
    const out = new info.arrayType!(doubles.length) as NumberArray;
    for (let i = 0; i < doubles.length; i++) out[i] = doubles[i]!;
    return out;
  }

  private outputs(): RequestedOutput[] {
    this.expect(OPEN_ARRAY);
    const outputs: RequestedOutput[] = [];
    this.skipSpace();
    if (this.peek() === CLOSE_ARRAY) {
      this.pos++;
      return outputs;
    }
    do outputs.push(this.output());
    while (this.nextItem());
    return outputs;
  }

  private output(): RequestedOutput {
    this.expect(OPEN_OBJECT);
    let name: string | undefined;
    let parameters: Parameters | undefined;
    do {
      if (this.key(OUTPUT_KEYS) === 0) {
        if (name !== undefined) throw DECLINE;
        name = this.string();
        if (name === '') throw DECLINE;
      } else {
        if (parameters !== undefined) throw DECLINE;
        parameters = this.parameters();
      }
    } while (this.nextMember());
    if (name === undefined) throw DECLINE;
    return requestedOutput(name, parameters ?? {});
  }

  /** A flat object of strings, numbers and booleans, built as JSON.parse builds it. */
  private parameters(): Parameters {
    this.expect(OPEN_OBJECT);
    const parameters: Parameters = {};
    this.skipSpace();
    if (this.peek() === CLOSE_OBJECT) {
      this.pos++;
      return parameters;
    }
    do {
      this.skipSpace();
      const name = this.string();
      // JSON.parse makes `__proto__` an own property, which assignment would not; repeats it resolves by position.
      if (name === '__proto__' || Object.hasOwn(parameters, name)) throw DECLINE;
      this.expect(COLON);
      this.skipSpace();
      parameters[name] = this.scalar();
    } while (this.nextMember());
    return parameters;
  }

  private scalar(): ParameterValue {
    const c = this.peek();
    if (c === QUOTE) return this.string();
    if (c === LOWER_T || c === LOWER_F) return this.boolean();
    return this.number(false);
  }

  private boolean(): boolean {
    const b = this.bytes;
    const i = this.pos;
    if (i + 4 <= this.end && b[i] === LOWER_T && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) {
      this.pos = i + 4;
      return true;
    }
    if (i + 5 <= this.end && b[i] === LOWER_F && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65) {
      this.pos = i + 5;
      return false;
    }
    throw DECLINE;
  }

  /**
   * A number in JSON's grammar, to the double JSON.parse makes of it (see
   * decimal-conversion.ts), or else through Number(), which parses the literal as
   * JSON.parse does. With `float32`, possibly to another double that a
   * Float32Array stores as it stores that one.
   */
  private number(float32: boolean): number {
    const b = this.bytes;
    const end = this.end;
    const start = this.pos;
    let i = start;
    const negative = i < end && b[i] === MINUS;
    if (negative) i++;
    let c = i < end ? b[i]! : END;
    // The digits as one integer (exact while there are at most 15) and the power of ten that scales it.
    let mantissa = 0;
    let scale = 0;
    let integerDigits = 1;
    let significant = 0;
    // The mantissa as it last was below 2^53, so exact, and where its digits end: with the digits after
    // them, it gives the exact mantissa of a long literal (roundedDouble).
    let exactPart = 0;
    let exactEnd = i;
    if (c === ZERO) {
      c = ++i < end ? b[i]! : END;
      exactEnd = i;
    } else if (isDigit(c)) {
      const integerStart = i;
      do {
        mantissa = mantissa * 10 + (c - ZERO);
        c = ++i < end ? b[i]! : END;
        if (mantissa < EXACT_INTEGER_LIMIT) {
          exactPart = mantissa;
          exactEnd = i;
        }
      } while (isDigit(c));
      integerDigits = significant = i - integerStart;
    } else {
      throw DECLINE;
    }
    let plain = true;
    if (c === DOT) {
      plain = false;
      c = ++i < end ? b[i]! : END;
      if (!isDigit(c)) throw DECLINE;
      const fractionStart = i;
      // Zeros before the first significant digit only scale.
      if (significant === 0) while (c === ZERO) c = ++i < end ? b[i]! : END;
      const significantStart = i;
      while (isDigit(c)) {
        // Two digits a step where there are two: the chain of multiply-adds on the mantissa is what
        // limits the speed of long fractions.
        const next = i + 1 < end ? b[i + 1]! : END;
        if (isDigit(next)) {
          mantissa = mantissa * 100 + ((c - ZERO) * 10 + (next - ZERO));
          i += 2;
        } else {
          mantissa = mantissa * 10 + (c - ZERO);
          i++;
        }
        c = i < end ? b[i]! : END;
        if (mantissa < EXACT_INTEGER_LIMIT) {
          exactPart = mantissa;
          exactEnd = i;
        }
      }
      significant += i - significantStart;
      scale = fractionStart - i;
    }
    const digitsEnd = i;
    let hugeExponent = false;
    if (c === LOWER_E || c === UPPER_E) {
      plain = false;
      c = ++i < end ? b[i]! : END;
      const negativeExponent = c === MINUS;
      if (negativeExponent || c === PLUS) c = ++i < end ? b[i]! : END;
      if (!isDigit(c)) throw DECLINE;
      let exponent = 0;
      do {
        exponent = exponent * 10 + (c - ZERO);
        if (exponent >= EXPONENT_CAP) {
          hugeExponent = true;
          exponent = EXPONENT_CAP;
        }
        c = ++i < end ? b[i]! : END;
      } while (isDigit(c));
      scale += negativeExponent ? -exponent : exponent;
    }
    this.pos = i;
    this.shortInteger = plain && integerDigits <= EXACT_DIGITS;
    if (mantissa === 0) return negative ? -0 : 0;
    if (!hugeExponent && significant <= APPROXIMATE_DIGITS) {
      let value = significant <= EXACT_DIGITS ? clingerDouble(mantissa, scale, significant) : NaN;
      if (value !== value) value = float32 ? float32Equivalent(mantissa, scale) : this.roundedDouble(exactPart, exactEnd, digitsEnd, scale);
      if (value === value) return negative ? -value : value;
    }
    return Number(this.literal(start, i));
  }

  /**
   * roundedDouble() for a mantissa of 16 to 19 significant digits, scaled by
   * 10^scale, given as its exact part (below 2^53, so at least its first 14
   * digits) and where that part's digits end: the digits from there to `end` (a
   * dot may lie between) are read again.
   */
  private roundedDouble(exactPart: number, exactEnd: number, end: number, scale: number): number {
    const b = this.bytes;
    let low = 0;
    let lowDigits = 0;
    for (let i = exactEnd; i < end; i++) {
      const c = b[i]!;
      if (c === DOT) continue;
      low = low * 10 + (c - ZERO);
      lowDigits++;
    }
    return roundedDouble(exactPart, low, lowDigits, scale);
  }

  /** A string without escapes, ASCII only (JSON.parse reads such bytes as they are). */
  private string(): string {
    const start = this.stringBounds();
    const end = this.pos - 1;
    if (end - start > SHORT_STRING) return this.bytes.toString('latin1', start, end);
    // A name or a tag: cheaper built here than sliced by a call into Buffer.
    let text = '';
    for (let i = start; i < end; i++) text += String.fromCharCode(this.bytes[i]!);
    return text;
  }

  /** From the opening quote at pos to past the closing one; returns where the contents start. */
  private stringBounds(): number {
    const b = this.bytes;
    const end = this.end;
    if (this.pos >= end || b[this.pos] !== QUOTE) throw DECLINE;
    const start = this.pos + 1;
    let i = start;
    for (;;) {
      if (i >= end) throw DECLINE;
      const c = b[i]!;
      if (c === QUOTE) break;
      // Control characters are invalid JSON; escapes and non-ASCII bytes are the general decoder's.
      if (c < SPACE || c > DEL || c === BACKSLASH) throw DECLINE;
      i++;
    }
    this.pos = i + 1;
    return start;
  }

  /** The member name at pos (after any space) as an index into `keys`, and past its colon and the space after. */
  private key(keys: readonly string[]): number {
    this.skipSpace();
    const start = this.stringBounds();
    const index = matchKey(this.bytes, start, this.pos - 1, keys);
    if (index < 0) throw DECLINE;
    this.expect(COLON);
    this.skipSpace();
    return index;
  }

  /** After a member's value: true past a comma, false past the object's `}`. */
  private nextMember(): boolean {
    return this.next(CLOSE_OBJECT);
  }

  /** After an array item: true past a comma, false past the array's `]`. */
  private nextItem(): boolean {
    return this.next(CLOSE_ARRAY);
  }

  private next(close: number): boolean {
    this.skipSpace();
    const c = this.peek();
    this.pos++;
    if (c === COMMA) return true;
    if (c === close) return false;
    throw DECLINE;
  }

  private expect(c: number): void {
    this.skipSpace();
    if (this.peek() !== c) throw DECLINE;
    this.pos++;
  }

  private peek(): number {
    return this.pos < this.end ? this.bytes[this.pos]! : END;
  }

  private skipSpace(): void {
    const b = this.bytes;
    let i = this.pos;
    while (i < this.end) {
      const c = b[i]!;
      if (c !== SPACE && c !== LF && c !== CR && c !== TAB) break;
      i++;
    }
    this.pos = i;
  }

  private literal(start: number, end: number): string {
    return (this.text ??= this.bytes.toString('latin1')).slice(start, end);
  }
}

/** The index in `keys` of the ASCII text bytes[start, end), or -1. */
function matchKey(bytes: Buffer, start: number, end: number, keys: readonly string[]): number {
  const length = end - start;
  next: for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    if (key.length !== length) continue;
    for (let i = 0; i < length; i++) if (bytes[start + i] !== key.charCodeAt(i)) continue next;
    return k;
  }
  return -1;
}

