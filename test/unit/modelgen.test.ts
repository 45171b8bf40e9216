import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../../src/modelgen/catalog.js';
import { encodeModel } from '../../src/modelgen/onnx-writer.js';

const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('model builder', () => {
  it('writes the same bytes every time', () => {
    for (const entry of BUNDLED_MODELS.filter((e) => e.model !== 'heavy_mlp')) {
      expect(digest(encodeModel(entry.graph())), `${entry.model}/${entry.version}`).toBe(digest(encodeModel(entry.graph())));
    }
  });

  it('makes scorer versions 1 and 2 differ', () => {
    const [v1, v2] = BUNDLED_MODELS.filter((e) => e.model === 'scorer');
    expect(digest(encodeModel(v1!.graph()))).not.toBe(digest(encodeModel(v2!.graph())));
  });
});
