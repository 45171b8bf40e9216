/**
 * Checks a decoded request against the model it names and turns it into what
 * the scheduler takes. Shared by every protocol, so REST and gRPC accept and
 * refuse exactly the same requests with the same messages.
 */
import { invalidArgument } from '../errors.js';
import type { ModelSpec } from '../models/model-spec.js';
import type { ScheduledRequest } from '../scheduling/version-scheduler.js';
import { formatShape } from '../tensor/shape.js';
import type { InferRequest, InputTensor, ParameterValue } from '../types.js';

/** Above this a timeout is a mistake, not a wish. */
const MAX_PARAMETER_INTEGER = 2 ** 31 - 1;

/** A client's value in a message: enough to recognise it, never the size the client chose. */
const shown = (value: ParameterValue): string => JSON.stringify(value).slice(0, 40);

function integerParameter(name: string, value: ParameterValue | undefined): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_PARAMETER_INTEGER) {
    throw invalidArgument(`parameter ${name} must be an integer in [0, ${MAX_PARAMETER_INTEGER}], got ${shown(value)}`);
  }
  return value;
}

/**
 * The request's priority level (Triton's schedule policy): `priority` 1 (the
 * highest) to the model's priority_levels, or 0 or none for its default level.
 * A shadow copy waits at the lowest level.
 */
function priorityLevel(request: InferRequest, spec: ModelSpec): number {
  if (request.lowestPriority) return spec.priorityLevels;
  const value = request.parameters['priority'];
  if (value === undefined || value === 0) return spec.defaultPriorityLevel;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > spec.priorityLevels) {
    throw invalidArgument(
      `parameter priority must be an integer in [0, ${spec.priorityLevels}] for model ${spec.name}: a level from 1 (the highest) to its priority_levels ${spec.priorityLevels}, or 0 for its default level ${spec.defaultPriorityLevel}; got ${shown(value)}`,
    );
  }
  return value;
}

function checkShape(input: InputTensor, declared: readonly number[], spec: ModelSpec): void {
  const { shape } = input;
  if (shape.length !== declared.length) {
    throw invalidArgument(
      `input ${input.name}: shape ${formatShape(shape)} has ${shape.length} dimensions, the model expects ${declared.length} (${formatShape(declared)})`,
    );
  }
  for (let d = 0; d < shape.length; d++) {
    if (declared[d] !== -1 && declared[d] !== shape[d]) {
      throw invalidArgument(`input ${input.name}: shape ${formatShape(shape)} does not match the model's ${formatShape(declared)}`);
    }
  }
  if (spec.maxBatchSize > 0) {
    const rows = shape[0]!;
    if (rows < 1 || rows > spec.maxBatchSize) {
      throw invalidArgument(`input ${input.name}: batch size ${rows} must be between 1 and max_batch_size ${spec.maxBatchSize}`);
    }
  }
}

/** `allOutputs`: every output name in model order, the list a request that names none gets (shared, not copied). */
export function validateRequest(request: InferRequest, spec: ModelSpec, allOutputs: readonly string[] = spec.outputs.map((t) => t.name)): ScheduledRequest {
  const ordered: InputTensor[] = new Array(spec.inputs.length);
  for (const input of request.inputs) {
    const index = spec.inputs.findIndex((t) => t.name === input.name);
    if (index < 0) {
      throw invalidArgument(
        `unknown input ${JSON.stringify(input.name)} for model ${spec.name}; it takes ${spec.inputs.map((t) => t.name).join(', ')}`,
      );
    }
    if (ordered[index]) throw invalidArgument(`input ${input.name} is given more than once`);
    const declared = spec.inputs[index]!;
    if (input.datatype !== declared.datatype) {
      throw invalidArgument(`input ${input.name}: datatype ${input.datatype} does not match the model's ${declared.datatype}`);
    }
    checkShape(input, declared.shape, spec);
    ordered[index] = input;
  }
  const missing = spec.inputs.filter((_, i) => !ordered[i]).map((t) => t.name);
  if (missing.length) throw invalidArgument(`missing input${missing.length > 1 ? 's' : ''} ${missing.join(', ')} for model ${spec.name}`);

  let rows = 1;
  if (spec.maxBatchSize > 0) {
    rows = ordered[0]!.shape[0]!;
    const other = ordered.find((t) => t.shape[0] !== rows);
    if (other) {
      throw invalidArgument(`inputs disagree on the batch size: ${ordered[0]!.name} has ${rows}, ${other.name} has ${other.shape[0]}`);
    }
  }

  let outputNames: readonly string[];
  if (request.outputs && request.outputs.length > 0) {
    const named: string[] = [];
    for (const output of request.outputs) {
      if (!spec.outputs.some((t) => t.name === output.name)) {
        throw invalidArgument(
          `unknown output ${JSON.stringify(output.name)} for model ${spec.name}; it has ${spec.outputs.map((t) => t.name).join(', ')}`,
        );
      }
      if (named.includes(output.name)) throw invalidArgument(`output ${output.name} is requested more than once`);
      named.push(output.name);
    }
    outputNames = named;
  } else {
    outputNames = allOutputs;
  }

  // The tightest of the request's own timeout and its transport deadline; the model's default otherwise.
  const own = integerParameter('timeout', request.parameters['timeout']);
  const deadline = request.deadlineUs ?? 0;
  const timeoutUs = own > 0 && deadline > 0 ? Math.min(own, deadline) : own > 0 ? own : deadline > 0 ? deadline : spec.defaultTimeoutUs;
  const priority = priorityLevel(request, spec);
  // Only requests whose non-batch dimensions agree can be concatenated.
  const signature = spec.variableInnerDims ? ordered.map((t) => t.shape.slice(1).join('x')).join('|') : '';

  return { inputs: ordered, rows, signature, priority, timeoutUs, outputNames, cancellation: request.cancellation, traceSpan: request.traceSpan };
}
