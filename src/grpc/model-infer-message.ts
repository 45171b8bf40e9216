/**
 * A ModelInferRequest read off the wire in one pass that allocates almost nothing:
 * the whole message is checked against the wire format (nested messages included),
 * its small top-level fields are decoded, and its parameters, inputs and requested
 * outputs are kept as byte ranges. They become the InferRequest (infer-request.ts)
 * only once the model is admitted, so that an unknown or overloaded model is refused
 * before any tensor is built, and a malformed message before the model is looked up,
 * as when proto-loader deserialized the whole message first.
 *
 * Field numbers and types are those of protos/grpc_service.proto.
 */
import { LENGTH_DELIMITED, FIXED32, FIXED64, VARINT, WireReader, malformed, wrongWireType } from './wire.js';

export class ModelInferMessage {
  /** The reader of the message's bytes, for the ranges below (infer-request.ts reads them with it). */
  readonly reader: WireReader;
  modelName = '';
  modelVersion = '';
  id = '';
  /** Start and end offsets, in pairs and in order, of each `parameters` map entry. */
  parameters: number[] | undefined = undefined;
  /** Start and end offsets, in pairs and in order, of each input. */
  readonly inputs: number[] = [];
  /** Start and end offsets, in pairs and in order, of each requested output. */
  outputs: number[] | undefined = undefined;
  /** raw_input_contents, as views of the message. */
  raw: Buffer[] | undefined = undefined;

  constructor(readonly bytes: Buffer) {
    this.reader = new WireReader(bytes);
  }
}

/** How a field is encoded: a length-delimited payload (string, bytes), a nested message, or a scalar. */
type Encoding = 'length-delimited' | 'varint' | '32-bit' | '64-bit' | MessageRules;

interface FieldRule {
  /** The field's path from the request, for messages about it. */
  readonly path: string;
  readonly encoding: Encoding;
  /** Repeated scalars may also come packed (length-delimited), whatever the sender's choice. */
  readonly repeated: boolean;
}

interface MessageRules {
  readonly path: string;
  /** By field number. */
  readonly fields: readonly (FieldRule | undefined)[];
}

function rules(path: string, fields: Record<number, [name: string, encoding: Encoding, repeated?: 'repeated']>): MessageRules {
  const byNumber: (FieldRule | undefined)[] = [];
  for (const [number, [name, encoding, repeated]] of Object.entries(fields)) {
    byNumber[Number(number)] = { path: path ? `${path}.${name}` : name, encoding, repeated: repeated === 'repeated' };
  }
  return { path: path || 'ModelInferRequest', fields: byNumber };
}

/** A `map<string, InferParameter>` entry. */
const parameterEntry = (path: string): MessageRules =>
  rules(path, {
    1: ['key', 'length-delimited'],
    2: [
      'value',
      rules(`${path}.value`, {
        1: ['bool_param', 'varint'],
        2: ['int64_param', 'varint'],
        3: ['string_param', 'length-delimited'],
        4: ['double_param', '64-bit'],
        5: ['uint64_param', 'varint'],
      }),
    ],
  });

const CONTENTS = rules('inputs.contents', {
  1: ['bool_contents', 'varint', 'repeated'],
  2: ['int_contents', 'varint', 'repeated'],
  3: ['int64_contents', 'varint', 'repeated'],
  4: ['uint_contents', 'varint', 'repeated'],
  5: ['uint64_contents', 'varint', 'repeated'],
  6: ['fp32_contents', '32-bit', 'repeated'],
  7: ['fp64_contents', '64-bit', 'repeated'],
  8: ['bytes_contents', 'length-delimited', 'repeated'],
});

const INPUT = rules('inputs', {
  1: ['name', 'length-delimited'],
  2: ['datatype', 'length-delimited'],
  3: ['shape', 'varint', 'repeated'],
  4: ['parameters', parameterEntry('inputs.parameters'), 'repeated'],
  5: ['contents', CONTENTS],
});

const OUTPUT = rules('outputs', {
  1: ['name', 'length-delimited'],
  2: ['parameters', parameterEntry('outputs.parameters'), 'repeated'],
});

const REQUEST = rules('', {
  1: ['model_name', 'length-delimited'],
  2: ['model_version', 'length-delimited'],
  3: ['id', 'length-delimited'],
  4: ['parameters', parameterEntry('parameters'), 'repeated'],
  5: ['inputs', INPUT, 'repeated'],
  6: ['outputs', OUTPUT, 'repeated'],
  7: ['raw_input_contents', 'length-delimited', 'repeated'],
});

/** Field paths, for the readers of the ranges (infer-request.ts). */
export const PATHS = {
  parameterEntry: 'parameters',
  input: INPUT.path,
  output: OUTPUT.path,
  contents: CONTENTS.path,
} as const;

/**
 * Reads a ModelInferRequest's wire format. Throws INVALID_ARGUMENT ("malformed request
 * message: …") for bytes that are no valid message; what a valid message says is
 * checked later, by toInferRequest.
 */
export function readModelInferRequest(bytes: Buffer): ModelInferMessage {
  const message = new ModelInferMessage(bytes);
  const r = message.reader;
  while (r.pos < r.len) {
    const at = r.pos;
    const tag = r.fieldTag(REQUEST.path);
    switch (tag) {
      case (1 << 3) | LENGTH_DELIMITED:
        message.modelName = r.text('model_name');
        break;
      case (2 << 3) | LENGTH_DELIMITED:
        message.modelVersion = r.text('model_version');
        break;
      case (3 << 3) | LENGTH_DELIMITED:
        message.id = r.text('id');
        break;
      case (4 << 3) | LENGTH_DELIMITED:
        message.parameters = nested(r, REQUEST.fields[4]!, message.parameters ?? []);
        break;
      case (5 << 3) | LENGTH_DELIMITED:
        nested(r, REQUEST.fields[5]!, message.inputs);
        break;
      case (6 << 3) | LENGTH_DELIMITED:
        message.outputs = nested(r, REQUEST.fields[6]!, message.outputs ?? []);
        break;
      case (7 << 3) | LENGTH_DELIMITED:
        (message.raw ??= []).push(r.bytesView('raw_input_contents'));
        break;
      default:
        checkField(r, REQUEST, tag, at);
    }
  }
  return message;
}

/** Checks a nested message and records where it lies. */
function nested(r: WireReader, field: FieldRule, ranges: number[]): number[] {
  const end = r.lengthOf(field.path);
  ranges.push(r.pos, end);
  checkMessage(r, end, field.encoding as MessageRules);
  return ranges;
}

/** Walks a nested message up to `end`, checking every field against its rules; builds nothing. */
function checkMessage(r: WireReader, end: number, message: MessageRules): void {
  const outer = r.len;
  r.len = end;
  while (r.pos < end) {
    const at = r.pos;
    checkField(r, message, r.fieldTag(message.path), at);
  }
  r.len = outer;
}

function checkField(r: WireReader, message: MessageRules, tag: number, at: number): void {
  const field = message.fields[tag >>> 3];
  if (field === undefined) {
    r.skipUnknown(tag, message.path, at);
    return;
  }
  const wireType = tag & 7;
  const encoding = field.encoding;
  if (wireType === LENGTH_DELIMITED) {
    if (typeof encoding === 'object') checkMessage(r, r.lengthOf(field.path), encoding);
    else if (encoding === 'length-delimited') r.pos = r.lengthOf(field.path);
    else if (field.repeated) checkPacked(r, field, encoding, at);
    else throw wrongWireType(field.path, wireType, encoding, at);
    return;
  }
  if (wireType === VARINT && encoding === 'varint') r.varint(field.path);
  else if (wireType === FIXED32 && encoding === '32-bit') r.fixed(4, field.path);
  else if (wireType === FIXED64 && encoding === '64-bit') r.fixed(8, field.path);
  else throw wrongWireType(field.path, wireType, typeof encoding === 'object' ? 'a message' : encoding, at);
}

function checkPacked(r: WireReader, field: FieldRule, encoding: 'varint' | '32-bit' | '64-bit', at: number): void {
  const end = r.lengthOf(field.path);
  if (encoding === 'varint') {
    const outer = r.len;
    r.len = end;
    while (r.pos < end) r.varint(field.path);
    r.len = outer;
    return;
  }
  const size = encoding === '32-bit' ? 4 : 8;
  const length = end - r.pos;
  if (length % size !== 0) throw malformed(`packed ${field.path} has ${length} bytes, not a whole number of ${size}-byte values`, at);
  r.pos = end;
}
