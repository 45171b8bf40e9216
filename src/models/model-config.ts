/**
 * The per-model config file, `<repository>/<model>/config.json`, in Triton's
 * spirit with snake_case keys. Everything is optional: what is missing is
 * derived from the ONNX model itself (see resolveModelConfig).
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const int = () => z.number().int();

const tensorNarrowing = z
  .object({
    name: z.string().min(1),
    /** Dimensions without the batch dimension (as in Triton); -1 leaves one variable. */
    dims: z.array(int().min(-1)),
  })
  .strict();

/** One warmup input, in Triton's shape: its datatype, dims without the batch dimension, and where its values come from. */
const warmupInput = z
  .object({
    /** Triton writes TYPE_FP32; the protocol's FP32 is taken too. */
    data_type: z.string().transform((t) => t.replace(/^TYPE_/, '').replace(/^STRING$/, 'BYTES')),
    dims: z.array(int().min(1).max(1 << 24)).max(32),
    zero_data: z.boolean().optional(),
    random_data: z.boolean().optional(),
    /** A file in the model's folder holding the tensor's bytes (BYTES: each element as a 4-byte length and its bytes). */
    input_data_file: z.string().min(1).max(256).optional(),
  })
  .strict()
  .check((ctx) => {
    const sources = ['zero_data', 'random_data', 'input_data_file'].filter((k) => {
      const value = ctx.value[k as keyof typeof ctx.value];
      return value !== undefined && value !== false;
    });
    if (sources.length !== 1) {
      ctx.issues.push({ code: 'custom', input: sources, message: `needs exactly one of zero_data, random_data, input_data_file (got ${sources.length})` });
    }
  });

const warmupSample = z
  .object({
    name: z.string().min(1).max(128),
    /** Rows per warmup request; ignored for a model without a batch dimension. */
    batch_size: int().min(0).max(1 << 16).default(1),
    /** Runs of this sample on each instance. */
    count: int().min(1).max(1000).default(1),
    inputs: z.record(z.string().min(1), warmupInput),
  })
  .strict();

/**
 * Drift of inputs and outputs against a reference (src/drift). Off by default: the
 * reference is captured from the first rows a version serves, which only the operator
 * knows to be representative, and it holds memory per feature.
 */
const driftConfig = z
  .object({
    enabled: z.boolean().default(false),
    /** Share of rows counted into the window, drawn per row on the worker. */
    sample_ratio: z.number().gt(0).max(1).default(1),
    /** Rows captured for the reference when the version folder has no drift_reference.json. */
    reference_rows: int().min(10).max(1_000_000).default(2000),
    /** Quantile bins per numeric feature. */
    bins: int().min(2).max(100).default(10),
    window_seconds: int().min(10).max(7 * 86400).default(600),
    /** Fewer rows in the window than this: every feature says insufficient_data. */
    min_window_rows: int().min(1).max(1_000_000_000).default(500),
    thresholds: z
      .object({ warn: z.number().gt(0).max(100).default(0.1), drift: z.number().gt(0).max(100).default(0.25) })
      .strict()
      .prefault({})
      .check((ctx) => {
        if (ctx.value.warn >= ctx.value.drift) {
          ctx.issues.push({ code: 'custom', input: ctx.value, path: ['warn'], message: `warn ${ctx.value.warn} must be below drift ${ctx.value.drift}` });
        }
      }),
    /** Outputs holding class scores: the argmax class of each row is profiled too. */
    class_scores: z.array(z.string().min(1).max(256)).max(64).default([]),
  })
  .strict()
  .prefault({});

/** More instances than this gain little (the batcher needs a batch ready for each) and cost a session's memory each. */
export const MAX_DEFAULT_INSTANCES = 4;

/**
 * Instances and intra-op threads for a model whose config leaves them out, from the
 * cores Node may use (os.availableParallelism(): the CPU affinity mask, not a cgroup
 * quota). On CPU, ONNX Runtime gets every core but one, which stays the I/O thread's
 * (it is the bottleneck on small models): as up to MAX_DEFAULT_INSTANCES instances of
 * one intra-op thread each, then more threads per instance, never more threads than
 * those cores (2 cores: 1 × 1; 4: 3 × 1; 9: 4 × 2; 16: 4 × 3). Separate sessions come
 * first: one session's threads share a batch and wait on each other at every operator,
 * while separate sessions overlap whole batches. A model that measures otherwise sets its
 * own (the bundled heavy_mlp runs 1 × 2 on 2 cores). On CUDA, one instance
 * of one thread: the GPU does the work, and each further session holds its own GPU
 * memory arena.
 */
export function runtimeDefaults(
  providers: readonly ExecutionProvider[],
  cores: number = availableParallelism(),
  given: { instances?: number | undefined; intraOpThreads?: number | undefined } = {},
): { instances: number; intraOpThreads: number } {
  const cuda = providers[0] === 'cuda';
  const runtimeThreads = Math.max(1, cores - 1);
  // One of the two set: the other is derived from it, not from the defaults, which would
  // multiply past the cores (16 cores, instances 8: 8 × 3 threads).
  if (given.instances !== undefined) {
    return { instances: given.instances, intraOpThreads: given.intraOpThreads ?? (cuda ? 1 : Math.max(1, Math.floor(runtimeThreads / given.instances))) };
  }
  if (given.intraOpThreads !== undefined) {
    // 0 lets ONNX Runtime take every core for each session: one session.
    const perSession = given.intraOpThreads;
    return { instances: cuda || perSession === 0 ? 1 : Math.max(1, Math.min(MAX_DEFAULT_INSTANCES, Math.floor(runtimeThreads / perSession))), intraOpThreads: perSession };
  }
  if (cuda) return { instances: 1, intraOpThreads: 1 };
  const instances = Math.min(runtimeThreads, MAX_DEFAULT_INSTANCES);
  return { instances, intraOpThreads: Math.max(1, Math.floor(runtimeThreads / instances)) };
}

/** Each batcher decision looks at every level of every signature waiting: levels are few, never thousands. */
export const MAX_PRIORITY_LEVELS = 100;

export const EXECUTION_PROVIDERS = ['cuda', 'cpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export const modelConfigFileSchema = z
  .object({
    max_batch_size: int().min(0).max(1 << 16).optional(),
    dynamic_batching: z
      .object({
        max_queue_delay_us: int().min(0).max(10_000_000).default(500),
        preferred_batch_sizes: z.array(int().min(1)).default([]),
        /** Requests waiting, not rows: the bound that keeps memory finite under overload. */
        max_queue_size: int().min(1).max(1_000_000).default(1024),
        /** 0: no default; a request's own `timeout` parameter still applies. */
        default_timeout_us: int().min(0).default(0),
        /** Triton's: a request's `priority` is a level from 1 (the highest) to this. */
        priority_levels: int().min(1).max(MAX_PRIORITY_LEVELS).default(2),
        /** The level of a request that gives no priority (or 0). */
        default_priority_level: int().min(1).default(1),
      })
      .strict()
      .prefault({}),
    /** Sessions of the model, each on its own worker thread; left out: see runtimeDefaults. */
    instances: int().min(1).max(64).optional(),
    /** A batch running longer is answered with an error at once (its worker finishes the run); 0: no limit. */
    batch_timeout_ms: int().min(0).max(3_600_000).default(30_000),
    execution_providers: z.array(z.enum(EXECUTION_PROVIDERS)).min(1).default(['cpu']),
    /** ONNX Runtime intra-op threads per instance; 0 lets ONNX Runtime choose; left out: see runtimeDefaults. */
    intra_op_threads: int().min(0).max(256).optional(),
    /** Let idle intra-op threads spin-wait: lower latency, but they compete with the I/O thread for cores. */
    intra_op_spinning: z.boolean().default(false),
    version_policy: z
      .union([
        z.object({ latest: z.object({ num_versions: int().min(1) }).strict() }).strict(),
        z.object({ all: z.object({}).strict() }).strict(),
        z.object({ specific: z.object({ versions: z.array(int().min(1)).min(1) }).strict() }).strict(),
      ])
      .default({ latest: { num_versions: 1 } }),
    inputs: z.array(tensorNarrowing).optional(),
    outputs: z.array(tensorNarrowing).optional(),
    /** Requests each instance runs before the version takes traffic (Triton's model_warmup). */
    model_warmup: z.array(warmupSample).max(64).default([]),
    drift: driftConfig,
  })
  .strict()
  .check((ctx) => {
    const { max_batch_size: max, dynamic_batching: batching } = ctx.value;
    if (batching.default_priority_level > batching.priority_levels) {
      ctx.issues.push({
        code: 'custom',
        input: batching.default_priority_level,
        path: ['dynamic_batching', 'default_priority_level'],
        message: `${batching.default_priority_level} is larger than priority_levels ${batching.priority_levels}`,
      });
    }
    if (max === undefined) return;
    batching.preferred_batch_sizes.forEach((size, i) => {
      if (size > max) {
        ctx.issues.push({
          code: 'custom',
          input: size,
          path: ['dynamic_batching', 'preferred_batch_sizes', i],
          message: `${size} is larger than max_batch_size ${max}`,
        });
      }
    });
  })
  .transform((config) => {
    const chosen = runtimeDefaults(config.execution_providers, undefined, { instances: config.instances, intraOpThreads: config.intra_op_threads });
    return { ...config, instances: chosen.instances, intra_op_threads: chosen.intraOpThreads };
  });

export type ModelConfigFile = z.output<typeof modelConfigFileSchema>;
export type TensorNarrowing = z.output<typeof tensorNarrowing>;
export type DriftConfig = z.output<typeof driftConfig>;
export type WarmupSample = z.output<typeof warmupSample>;
export type VersionPolicy = ModelConfigFile['version_policy'];
