import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, TEST_MODELS } from '../../src/modelgen/catalog.js';
import { encodeModel } from '../../src/modelgen/onnx-writer.js';

const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * sha256 of every model.onnx the builder writes, recorded from a build. Two processes, two
 * machines or two releases must write these bytes: a change to a graph or to the writer shows
 * here, and then the digests are updated on purpose, with the reason in the commit.
 */
const RECORDED_DIGESTS: Record<string, string> = {
  'tiny_classifier/1': '753fd5e18c65b38ca674fe4627762d9f0ce1cd7d5a84023224674a70ba62a122',
  'heavy_mlp/1': 'cffc3ec36b5649683f99086c0165fafe876c806c5650893dc2c40c088bbae0e6',
  'scorer/1': 'cf10a845b478fbbf3cd153b09d9b2990e49d270170e8ce96cb4b5f5c3d34f1c8',
  'scorer/2': 'd27d91b0d7c5c28e89c677be17a87fb8ab6188091383507bfb0f1507ebabebc2',
  'mixed_types/1': '82193ba0c51f12e55b07b5dc69ebf4b42321b66829da1260068413ff0c950965',
  'channel_stats/1': 'a7244b2c8432eded2af6dbbb6a4a0161d2fa128382c842eeb17a802208a137b4',
  'datatype_echo/1': 'fa4b46b7489aa611810f45f3167cd78a71d0ff79853ba290d59cbc10fcadd54a',
  'typed_echo/1': 'c65e4bfb6a0ac730afc7ed41a2e48491a68ce56fd0fd88b31901c9e870152873',
  'slow/1': '659b4daa0aae4c947d43f57f56fd38338dc24ee7288a46358b93f57bf91f3b3a',
  'gather/1': '6a5ced43d8d692b81b21b9b24b2738073015984e6c12f5103dc568a127eb0f8c',
  'float_echo/1': '7d08dbade997f815672433f344831aafedc822d0f3b7db7a96dac32128300bff',
  'fast/1': '0604ed65addcaf9cb426bb8349a45c1c8583f6c38d149d9705d1ee26917f394c',
};

describe('model builder', () => {
  it('writes the recorded bytes for every model in the catalog', () => {
    const built = Object.fromEntries(
      [...BUNDLED_MODELS, ...Object.values(TEST_MODELS)].map((entry) => [`${entry.model}/${entry.version}`, digest(encodeModel(entry.graph()))]),
    );
    expect(built).toEqual(RECORDED_DIGESTS);
  });
});
