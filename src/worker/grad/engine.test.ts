/**
 * The worker's relevance engine on the bundled model (tfjs CPU backend in Node): kept pixels,
 * lazily built graphs, result cache, cancellation, errors, and memory released on model change.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseClipConfig } from '../../model/config';
import type { RelevanceProgress } from '../../protocol';
import { golden, maxAbsDiff, MODEL_DIR, modelFile, tensor } from '../../testing/golden';
import { findAttentionSoftmax } from '../onnx/attention';
import { RelevanceEngine, type BackwardSession, type EncoderInterface, type RelevanceModel } from './engine';

const config = parseClipConfig(JSON.parse(readFileSync(MODEL_DIR + 'config.json', 'utf8')), 'clip-lens-shapes');
const g = golden();

function encoderInterface(which: 'vision' | 'text'): EncoderInterface {
  const found = findAttentionSoftmax(modelFile(`onnx/${which}_model.onnx`));
  return { input: found.inputs[0] as string, output: found.outputs[0] as string, attention: found.softmaxOutputs, heads: config[which].heads };
}

let reads = 0;
const model: RelevanceModel = {
  readBytes: async (which) => {
    reads++;
    return modelFile(`onnx/${which}_model.onnx`);
  },
  files: { vision: 'onnx/vision_model.onnx', text: 'onnx/text_model.onnx' },
  vision: encoderInterface('vision'),
  text: encoderInterface('text'),
  logitScale: config.logitScale,
  patchSize: config.vision.patchSize,
};

const pair = g.pairs[0]!;
const image = g.images[pair.image]!;
const prompt = g.prompts[pair.prompt]!;
const request = { requestId: 1, imageId: 'scene0', promptIds: prompt.input_ids, startLayerImage: -1, startLayerText: -1 };
const noCancel = () => {};

describe('RelevanceEngine', () => {
  const engine = new RelevanceEngine({ backends: ['cpu'], maxImages: 2 });

  it('answers with the golden maps, builds the graphs once and caches results', async () => {
    const baseline = tf.memory().numTensors;
    engine.setModel(model);
    engine.rememberPixels('scene0', tensor(image.pixel_values), [1, ...image.pixel_values.shape]);
    const steps: RelevanceProgress['stage'][] = [];
    const r = await engine.compute(request, noCancel, (p) => steps.push(p.stage));
    expect(steps).toEqual(['prepare', 'text-forward', 'vision', 'text', 'done']);
    expect(r.backend).toBe('cpu');
    expect(r.cached).toBe(false);
    expect(r.grid).toEqual({ width: g.patch_grid, height: g.patch_grid });
    expect(maxAbsDiff(r.imageMap, tensor(pair.image_relevance_last_layer))).toBeLessThan(1e-4 * Math.max(...tensor(pair.image_relevance_last_layer)));
    expect(maxAbsDiff(r.textMap, tensor(pair.text_relevance_last_layer))).toBeLessThan(1e-6);
    expect(r.score).toBeCloseTo(pair.score, 4);
    // Head importance: only the last layer was differentiated.
    const h = config.vision.heads;
    expect(r.headImportance.length).toBe(config.vision.layers * h);
    expect(r.headImportance.subarray(0, (config.vision.layers - 1) * h).every((v) => v === 0)).toBe(true);
    expect(r.headImportance.subarray((config.vision.layers - 1) * h).some((v) => v > 0)).toBe(true);
    console.log(`relevance, first request (graph build + fwd/bwd, tfjs cpu): ${r.ms.toFixed(0)} ms`);

    const again = await engine.compute({ ...request, requestId: 2 }, noCancel);
    expect(again.cached).toBe(true);
    expect(again.imageMap).toEqual(r.imageMap);
    expect(again.imageMap.buffer).not.toBe(r.imageMap.buffer); // fresh buffers: safe to transfer

    const all = await engine.compute({ ...request, requestId: 3, startLayerImage: 0, startLayerText: 0 }, noCancel);
    expect(maxAbsDiff(all.imageMap, tensor(pair.image_relevance_all_layers))).toBeLessThan(1e-4 * Math.max(...tensor(pair.image_relevance_all_layers)));
    expect(maxAbsDiff(all.textMap, tensor(pair.text_relevance_all_layers))).toBeLessThan(1e-6);
    console.log(`relevance, all layers (graphs built): ${all.ms.toFixed(0)} ms`);
    expect(reads).toBe(2);

    engine.setModel(null);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('returns every layer\'s gradient on request, differentiated from layer 0', async () => {
    engine.setModel(model);
    engine.rememberPixels('scene0', tensor(image.pixel_values), [1, ...image.pixel_values.shape]);
    const r = await engine.compute({ ...request, includeGradients: true }, noCancel);
    const grads = r.gradients;
    if (!grads) throw new Error('no gradients');
    const seq = 1 + g.patch_grid ** 2;
    expect(grads.vision).toMatchObject({ layers: config.vision.layers, heads: config.vision.heads, seq });
    expect(grads.vision.data.length).toBe(config.vision.layers * config.vision.heads * seq * seq);
    expect(grads.text.seq).toBe(prompt.input_ids.length);
    expect(grads.vision.data.subarray(0, seq * seq).some((v) => v !== 0)).toBe(true); // layer 0 too
    expect(r.headImportance.every((v) => v > 0)).toBe(true);
    expect(r.cached).toBe(false);
  });

  it('refuses unknown images and bad requests with a worker error code', async () => {
    await expect(engine.compute({ ...request, imageId: 'never-seen' }, noCancel)).rejects.toThrow(/^\[unknown-image\] .*encode it again/);
    await expect(engine.compute({ ...request, startLayerImage: 9 }, noCancel)).rejects.toThrow(/^\[runtime\] startLayerImage 9 is out of range/);
    await expect(engine.compute({ ...request, promptIds: [5] }, noCancel)).rejects.toThrow(/promptIds/);
    // Only the last 2 images are kept.
    engine.rememberPixels('a', tensor(image.pixel_values), [1, ...image.pixel_values.shape]);
    engine.rememberPixels('b', tensor(image.pixel_values), [1, ...image.pixel_values.shape]);
    await expect(engine.compute({ ...request, startLayerImage: 1 }, noCancel)).rejects.toThrow(/unknown-image/);
  });

  it('stops between steps when cancelled, and works again afterwards', async () => {
    engine.rememberPixels('scene0', tensor(image.pixel_values), [1, ...image.pixel_values.shape]);
    const before = tf.memory().numTensors;
    let calls = 0;
    const cancelAfterVision = () => {
      if (++calls === 4) throw new Error('[cancelled] Cancelled.');
    };
    await expect(engine.compute({ ...request, startLayerImage: 2 }, cancelAfterVision)).rejects.toThrow(/^\[cancelled\]/);
    expect(tf.memory().numTensors).toBe(before);
    const r = await engine.compute({ ...request, startLayerImage: 2 }, noCancel);
    expect(r.imageMap.length).toBe(g.patch_grid ** 2);
    engine.setModel(null);
  });
});

/** What the worker's runtime gives the engine: an ONNX Runtime session of the backward graph. */
async function ortBackwardSession(bytes: Uint8Array): Promise<BackwardSession> {
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(bytes);
  return {
    run: async (feeds, outputs) => {
      const input = Object.fromEntries(Object.entries(feeds).map(([name, f]) => [name, new ort.Tensor('float32', f.data, [...f.dims])]));
      const out = await session.run(input, [...outputs]);
      return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, new Float32Array(t.data as Float32Array)]));
    },
    release: () => session.release(),
  };
}

describe('RelevanceEngine with ONNX Runtime differentiating the image encoder', () => {
  const allLayers = { ...request, startLayerImage: 0, startLayerText: 0 };
  const wantAll = tensor(pair.image_relevance_all_layers);

  it('answers all-layer requests from the backward graph, with the golden maps', async () => {
    let opened = 0;
    const engine = new RelevanceEngine({ backends: ['cpu'] });
    engine.setModel({ ...model, openBackward: (bytes) => (opened++, ortBackwardSession(bytes)) });
    engine.rememberPixels('scene0', tensor(image.pixel_values), [1, ...image.pixel_values.shape]);
    const all = await engine.compute(allLayers, noCancel);
    expect(all.visionBy).toBe('onnxruntime');
    expect(maxAbsDiff(all.imageMap, wantAll)).toBeLessThan(1e-4 * Math.max(...wantAll));
    expect(maxAbsDiff(all.textMap, tensor(pair.text_relevance_all_layers))).toBeLessThan(1e-6);
    expect(all.score).toBeCloseTo(pair.score, 4);
    expect(all.headImportance.every((v) => v > 0)).toBe(true);
    // Another prompt on the same image size reuses the session.
    const other = g.prompts.find((p) => p !== prompt) ?? prompt;
    const second = await engine.compute({ ...allLayers, requestId: 2, promptIds: other.input_ids }, noCancel);
    expect(second.visionBy).toBe('onnxruntime');
    expect(opened).toBe(1);
    // The last layer alone starts from the block input the encoding brings: tfjs, as before.
    const last = await engine.compute({ ...request, requestId: 3 }, noCancel);
    expect(last.visionBy).toBe('tfjs');
    expect(maxAbsDiff(last.imageMap, tensor(pair.image_relevance_last_layer))).toBeLessThan(1e-4 * Math.max(...tensor(pair.image_relevance_last_layer)));
    engine.setModel(null);
  });

  it('falls back to tfjs when ONNX Runtime refuses the graph, and when told never to use it', async () => {
    for (const [options, openBackward] of [
      [{}, () => Promise.reject(new Error('this backend cannot run the backward graph'))],
      [{ ortBackward: 'never' as const }, ortBackwardSession],
    ] as const) {
      const engine = new RelevanceEngine({ backends: ['cpu'], ...options });
      engine.setModel({ ...model, openBackward });
      engine.rememberPixels('scene0', tensor(image.pixel_values), [1, ...image.pixel_values.shape]);
      const all = await engine.compute(allLayers, noCancel);
      expect(all.visionBy).toBe('tfjs');
      expect(maxAbsDiff(all.imageMap, wantAll)).toBeLessThan(1e-4 * Math.max(...wantAll));
      engine.setModel(null);
    }
  });
});
