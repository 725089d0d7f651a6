/**
 * The backward pass appended to the bundled vision graph and run by ONNX Runtime (./ortBackward.ts)
 * gives the same all-layers relevance as the PyTorch goldens, and the same ∂score/∂A as tfjs's
 * autodiff over the interpreted graph (./gradients.ts).
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { imageRelevance } from '../../explain/relevance';
import { parseClipConfig } from '../../model/config';
import { golden, maxAbsDiff, MODEL_DIR, modelFile, tensor } from '../../testing/golden';
import { findAttentionSoftmax } from '../onnx/attention';
import { OnnxInterpreter } from './interpreter';
import { parseModel } from './onnxModel';
import { appendBackward, backwardPath, BackwardUnsupportedError, type BackwardGraph } from './ortBackward';
import { shapeOf } from './values';

const config = parseClipConfig(JSON.parse(readFileSync(MODEL_DIR + 'config.json', 'utf8')), 'clip-lens-shapes');
const g = golden();
const grid = { width: g.patch_grid, height: g.patch_grid };

function unit(v: Float32Array): Float32Array {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** The backward graph of one vision file, with shapes from one interpreter pass. */
function backwardOf(file: string, pixels: Float32Array, dims: number[]): BackwardGraph {
  const bytes = modelFile(file);
  const model = parseModel(bytes, file);
  const found = findAttentionSoftmax(bytes);
  const output = found.outputs[0] as string;
  const path = backwardPath(model, found.softmaxOutputs, output);
  const interpreter = OnnxInterpreter.load(bytes, { name: file });
  const shapes = new Map<string, number[]>();
  tf.tidy(() => {
    const values = interpreter.run({ [found.inputs[0] as string]: { kind: 'float', data: pixels, dims } }, { outputs: path.tensors });
    for (const [name, v] of values) shapes.set(name, shapeOf(v));
  });
  interpreter.dispose();
  return appendBackward(bytes, model, path, found.softmaxOutputs, output, shapes);
}

describe('ONNX Runtime backward pass (bundled model, fp32)', () => {
  let graph: BackwardGraph;
  let session: ort.InferenceSession;
  const first = g.images[0];

  beforeAll(async () => {
    await tf.setBackend('cpu');
    ort.env.wasm.numThreads = 1;
    if (!first) throw new Error('no golden image');
    graph = backwardOf('onnx/vision_model.onnx', tensor(first.pixel_values), [1, ...first.pixel_values.shape]);
    session = await ort.InferenceSession.create(graph.bytes);
  });

  it('gives the PyTorch all-layers relevance and score for every golden pair', async () => {
    for (const pair of g.pairs) {
      const image = g.images[pair.image];
      const prompt = g.prompts[pair.prompt];
      if (!image || !prompt) throw new Error('golden pair out of range');
      const u = unit(tensor(prompt.text_embeds)).map((x) => x * config.logitScale);
      const out = await session.run({
        pixel_values: new ort.Tensor('float32', tensor(image.pixel_values), [1, ...image.pixel_values.shape]),
        [graph.seed]: new ort.Tensor('float32', u, [1, u.length]),
      });
      const stack = (names: readonly string[]) => {
        const parts = names.map((n) => out[n]?.data as Float32Array);
        const data = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
        let o = 0;
        for (const p of parts) {
          data.set(p, o);
          o += p.length;
        }
        const seq = Math.sqrt((parts[0]?.length ?? 0) / config.vision.heads);
        return { layers: names.length, heads: config.vision.heads, seq, data };
      };
      const map = imageRelevance(stack(graph.attention), stack(graph.gradients), grid, 0).values;
      const want = tensor(pair.image_relevance_all_layers);
      expect(maxAbsDiff(map, want)).toBeLessThan(1e-4 * Math.max(...want));
      expect((out[graph.score]?.data as Float32Array)[0]).toBeCloseTo(pair.score, 4);
    }
  });

  it('refuses what it cannot differentiate, so the caller falls back to tfjs', () => {
    const px = first ? tensor(first.pixel_values) : new Float32Array();
    expect(() => backwardOf('onnx/vision_model_fp16.onnx', px, [1, ...(first?.pixel_values.shape ?? [])])).toThrow(BackwardUnsupportedError);
  });
});
