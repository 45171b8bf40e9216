/**
 * Which graph goes where. The bundled repository (models/) keeps its config
 * files in git and gets its model.onnx files from here; tests build the extra
 * models into temporary repositories.
 */
import { channelStats, datatypeEcho, ECHO_DATATYPES, failingForMostBatches, gatherModel, mixedTypes, mlp, slowedDown, slowModel } from './graphs.js';
import type { GraphSpec } from './onnx-writer.js';

export interface CatalogEntry {
  model: string;
  version: number;
  graph: () => GraphSpec;
}

const scorerV1 = (): GraphSpec => mlp({ name: 'scorer', widths: [32, 64, 4], seed: 3, inputName: 'features', outputName: 'scores', softmax: false });

export const BUNDLED_MODELS: readonly CatalogEntry[] = [
  {
    model: 'tiny_classifier',
    version: 1,
    graph: () =>
      mlp({ name: 'tiny_classifier', widths: [64, 256, 10], seed: 1, inputName: 'input', outputName: 'probabilities', softmax: true }),
  },
  {
    model: 'heavy_mlp',
    version: 1,
    graph: () =>
      mlp({ name: 'heavy_mlp', widths: [512, 2048, 1000], seed: 2, inputName: 'input', outputName: 'logits', softmax: false }),
  },
  { model: 'scorer', version: 1, graph: scorerV1 },
  {
    // Version 2 differs from version 1 by exactly +0.05 on class 0's logit.
    model: 'scorer',
    version: 2,
    graph: () =>
      mlp({
        name: 'scorer',
        widths: [32, 64, 4],
        seed: 3,
        inputName: 'features',
        outputName: 'scores',
        softmax: false,
        lastBiasOffset: [0.05, 0, 0, 0],
      }),
  },
  { model: 'mixed_types', version: 1, graph: () => mixedTypes(4) },
  { model: 'channel_stats', version: 1, graph: channelStats },
];

/** Matrix products that make scorer's slow version about ten times slower: about 30 ms a batch against 3 ms, measured end to end on the 2-core test machine. */
export const SLOW_SCORER_ROUNDS = 6;

/** Models only the tests need: every datatype, and a deliberately slow one. */
export const TEST_MODELS = {
  datatypeEcho: { model: 'datatype_echo', version: 1, graph: () => datatypeEcho() },
  /** Every datatype that has typed gRPC contents: all but FP16. */
  typedEcho: { model: 'typed_echo', version: 1, graph: () => datatypeEcho(ECHO_DATATYPES.filter((d) => d !== 'FP16')) },
  slow: { model: 'slow', version: 1, graph: () => slowModel(96) },
  /** session.run throws for an index past 3: a batch that fails inside ONNX Runtime. */
  gather: { model: 'gather', version: 1, graph: gatherModel },
  /** FP32 [batch, n] in (`fp32_in`), the same out (`fp32_out`): requests and answers of any size. */
  floatEcho: { model: 'float_echo', version: 1, graph: () => datatypeEcho(['FP32']) },
  /** Same inputs and outputs as `slow` (x → y, [batch, 4]) but fast: a primary for slow shadows. */
  fast: { model: 'fast', version: 1, graph: () => mlp({ name: 'fast', widths: [4, 4], seed: 5, inputName: 'x', outputName: 'y', softmax: false }) },
} satisfies Record<string, CatalogEntry>;

/** Faulty versions of scorer for the rollout tests and bench: same inputs and outputs as scorer 1 and 2. */
export const ROLLOUT_TEST_MODELS = {
  /** session.run fails unless the batch size is a multiple of 7: a canary that fails most batches. */
  scorerFailing: { model: 'scorer', version: 3, graph: () => failingForMostBatches(scorerV1(), 7) },
  /** Scorer 1's answers after SLOW_SCORER_ROUNDS 512×512 matrix products: about ten times slower. */
  scorerSlow: { model: 'scorer', version: 4, graph: () => slowedDown(scorerV1(), SLOW_SCORER_ROUNDS) },
} satisfies Record<string, CatalogEntry>;
