/**
 * Patch contributions (./contributions.ts) on the bundled model, tfjs CPU backend in Node: the
 * per-layer structure, equality with the PyTorch reference (tools/models/explain_torch.py
 * `patch_contributions`, in the goldens), the fp16 and q8 files, the pointing game, and the
 * worker's engine answering the `contributions` mode.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePreprocessorConfig } from '../../image/preprocess';
import { parseClipConfig } from '../../model/config';
import { ClipTextTokenizer } from '../../text/tokenizer';
import { correlation, golden, maxAbsDiff, MODEL_DIR, modelFile, tensor } from '../../testing/golden';
import { makeScene, pointingHit, seededRandom } from '../../testing/scenes';
import { findAttentionSoftmax } from '../onnx/attention';
import { summarizeModel } from '../onnx/graph';
import { findContributionGraph, imageContributions, promptContributions, type ContributionGraph } from './contributions';
import { DenseEngine } from './denseEngine';
import { RelevanceEngine, type RelevanceModel } from './engine';
import { OnnxInterpreter } from './interpreter';

const json = (name: string): unknown => JSON.parse(readFileSync(MODEL_DIR + name, 'utf8'));
const config = parseClipConfig(json('config.json'), 'clip-lens-shapes');
const pre = parsePreprocessorConfig(json('preprocessor_config.json'));
const tok = ClipTextTokenizer.fromJSON(json('tokenizer.json'), json('tokenizer_config.json'));
const g = golden();
const SIZE = g.image_size;
const GRID = g.patch_grid;

const VARIANTS = { fp32: '', fp16: '_fp16', q8: '_quantized' } as const;
type Variant = keyof typeof VARIANTS;
const visionFile = (v: Variant) => `onnx/vision_model${VARIANTS[v]}.onnx`;
const textFile = (v: Variant) => `onnx/text_model${VARIANTS[v]}.onnx`;

function fail(what: string): never {
  throw new Error(`missing ${what}`);
}

const vision = new Map<Variant, { interp: OnnxInterpreter; graph: ContributionGraph }>();
let text: OnnxInterpreter;

beforeAll(async () => {
  await tf.setBackend('cpu');
  for (const v of Object.keys(VARIANTS) as Variant[]) {
    const bytes = modelFile(visionFile(v));
    vision.set(v, { interp: OnnxInterpreter.load(bytes, { name: visionFile(v) }), graph: findContributionGraph(summarizeModel(bytes), visionFile(v)) });
  }
  text = OnnxInterpreter.load(modelFile(textFile('fp32')), { name: textFile('fp32') });
});

afterAll(() => {
  for (const { interp } of vision.values()) interp.dispose();
  text.dispose();
});

function textEmbeds(ids: readonly number[]): Float32Array {
  return tf.tidy(() => {
    const out = text.run({ input_ids: { kind: 'int', data: ids, dims: [1, ids.length] } }, { outputs: ['text_embeds'] }).get('text_embeds');
    if (out?.kind !== 'tensor') throw new Error('no text_embeds');
    return Float32Array.from(out.tensor.dataSync());
  });
}

/** Sum over layers of per-layer rows `(layers, patches)`. */
function sumLayers(rows: Float32Array): Float32Array {
  const patches = GRID * GRID;
  const sum = new Float32Array(patches);
  rows.forEach((value, i) => { sum[i % patches] = (sum[i % patches] as number) + value; });
  return sum;
}

/** The map of all layers: the sum of the per-layer rows. */
function contributions(v: Variant, pixels: { data: Float32Array; dims: number[] }, t: Float32Array): Float32Array {
  const { interp, graph } = vision.get(v) ?? fail(v);
  return sumLayers(promptContributions(interp, graph, imageContributions(interp, graph, pixels), t));
}

const goldenPixels = (image: number) => {
  const im = g.images[image] ?? fail(`golden image ${image}`);
  return { data: tensor(im.pixel_values), dims: [1, 3, SIZE, SIZE] };
};

describe('findContributionGraph on the bundled model', () => {
  it('finds every attention layer, in order, with distinct tensors', () => {
    const { graph } = vision.get('fp32') ?? fail('fp32');
    expect(graph.layers).toHaveLength(config.vision.layers);
    expect(graph.layers.map((l) => l.attention)).toEqual(findAttentionSoftmax(modelFile(visionFile('fp32'))).softmaxOutputs);
    const names = graph.layers.flatMap((l) => [l.attention, l.value, l.attentionOutput, l.outProjection]);
    expect(new Set(names).size).toBe(names.length);
    expect([graph.input, graph.output]).toEqual(['pixel_values', 'image_embeds']);
  });
});

describe('patch contributions', () => {
  it('fp32 equals the PyTorch reference on every golden pair', () => {
    for (const pair of g.pairs) {
      const ref = tensor(pair.patch_contributions);
      const prompt = g.prompts[pair.prompt] ?? fail('golden prompt');
      const ours = contributions('fp32', goldenPixels(pair.image), textEmbeds(prompt.input_ids));
      expect(ours).toHaveLength(GRID * GRID);
      const scale = Math.max(...ref.map(Math.abs));
      expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-4 * scale);
    }
  });

  it('fp16 and q8 files give the same map', () => {
    for (const pair of g.pairs) {
      const prompt = g.prompts[pair.prompt] ?? fail('golden prompt');
      const t = textEmbeds(prompt.input_ids);
      const fp32 = contributions('fp32', goldenPixels(pair.image), t);
      expect(correlation(contributions('fp16', goldenPixels(pair.image), t), fp32)).toBeGreaterThan(0.9999);
      expect(correlation(contributions('q8', goldenPixels(pair.image), t), fp32)).toBeGreaterThan(0.99);
    }
  });

  it('points at the prompted object (pointing game, 40 fresh two-object scenes)', () => {
    // Same game as dense.test.ts: prompt "a {colour} {shape}" of one object; a hit when the
    // map's peak patch has ≥ 1/16 of its pixels on that object's visible mask.
    let hits = 0;
    const n = 40;
    for (let k = 0; k < n; k++) {
      const s = makeScene(seededRandom(3000 + k), { width: SIZE, height: SIZE, objects: 2, distinct: true });
      const o = k % 2;
      const obj = s.objects[o] ?? fail('object');
      const px = new Float32Array(3 * SIZE * SIZE);
      for (let p = 0; p < SIZE * SIZE; p++) {
        for (let c = 0; c < 3; c++) px[c * SIZE * SIZE + p] = ((s.rgba[4 * p + c] as number) / 255 - (pre.imageMean[c] as number)) / (pre.imageStd[c] as number);
      }
      const ids = tok.encode(`a ${obj.colour} ${obj.shape}`)?.ids ?? fail('ids');
      const map = contributions('fp32', { data: px, dims: [1, 3, SIZE, SIZE] }, textEmbeds(ids));
      if (pointingHit(map, GRID, s.masks[o] ?? fail('mask'), s.width, s.height)) hits++;
    }
    console.log(`pointing game (patch contributions, fp32): ${hits}/${n}`);
    // PyTorch on 200 scenes of the same kind: 0.97.
    expect(hits / n).toBeGreaterThanOrEqual(0.85);
    // 40 maps at 145 tokens on the tfjs CPU backend: 34 s beside another heavy test file.
  }, 240_000);
});

describe('DenseEngine, mode contributions', () => {
  function model(): RelevanceModel {
    const face = (which: 'vision' | 'text', file: string) => {
      const found = findAttentionSoftmax(modelFile(file));
      return { input: found.inputs[0] as string, output: found.outputs[0] as string, attention: found.softmaxOutputs, heads: config[which].heads };
    };
    return {
      readBytes: async (which) => modelFile(which === 'vision' ? visionFile('fp32') : textFile('fp32')),
      files: { vision: visionFile('fp32'), text: textFile('fp32') },
      vision: face('vision', visionFile('fp32')),
      text: face('text', textFile('fp32')),
      logitScale: config.logitScale,
      patchSize: config.vision.patchSize,
    };
  }

  it('answers with the map of the functions above, cached per (pixels, prompt, mode)', async () => {
    const relevance = new RelevanceEngine({ backends: ['cpu'] });
    const dense = new DenseEngine(relevance);
    const baseline = tf.memory().numTensors;
    relevance.setModel(model());
    const pair = g.pairs[0] ?? fail('golden pair');
    const prompt = g.prompts[pair.prompt] ?? fail('golden prompt');
    const px = goldenPixels(pair.image);
    relevance.rememberPixels('golden0', px.data, px.dims);
    const request = { requestId: 1, imageId: 'golden0', promptIds: prompt.input_ids, mode: 'contributions' as const };
    const first = await dense.compute(request, () => {});
    expect(first.grid).toEqual({ width: GRID, height: GRID });
    expect(maxAbsDiff(first.map, contributions('fp32', px, textEmbeds(prompt.input_ids)))).toBeLessThan(1e-6);
    // Each layer's share comes along, and the map is their sum.
    const layerMaps = first.layerMaps ?? fail('layerMaps');
    expect(layerMaps).toHaveLength(config.vision.layers * GRID * GRID);
    expect(maxAbsDiff(sumLayers(layerMaps), first.map)).toBeLessThan(1e-6);
    expect(new Set(Array.from({ length: config.vision.layers }, (_, l) => layerMaps[l * GRID * GRID])).size).toBe(config.vision.layers);
    const again = await dense.compute({ ...request, requestId: 2 }, () => {});
    expect(again.cached).toBe(true);
    expect(again.layerMaps).toEqual(first.layerMaps);
    // Another prompt on the same image reuses the image's part: only the head runs again.
    const other = g.prompts.find((p) => p !== prompt) ?? fail('second golden prompt');
    const second = await dense.compute({ ...request, requestId: 4, promptIds: other.input_ids }, () => {});
    expect(second.cached).toBe(false);
    expect(maxAbsDiff(second.map, contributions('fp32', px, textEmbeds(other.input_ids)))).toBeLessThan(1e-6);
    console.log(`patch contributions: first prompt ${first.ms.toFixed(0)} ms, another prompt on the image ${second.ms.toFixed(0)} ms`);
    const masked = await dense.compute({ ...request, requestId: 3, mode: 'maskclip' }, () => {});
    expect(masked.cached).toBe(false);
    expect(maxAbsDiff(masked.map, first.map)).toBeGreaterThan(0);
    // What is kept between requests is plain floats: no tensor outlives the model.
    relevance.setModel(null);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
