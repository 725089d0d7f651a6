import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { reduceLayers } from '../../explain/reduce';
import { parseClipConfig } from '../../model/config';
import { modelFile } from '../../testing/golden';
import { findAttentionSoftmax, patchOutputs } from './attention';
import { fixtureModel } from './fixtures';
import { summarizeModel } from './graph';
import { appendHeadReductions, assembleReduced, defaultOpset, reducesInGraph, type LayerReductions } from './headReduce';
import { halfBitsToFloat32 } from './tensors';

const options = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' as const };

/** Runs `bytes` on `feeds`, fetching `names`, as float32 copies. */
async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, names: readonly string[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes, options);
  try {
    const out = await session.run(feeds, [...names]);
    return names.map((n) => {
      const t = out[n];
      if (!t) throw new Error(`no output ${n}`);
      return t.type === 'float16' ? halfBitsToFloat32(t.data as Uint16Array) : new Float32Array(t.data as Float32Array);
    });
  } finally {
    await session.release();
  }
}

const maxRelative = (a: Float32Array | Float64Array, b: Float32Array | Float64Array): number => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / Math.max(1e-6, Math.abs(b[i] as number)));
  return worst;
};

/** The graph's reductions against `reduceLayers` of the full Softmax outputs of the same run. */
async function compare(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, heads: number) {
  const found = findAttentionSoftmax(bytes);
  const opset = defaultOpset(summarizeModel(bytes).opsetImports);
  const patched = appendHeadReductions(patchOutputs(bytes, found.softmaxOutputs), found.softmaxOutputs, heads, opset);
  const names = patched.outputs.flatMap((o) => [o.mean, o.max, o.min, o.cls]);
  const values = await run(patched.bytes, feeds, [...found.softmaxOutputs, ...names]);
  const full = values.slice(0, found.softmaxOutputs.length);
  const seq = Math.round(Math.sqrt((full[0] as Float32Array).length / heads));
  const reference = reduceLayers(full, heads, seq);
  const layers: LayerReductions[] = patched.outputs.map((_, l) => {
    const [mean, max, min, cls] = values.slice(full.length + 4 * l, full.length + 4 * l + 4) as [Float32Array, Float32Array, Float32Array, Float32Array];
    return { mean, max, min, cls };
  });
  return { reference, graph: assembleReduced(layers, heads) };
}

describe('appendHeadReductions', () => {
  for (const variant of ['', '_fp16', '_quantized']) {
    it(`bundled vision${variant || ' (fp32)'}: CLS rows, max and min equal the full stack's (fp32, q8: exactly); the mean to float32 rounding`, async () => {
      const bytes = modelFile(`onnx/vision_model${variant}.onnx`);
      const { heads, imageSize: size } = parseClipConfig(JSON.parse(new TextDecoder().decode(modelFile('config.json'))), 'clip-lens-shapes').vision;
      const pixels = Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.01) * 1.5);
      const found = findAttentionSoftmax(bytes);
      const { reference, graph } = await compare(bytes, { [found.inputs[0] as string]: new ort.Tensor('float32', pixels, [1, 3, size, size]) }, heads);
      expect([graph.layers, graph.heads, graph.seq]).toEqual([reference.layers, reference.heads, reference.seq]);
      if (variant === '_fp16') {
        // ORT's CPU kernels compute the float16 file's Softmax in float32 and round it to
        // float16 for the graph; our Cast back to float32 cancels that rounding, so the
        // reductions see the unrounded probabilities: within float16's half-ulp (2^-11
        // relative; 2^-25 absolute among its subnormals, below 2^-14).
        for (const [a, b] of [[graph.cls.data, reference.cls.data], [graph.fused.max, reference.fused.max], [graph.fused.min, reference.fused.min], [graph.fused.mean, reference.fused.mean]] as const) {
          let over = 0;
          for (let i = 0; i < a.length; i++) over = Math.max(over, Math.abs((a[i] as number) - (b[i] as number)) - (2 ** -11 * Math.abs(b[i] as number) + 2 ** -25));
          expect(over).toBeLessThanOrEqual(1e-9);
        }
        return;
      }
      expect(graph.cls.data).toEqual(reference.cls.data);
      expect(graph.fused.max).toEqual(reference.fused.max);
      expect(graph.fused.min).toEqual(reference.fused.min);
      expect(maxRelative(graph.fused.mean, reference.fused.mean)).toBeLessThan(1e-6);
    });
  }

  // Softmax over scores given as the input: (heads, seq, seq) as HF's bmm attention, and
  // (1, heads, seq, seq) as 4-D exports; opset 14 (axes attribute) and 18 (axes input).
  for (const { dims, opset } of [{ dims: [3, 5, 5], opset: 14 }, { dims: [1, 3, 5, 5], opset: 14 }, { dims: [1, 3, 5, 5], opset: 18 }]) {
    it(`a Softmax of shape (${dims.join(', ')}), opset ${opset}`, async () => {
      const bytes = fixtureModel({
        nodes: [
          { opType: 'MatMul', inputs: ['q', 'k'], outputs: ['scores'] },
          { opType: 'Softmax', inputs: ['scores'], outputs: ['p'] },
          { opType: 'MatMul', inputs: ['p', 'v'], outputs: ['out'] },
        ],
        inputs: ['q', 'k', 'v'],
        outputs: ['out'],
        opsets: [{ domain: '', version: opset }],
      });
      const n = dims.reduce((a, b) => a * b, 1);
      const tensor = (seed: number) => new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed) * 3), dims);
      const { reference, graph } = await compare(bytes, { q: tensor(1), k: tensor(2), v: tensor(3) }, 3);
      expect(graph.seq).toBe(5);
      expect(graph.cls.data).toEqual(reference.cls.data);
      expect(graph.fused.max).toEqual(reference.fused.max);
      expect(graph.fused.min).toEqual(reference.fused.min);
      expect(maxRelative(graph.fused.mean, reference.fused.mean)).toBeLessThan(1e-6);
    });
  }

  it('refuses a head count that is not a positive integer; assembleReduced refuses sizes that do not fit', () => {
    expect(() => appendHeadReductions(new Uint8Array(0), ['p'], 0, 14)).toThrow(/positive integer/);
    const f = (k: number) => new Float32Array(k);
    expect(() => assembleReduced([{ mean: f(25), max: f(25), min: f(25), cls: f(14) }], 3)).toThrow(/not a multiple of 3 heads/);
    expect(() => assembleReduced([{ mean: f(25), max: f(25), min: f(24), cls: f(15) }], 3)).toThrow(/layer 0/);
    expect(() => assembleReduced([], 3)).toThrow(/no attention layers/);
  });

  it('is used where the stack is big: ViT-B/16 and L/14, not B/32 or the bundled model', () => {
    const vit = (imageSize: number, patchSize: number, layers = 12, heads = 12) => ({ layers, heads, imageSize, patchSize });
    expect(reducesInGraph(vit(144, 12, 4, 8))).toBe(false); // bundled: 2.7 MB
    expect(reducesInGraph(vit(224, 32))).toBe(false); // 1.4 MB
    expect(reducesInGraph(vit(224, 16))).toBe(true); // 22 MB
    expect(reducesInGraph(vit(224, 14, 24, 16))).toBe(true); // 101 MB
  });
});
