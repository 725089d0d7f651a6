/**
 * The same gradients on tfjs's WASM backend (what a browser without a usable GPU runs): every
 * kernel the forward and backward passes need exists there, and the maps equal the goldens.
 * A separate file, so that this process's tfjs uses WASM from the start.
 */
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { imageRelevance, textRelevance } from '../../explain/relevance';
import { parseClipConfig } from '../../model/config';
import { golden, maxAbsDiff, MODEL_DIR, modelFile, tensor } from '../../testing/golden';
import { findAttentionSoftmax } from '../onnx/attention';
import { clipGradients, type EncoderGradients, type EncoderSpec } from './gradients';
import { OnnxInterpreter } from './interpreter';

it('tfjs WASM backend: relevance equals the PyTorch goldens', async () => {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false); // as the worker configures it
  expect(await tf.setBackend('wasm')).toBe(true);
  const config = parseClipConfig(JSON.parse(readFileSync(MODEL_DIR + 'config.json', 'utf8')), 'clip-lens-shapes');
  const g = golden();
  const encoder = (which: 'vision' | 'text'): EncoderSpec => {
    const bytes = modelFile(`onnx/${which}_model.onnx`);
    const found = findAttentionSoftmax(bytes);
    return { interpreter: OnnxInterpreter.load(bytes, { name: which }), input: found.inputs[0] as string, output: found.outputs[0] as string, attention: found.softmaxOutputs, heads: config[which].heads };
  };
  const vision = encoder('vision');
  const text = encoder('text');
  const stack = (e: EncoderGradients, data: Float32Array) => ({ layers: e.layers, heads: e.heads, seq: e.seq, data });
  const grid = { width: g.patch_grid, height: g.patch_grid };
  for (const pair of g.pairs) {
    const image = g.images[pair.image]!;
    const ids = g.prompts[pair.prompt]!.input_ids;
    const r = await clipGradients(vision, text, { data: tensor(image.pixel_values), dims: [1, ...image.pixel_values.shape] }, ids, {
      fromLayerVision: 0,
      fromLayerText: 0,
      logitScale: config.logitScale,
    });
    const [va, vg, ta, tg] = [stack(r.vision, r.vision.attentions), stack(r.vision, r.vision.gradients), stack(r.text, r.text.attentions), stack(r.text, r.text.gradients)];
    // ≤: an all-zero map (every gradient·attention ≤ 0) must come out all zero.
    const close = (got: Float32Array, ref: Float32Array) => expect(maxAbsDiff(got, ref)).toBeLessThanOrEqual(1e-4 * Math.max(...ref.map(Math.abs)));
    close(imageRelevance(va, vg, grid, -1).values, tensor(pair.image_relevance_last_layer));
    close(imageRelevance(va, vg, grid, 0).values, tensor(pair.image_relevance_all_layers));
    close(textRelevance(ta, tg, -1), tensor(pair.text_relevance_last_layer));
    close(textRelevance(ta, tg, 0), tensor(pair.text_relevance_all_layers));
    expect(r.score).toBeCloseTo(pair.score, 4);
  }
  vision.interpreter.dispose();
  text.interpreter.dispose();
});
