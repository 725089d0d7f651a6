/**
 * Finding and exposing the attention Softmax of the bundled model, checked end to end: the patched
 * bytes run in onnxruntime-web (its Node build, WASM EP) and the returned attentions are compared
 * with PyTorch goldens. Nothing here hard-codes a number that comes from the weights or the config.
 */
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cosine } from '../../state/results';
import { golden, maxAbsDiff, modelFile, tensor } from '../../testing/golden';
import { exposeAttention, findAttentionSoftmax, patchOutputs } from './attention';
import { fixtureModel, fusedAttentionModel, unfusedAttentionModel, modelError } from './fixtures';
import { summarizeModel } from './graph';
import { attentionToFloat32, toFloat32, type StackedAttention } from './tensors';

interface EncoderConfig {
  num_hidden_layers: number;
  num_attention_heads: number;
}
interface Config {
  vision_config: EncoderConfig & { image_size: number };
  text_config: EncoderConfig;
}
const config = JSON.parse(new TextDecoder().decode(modelFile('config.json'))) as Config;

type Encoder = 'vision' | 'text';
type Variant = '' | '_fp16' | '_quantized';
const VARIANTS: readonly Variant[] = ['', '_fp16', '_quantized'];
const encoderConfig = (e: Encoder): EncoderConfig => (e === 'vision' ? config.vision_config : config.text_config);
const fileOf = (e: Encoder, v: Variant): string => `onnx/${e}_model${v}.onnx`;

/**
 * Tolerances vs the PyTorch fp32 goldens: attention max |Δ| and minimum embedding cosine. q8:
 * dynamic int8 quantization moves single probabilities of a peaked softmax a long way (current
 * bundled weights: 0.027 on the vision encoder; 0.21 on the text encoder, whose token embedding
 * is quantized too, one scale for the whole table; the previous weights: 0.036 and 0.060) while
 * the embeddings stay within cosine 0.999. A wrong tensor would be off by up to 1 everywhere.
 */
const TOLERANCE: Record<Variant, { attention: number; embedding: number; cosine: number }> = {
  '': { attention: 1e-4, embedding: 1e-4, cosine: 0.9999 },
  _fp16: { attention: 2e-2, embedding: Number.POSITIVE_INFINITY, cosine: 0.99 },
  _quantized: { attention: 0.3, embedding: Number.POSITIVE_INFINITY, cosine: 0.99 },
};


/** `toEqual` on multi-MB arrays takes seconds; Buffer.equals is a memcmp. */
function isPrefix(prefix: Uint8Array, bytes: Uint8Array): boolean {
  const view = (a: Uint8Array, n: number): Buffer => Buffer.from(a.buffer, a.byteOffset, n);
  return bytes.length >= prefix.length && view(prefix, prefix.length).equals(view(bytes, prefix.length));
}


// ------------------------------------------------------------------------------------------------
// Inputs from the goldens: all images in one batch (exercises the batch·heads layout); prompts
// grouped by length, since the export takes unpadded ids of one length per batch.

interface Run {
  input: ort.Tensor;
  /** Golden indices of the batch items, in batch order. */
  items: number[];
}

function visionRuns(): Run[] {
  const images = golden().images;
  const first = images[0];
  if (!first) throw new Error('no golden images');
  const [c, h, w] = first.pixel_values.shape as [number, number, number];
  const data = new Float32Array(images.length * c * h * w);
  images.forEach((img, i) => data.set(tensor(img.pixel_values), i * c * h * w));
  return [{ input: new ort.Tensor('float32', data, [images.length, c, h, w]), items: images.map((_, i) => i) }];
}

function textRuns(): Run[] {
  const byLength = new Map<number, number[]>();
  golden().prompts.forEach((p, i) => byLength.set(p.input_ids.length, [...(byLength.get(p.input_ids.length) ?? []), i]));
  return [...byLength].map(([n, items]) => {
    const ids = BigInt64Array.from(items.flatMap((i) => golden().prompts[i]?.input_ids ?? []).map(BigInt));
    return { input: new ort.Tensor('int64', ids, [items.length, n]), items };
  });
}

const runsOf = (e: Encoder): Run[] => (e === 'vision' ? visionRuns() : textRuns());
const goldenItem = (e: Encoder, i: number) => {
  const item = e === 'vision' ? golden().images[i] : golden().prompts[i];
  if (!item) throw new Error(`no golden ${e} ${i}`);
  return { embeds: tensor('image_embeds' in item ? item.image_embeds : item.text_embeds), attentions: item.attentions };
};

// ------------------------------------------------------------------------------------------------

const sessions: ort.InferenceSession[] = [];
beforeAll(() => {
  ort.env.wasm.numThreads = 1; // the test machine is shared; and ORT's default would be 1 here anyway
});
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
});

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  sessions.push(s);
  return s;
}

describe.each((['vision', 'text'] as const).flatMap((e) => VARIANTS.map((v) => [e, v] as const)))(
  '%s_model%s.onnx',
  (encoder, variant) => {
    const bytes = modelFile(fileOf(encoder, variant));
    const { num_hidden_layers: layers, num_attention_heads: heads } = encoderConfig(encoder);
    const tol = TOLERANCE[variant];

    test('finds one self-attention Softmax per layer, in graph order', () => {
      const t0 = performance.now();
      const found = findAttentionSoftmax(bytes, { expectedLayers: layers });
      console.log(`findAttentionSoftmax ${fileOf(encoder, variant)}: ${(performance.now() - t0).toFixed(1)} ms`);
      expect(found.layers).toHaveLength(layers);
      expect(found.layers.map((l) => l.layer)).toEqual([...Array(layers).keys()]);
      const order = found.layers.map((l) => l.nodeIndex);
      expect(order).toEqual([...order].sort((a, b) => a - b));
      expect(new Set(found.softmaxOutputs).size).toBe(layers);
      const nodes = summarizeModel(bytes).nodes;
      for (const l of found.layers) {
        const node = nodes[l.nodeIndex];
        expect(node?.opType).toBe('Softmax');
        expect(node?.outputs[0]).toBe(l.output);
      }
      // Names were not used to find them, but in these exports they should agree.
      found.layers.forEach((l, i) => expect(l.nodeName).toContain(`layers.${i}/self_attn`));
    });

    test('a layer count other than the config is an error', () => {
      const e = modelError(() => findAttentionSoftmax(bytes, { expectedLayers: layers + 1 }));
      expect(e.reason).toBe('layer-count');
      expect(e.message).toContain(`Found ${layers} self-attention Softmax`);
    });

    test('patched bytes load in ORT, return the attentions and leave the embeddings unchanged', async () => {
      const { bytes: patched, attention } = exposeAttention(bytes, { expectedLayers: layers });
      expect(isPrefix(bytes, patched)).toBe(true); // the original file, untouched, then the patch
      const plain = await session(bytes);
      const lens = await session(patched);
      expect(lens.inputNames).toEqual(plain.inputNames);
      expect(lens.outputNames).toEqual([...plain.outputNames, ...attention.softmaxOutputs]);
      const embeds = attention.outputs[0] as string;
      for (const run of runsOf(encoder)) {
        const a = await plain.run({ [attention.inputs[0] as string]: run.input });
        const b = await lens.run({ [attention.inputs[0] as string]: run.input });
        const diff = maxAbsDiff(toFloat32(a[embeds] as ort.Tensor), toFloat32(b[embeds] as ort.Tensor));
        expect(diff).toBeLessThanOrEqual(1e-6);
        for (const name of attention.softmaxOutputs) {
          const t = b[name] as ort.Tensor;
          expect(t.type).toBe(variant === '_fp16' ? 'float16' : 'float32');
          expect(t.dims).toHaveLength(3); // (batch·heads, seq, seq): bmm-based export
        }
      }
    });

    test(`attentions and embeddings match the PyTorch goldens (attention ≤ ${tol.attention}, cosine ≥ ${tol.cosine})`, async () => {
      const { bytes: patched, attention } = exposeAttention(bytes, { expectedLayers: layers });
      const lens = await session(patched);
      const worst = { attention: 0, embedding: 0, cosine: 1, rowSum: 0 };
      let compared = 0; // items with stored attention stacks (goldens.py keeps them for two images)
      for (const run of runsOf(encoder)) {
        const out = await lens.run({ [attention.inputs[0] as string]: run.input });
        const stacks: StackedAttention[] = attentionToFloat32(
          attention.softmaxOutputs.map((n) => out[n] as ort.Tensor),
          run.items.length,
          heads,
          attention.softmaxOutputs,
        );
        const embeds = toFloat32(out[attention.outputs[0] as string] as ort.Tensor);
        const dim = embeds.length / run.items.length;
        run.items.forEach((item, b) => {
          const ref = goldenItem(encoder, item);
          const stack = stacks[b] as StackedAttention;
          expect([stack.layers, stack.heads]).toEqual([layers, heads]);
          if (ref.attentions.length > 0) {
            expect(ref.attentions).toHaveLength(layers);
            compared++;
          } else expect(encoder).toBe('vision');
          const perLayer = stack.heads * stack.seq * stack.seq;
          ref.attentions.forEach((refLayer, l) => {
            expect(refLayer.shape).toEqual([stack.heads, stack.seq, stack.seq]);
            const got = stack.data.subarray(l * perLayer, (l + 1) * perLayer);
            worst.attention = Math.max(worst.attention, maxAbsDiff(got, tensor(refLayer)));
            for (let row = 0; row < heads * stack.seq; row++) {
              let sum = 0;
              for (let k = 0; k < stack.seq; k++) sum += got[row * stack.seq + k] as number;
              worst.rowSum = Math.max(worst.rowSum, Math.abs(sum - 1));
            }
          });
          const e = embeds.subarray(b * dim, (b + 1) * dim);
          expect(e.length).toBe(ref.embeds.length);
          worst.embedding = Math.max(worst.embedding, maxAbsDiff(e, ref.embeds));
          worst.cosine = Math.min(worst.cosine, cosine(e, ref.embeds));
        });
      }
      console.log(
        `${fileOf(encoder, variant)} vs golden: attention max|Δ| ${worst.attention.toExponential(2)}, ` +
          `embeds max|Δ| ${worst.embedding.toExponential(2)}, cosine ≥ ${worst.cosine.toFixed(6)}, ` +
          `row sums within ${worst.rowSum.toExponential(1)} of 1`,
      );
      expect(compared).toBeGreaterThanOrEqual(2);
      expect(worst.attention).toBeLessThanOrEqual(tol.attention);
      expect(worst.embedding).toBeLessThanOrEqual(tol.embedding);
      expect(worst.cosine).toBeGreaterThanOrEqual(tol.cosine);
      expect(worst.rowSum).toBeLessThanOrEqual(variant === '_fp16' ? 1e-2 : 1e-4);
    });
  },
);

describe('exports we cannot use, said clearly', () => {
  test('fused com.microsoft Attention and no Softmax', () => {
    const e = modelError(() => findAttentionSoftmax(fusedAttentionModel(2)));
    expect(e.reason).toBe('fused-attention');
    expect(e.message).toContain('fuses attention into a single operator');
    expect(e.message).toContain('Attention (com.microsoft) ×2');
    expect(e.message).toContain('cannot be exposed');
    expect(e.message).toMatch(/unfused attention.*Xenova\/transformers\.js/);
  });

  test.each([
    ['MultiHeadAttention', 'com.microsoft'],
    ['GroupQueryAttention', 'com.microsoft'],
    ['Attention', ''], // ONNX opset 23
  ])('fused %s (%s)', (opType, domain) => {
    const bytes = fixtureModel({
      nodes: [{ opType, domain, inputs: ['q', 'k', 'v'], outputs: ['y'] }],
      inputs: ['q', 'k', 'v'],
      outputs: ['y'],
      opsets: [{ domain: '', version: 23 }],
    });
    expect(modelError(() => findAttentionSoftmax(bytes)).reason).toBe('fused-attention');
  });

  test('no attention at all (only a classifier Softmax)', () => {
    const bytes = fixtureModel({
      nodes: [
        { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['logits'] },
        { opType: 'Softmax', inputs: ['logits'], outputs: ['p'] },
      ],
      inputs: ['x'],
      outputs: ['p'],
      initializers: [{ name: 'w', dims: [1], dataType: 1, floatData: [1] }],
    });
    const e = modelError(() => findAttentionSoftmax(bytes));
    expect(e.reason).toBe('no-attention');
    expect(e.message).toMatch(/1 Softmax node\(s\), but none sits between two matrix products/);
  });

  test.each([
    ['an HTML page', new TextEncoder().encode('<html><body>Sign in to continue</body></html>')],
    ['a truncated model', modelFile('onnx/vision_model.onnx').subarray(0, 5000)],
  ])('%s is not an ONNX model', (_, bytes) => {
    const e = modelError(() => findAttentionSoftmax(bytes));
    expect(['not-onnx', 'truncated']).toContain(e.reason);
    expect(e.message).toMatch(/not an ONNX model|incomplete or damaged/);
  });
});

describe('unfused attention in a synthetic graph with meaningless names', () => {
  test('finds the attention Softmax by structure and ignores the classifier Softmax', () => {
    const found = findAttentionSoftmax(unfusedAttentionModel(3), { expectedLayers: 3 });
    expect(found.softmaxOutputs).toEqual(['t0_p', 't1_p', 't2_p']);
    expect(found.inputs).toEqual(['x', 'mask']);
    expect(found.outputs).toEqual(['probs']);
  });

  test('patchOutputs appends one graph field and nothing else', () => {
    const bytes = unfusedAttentionModel(1);
    const patched = patchOutputs(bytes, ['t0_p', 't0_p', 't0_scores']);
    expect(isPrefix(bytes, patched)).toBe(true);
    const s = summarizeModel(patched);
    expect(s.outputs).toEqual(['probs', 't0_p', 't0_scores']);
    expect(s.graphFields).toBe(2);
    expect(summarizeModel(patched).nodes).toEqual(summarizeModel(bytes).nodes);
    expect(() => patchOutputs(bytes, [''])).toThrow(RangeError);
  });
});
