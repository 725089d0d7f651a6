/**
 * A tail appended to a real export (./graphTail.ts) is merged into its graph by ONNX Runtime:
 * new nodes read the model's tensors, new constants and inputs feed them, new outputs come back.
 */
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { golden, modelFile, tensor } from '../../testing/golden';
import { findAttentionSoftmax } from './attention';
import { summarizeModel } from './graph';
import { GraphTail } from './graphTail';

describe('GraphTail', () => {
  it('appends nodes, constants, an input and outputs that ONNX Runtime runs with the model', async () => {
    const bytes = modelFile('onnx/vision_model.onnx');
    const found = findAttentionSoftmax(bytes);
    const embeds = found.outputs[0] as string;
    const t = new GraphTail('test');
    // (embeds · 2 + extra) summed over the last axis, and the first layer's attention.
    const scaled = t.node('Mul', [embeds, t.scalar(2)]);
    const shifted = t.node('Add', [scaled, 'test/extra']);
    const summed = t.node('ReduceSum', [shifted, t.ints([-1])], { keepdims: 0 });
    t.input('test/extra', [1, 1]);
    t.output(summed);
    t.output(found.softmaxOutputs[0] as string);
    const patched = t.append(bytes);

    expect(patched.subarray(0, bytes.length)).toEqual(bytes); // the model's bytes are kept as they are
    const summary = summarizeModel(patched);
    expect(summary.outputs).toEqual([embeds, summed, found.softmaxOutputs[0]]);

    const g = golden();
    const image = g.images[0];
    if (!image) throw new Error('no golden image');
    const session = await ort.InferenceSession.create(patched, { executionProviders: ['wasm'] });
    try {
      const pixels = new ort.Tensor('float32', tensor(image.pixel_values), [1, ...image.pixel_values.shape]);
      const out = await session.run({ [found.inputs[0] as string]: pixels, 'test/extra': new ort.Tensor('float32', new Float32Array([0.5]), [1, 1]) });
      const e = out[embeds]?.data as Float32Array;
      const expected = e.reduce((s, x) => s + 2 * x + 0.5, 0);
      expect((out[summed]?.data as Float32Array)[0]).toBeCloseTo(expected, 3);
      const attention = out[found.softmaxOutputs[0] as string]?.data as Float32Array;
      const seq = g.patch_grid * g.patch_grid + 1;
      expect(attention[0]).toBeGreaterThan(0);
      expect(attention.slice(0, seq).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 4); // a Softmax row
    } finally {
      await session.release();
    }
  });

  it('refuses an empty output name', () => {
    expect(() => new GraphTail('test').output('')).toThrow(RangeError);
  });
});
