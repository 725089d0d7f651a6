/**
 * Relevance from a block input: ONNX Runtime (its Node build, WASM EP, on the patched bundled
 * files, as the worker runs them) computes the residual stream entering the start block, the
 * interpreter starts there. The maps and head importance must equal those of interpreting the
 * whole graph (the path without ORT) to 1e-5 of each map's largest value, for the last layer
 * and for all layers (block 0's input: the embeddings after the pre-LayerNorm).
 *
 * fp16 and q8 files are where that cannot hold, and the worker does not start there: ORT
 * returns float16 block inputs for fp16 files (rounded: ~5e-4), and in q8 files every later
 * product quantizes its input with a scale from the tensor's range, so ORT's last-ulp
 * differences move rounding steps. Both are checked to be refused, with the deviation logged.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headImportance, imageRelevance, textRelevance } from '../../explain/relevance';
import { parseClipConfig } from '../../model/config';
import type { RelevanceProgress } from '../../protocol';
import { golden, MODEL_DIR, modelFile, tensor } from '../../testing/golden';
import { attentionSoftmaxOf, patchOutputs } from '../onnx/attention';
import { summarizeModel } from '../onnx/graph';
import { findBlockInputs, startsExactly, type BlockInputs } from '../onnx/structure';
import { halfBitsToFloat32 } from '../onnx/tensors';
import { RelevanceEngine, type EncoderRunInput, type RelevanceModel } from './engine';
import { clipGradients, type BlockTensor, type ClipGradients, type EncoderGradients, type EncoderSpec } from './gradients';
import { DenseEngine } from './denseEngine';
import { OnnxInterpreter } from './interpreter';

const config = parseClipConfig(JSON.parse(readFileSync(MODEL_DIR + 'config.json', 'utf8')), 'clip-lens-shapes');
const g = golden();
const grid = { width: g.patch_grid, height: g.patch_grid };
const VARIANTS = { fp32: '', fp16: '_fp16', q8: '_quantized' } as const;
type Variant = keyof typeof VARIANTS;
type Which = 'vision' | 'text';

/** One encoder as the worker holds it: the interpreter (stock bytes) and an ORT session (patched bytes). */
interface Encoder {
  readonly file: string;
  /** Block inputs for every file (to measure), whether or not the worker would use them. */
  readonly spec: EncoderSpec;
  readonly session: ort.InferenceSession;
  /** The worker's rule (../onnx/structure.ts `startsExactly`): does it offer the block inputs? */
  readonly exact: boolean;
}

const loaded: Encoder[] = [];

async function encoder(which: Which, variant: Variant): Promise<Encoder> {
  const file = `onnx/${which}_model${VARIANTS[variant]}.onnx`;
  const bytes = modelFile(file);
  const summary = summarizeModel(bytes);
  const found = attentionSoftmaxOf(summary);
  const blocks = findBlockInputs(summary, found);
  if (!blocks) throw new Error(`${file}: no block inputs found`);
  const names = blocks.inputs.filter((n): n is string => n !== undefined);
  const session = await ort.InferenceSession.create(patchOutputs(bytes, [...found.softmaxOutputs, ...names]), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const spec: EncoderSpec = {
    interpreter: OnnxInterpreter.load(bytes, { name: file }),
    input: found.inputs[0] as string,
    output: found.outputs[0] as string,
    attention: found.softmaxOutputs,
    heads: config[which].heads,
    blocks,
  };
  const e = { file, spec, session, exact: startsExactly(summary) };
  loaded.push(e);
  return e;
}

/** The block input from ORT, as float32 whatever ORT's type (`type` says which it was). */
async function ortTensor(e: Encoder, input: EncoderRunInput, name: string): Promise<BlockTensor & { type: string }> {
  const feed = input.kind === 'pixels'
    ? new ort.Tensor('float32', input.data, [...input.dims])
    : new ort.Tensor('int64', BigInt64Array.from(input.ids, (i) => BigInt(i)), [1, input.ids.length]);
  const out = await e.session.run({ [e.spec.input]: feed }, [name]);
  const t = out[name];
  if (!t) throw new Error(`no ${name}`);
  const data = t.type === 'float16' ? halfBitsToFloat32(t.data as Uint16Array) : new Float32Array(t.data as Float32Array);
  const r = { type: t.type, data, dims: [...t.dims] };
  t.dispose();
  return r;
}

interface Case {
  readonly image: number;
  readonly prompt: number;
}

const pixelsOf = (i: number) => {
  const image = g.images[i];
  if (!image) throw new Error('golden image out of range');
  return { data: tensor(image.pixel_values), dims: [1, ...image.pixel_values.shape] };
};
const idsOf = (p: number) => {
  const prompt = g.prompts[p];
  if (!prompt) throw new Error('golden prompt out of range');
  return prompt.input_ids;
};

async function gradients(
  enc: { vision: Encoder; text: Encoder },
  c: Case,
  from: number,
  fromOrt: boolean | ((which: Which, t: BlockTensor) => BlockTensor),
): Promise<ClipGradients> {
  const pixels = pixelsOf(c.image);
  const ids = idsOf(c.prompt);
  return clipGradients(enc.vision.spec, enc.text.spec, pixels, ids, {
    fromLayerVision: from,
    fromLayerText: from,
    logitScale: config.logitScale,
    ...(fromOrt
      ? {
          blockInput: async (which: Which, layer: number) => {
            const e = enc[which];
            const name = e.spec.blocks?.inputs[layer];
            if (!name) throw new Error(`${e.file}: no input for block ${layer}`);
            const t = await ortTensor(e, which === 'vision' ? { kind: 'pixels', ...pixels } : { kind: 'ids', ids }, name);
            return typeof fromOrt === 'function' ? fromOrt(which, t) : t;
          },
        }
      : {}),
  });
}

/** Everything the worker derives from gradients, for start layer `start`. */
function derived(r: ClipGradients, start: number) {
  const s = (e: EncoderGradients, data: Float32Array) => ({ layers: e.layers, heads: e.heads, seq: e.seq, data });
  const [va, vg, ta, tg] = [s(r.vision, r.vision.attentions), s(r.vision, r.vision.gradients), s(r.text, r.text.attentions), s(r.text, r.text.gradients)];
  return {
    imageMap: imageRelevance(va, vg, grid, start).values,
    textMap: textRelevance(ta, tg, start),
    headImportance: headImportance(va, vg),
    textHeadImportance: headImportance(ta, tg),
  };
}

/** max |a − b| / max |b| over each derived array (0 when both are all zero). */
function worstRelative(a: ReturnType<typeof derived>, b: ReturnType<typeof derived>): Record<keyof ReturnType<typeof derived>, number> {
  const out = { imageMap: 0, textMap: 0, headImportance: 0, textHeadImportance: 0 };
  for (const k of Object.keys(out) as (keyof typeof out)[]) {
    const x = a[k];
    const y = b[k];
    expect(x.length).toBe(y.length);
    let d = 0;
    let m = 0;
    for (let i = 0; i < y.length; i++) {
      d = Math.max(d, Math.abs((x[i] as number) - (y[i] as number)));
      m = Math.max(m, Math.abs(y[i] as number));
    }
    out[k] = m === 0 ? d : d / m;
  }
  return out;
}

const encoders = new Map<Variant, { vision: Encoder; text: Encoder }>();
async function encodersOf(variant: Variant): Promise<{ vision: Encoder; text: Encoder }> {
  let e = encoders.get(variant);
  if (!e) {
    e = { vision: await encoder('vision', variant), text: await encoder('text', variant) };
    encoders.set(variant, e);
  }
  return e;
}

beforeAll(async () => {
  ort.env.wasm.numThreads = 1; // the test machine is shared
  await tf.setBackend('cpu');
});

afterAll(async () => {
  for (const e of loaded) {
    e.spec.interpreter.dispose();
    await e.session.release();
  }
});

// Every image with two prompts for the last layer (the default); the golden pairs for all layers.
const allCases: Case[] = g.images.flatMap((_, image) => [0, 3].map((prompt) => ({ image, prompt })));
const pairCases: Case[] = g.pairs.map((p) => ({ image: p.image, prompt: p.prompt }));

describe('relevance started at an ORT block input equals interpreting the whole graph', () => {
  it.each(['fp32'] as const)('%s files: maps and head importance within 1e-5, last layer and all layers', async (variant) => {
    const enc = await encodersOf(variant);
    expect(enc.vision.exact && enc.text.exact).toBe(true);
    // First use: derived weights (the Conv's, transposed) are made and kept.
    await gradients(enc, pairCases[0] as Case, 0, false);
    await gradients(enc, pairCases[0] as Case, -1, true);
    const baseline = tf.memory().numTensors;
    const worst = { imageMap: 0, textMap: 0, headImportance: 0, textHeadImportance: 0 };
    for (const [start, cases] of [[-1, allCases], [0, pairCases]] as const) {
      for (const c of cases) {
        const old = await gradients(enc, c, start, false);
        const fast = await gradients(enc, c, start, true);
        expect(old.vision.startedAt).toBe('input');
        expect(fast.vision.startedAt).toBe('block');
        expect(fast.text.startedAt).toBe('block');
        const d = worstRelative(derived(fast, start), derived(old, start));
        for (const k of Object.keys(worst) as (keyof typeof worst)[]) worst[k] = Math.max(worst[k], d[k]);
        // Relative to the score, or to 1 when it is near 0 (a prompt unrelated to the image).
        expect(Math.abs(fast.score - old.score)).toBeLessThan(1e-5 * Math.max(1, Math.abs(old.score)));
      }
    }
    console.log(`${variant}: worst relative difference, block start vs whole graph (${allCases.length} last-layer + ${pairCases.length} all-layer cases):`, worst);
    for (const d of Object.values(worst)) expect(d).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(baseline); // the fed tensors are freed
  });

  it('q8 files: refused (dynamic quantization), since starting there would move rounding steps', async () => {
    const enc = await encodersOf('q8');
    expect(enc.vision.exact || enc.text.exact).toBe(false);
    const worst = { imageMap: 0, textMap: 0, headImportance: 0, textHeadImportance: 0 };
    for (const c of pairCases) {
      const d = worstRelative(derived(await gradients(enc, c, -1, true), -1), derived(await gradients(enc, c, -1, false), -1));
      for (const k of Object.keys(worst) as (keyof typeof worst)[]) worst[k] = Math.max(worst[k], d[k]);
    }
    console.log('q8, if ORT\'s block input were used (last layer, golden pairs): worst relative difference', worst);
  });

  it('fp16 files: ORT gives the block input in float16, so the worker interprets from the input instead', async () => {
    const enc = await encodersOf('fp16');
    const c = pairCases[0] as Case;
    const name = enc.vision.spec.blocks?.inputs[config.vision.layers - 1] as string;
    const t = await ortTensor(enc.vision, { kind: 'pixels', ...pixelsOf(c.image) }, name);
    expect(t.type).toBe('float16');
    // What using the float16 values would do (why they are refused): logged, not asserted.
    const old = await gradients(enc, c, -1, false);
    const rounded = await gradients(enc, c, -1, true);
    expect(rounded.vision.startedAt).toBe('block');
    console.log('fp16, if ORT\'s float16 block input were used (last layer): worst relative difference', worstRelative(derived(rounded, -1), derived(old, -1)));
  });

  it('layers below the start are not interpreted: their attention and gradient are zero, the rest as before', async () => {
    const enc = await encodersOf('fp32');
    const c = pairCases[1] as Case;
    const fast = await gradients(enc, c, -1, true);
    const old = await gradients(enc, c, -1, false);
    const size = fast.vision.heads * fast.vision.seq * fast.vision.seq;
    const below = (config.vision.layers - 1) * size;
    expect(fast.vision.attentions.subarray(0, below).every((v) => v === 0)).toBe(true);
    expect(fast.vision.gradients.subarray(0, below).every((v) => v === 0)).toBe(true);
    let d = 0;
    for (let i = below; i < old.vision.attentions.length; i++) d = Math.max(d, Math.abs((fast.vision.attentions[i] as number) - (old.vision.attentions[i] as number)));
    expect(d).toBeLessThan(1e-5);
  });

  it('a block input of the wrong size is refused with a message', async () => {
    const enc = await encodersOf('fp32');
    await expect(gradients(enc, pairCases[0] as Case, -1, (_which, t) => ({ data: t.data.subarray(1), dims: t.dims })))
      .rejects.toThrow(/input of block \d+ has \d+ values for dims/);
  });
});

describe('RelevanceEngine with ONNX Runtime block inputs', () => {
  /**
   * An engine whose block inputs come from ORT as the worker's runtime gives them (float32 only;
   * after a float16 answer that encoder is not asked again), and one that never uses them.
   */
  async function setup(variant: Variant, options: ConstructorParameters<typeof RelevanceEngine>[0] = {}, afterOrt?: () => void) {
    const enc = await encodersOf(variant);
    const runs: Which[] = [];
    const unusable = new Set<Which>();
    const model: RelevanceModel = {
      readBytes: async (which) => modelFile(`onnx/${which}_model${VARIANTS[variant]}.onnx`),
      files: { vision: enc.vision.file, text: enc.text.file },
      // As the runtime: block inputs only where starting there is exact.
      vision: { input: enc.vision.spec.input, output: enc.vision.spec.output, attention: enc.vision.spec.attention, heads: config.vision.heads, ...(enc.vision.exact ? { blocks: enc.vision.spec.blocks as BlockInputs } : {}) },
      text: { input: enc.text.spec.input, output: enc.text.spec.output, attention: enc.text.spec.attention, heads: config.text.heads, ...(enc.text.exact ? { blocks: enc.text.spec.blocks as BlockInputs } : {}) },
      logitScale: config.logitScale,
      patchSize: config.vision.patchSize,
      blockInput: async (which, input, name) => {
        if (unusable.has(which)) return undefined;
        runs.push(which);
        const t = await ortTensor(enc[which], input, name);
        afterOrt?.();
        if (t.type === 'float32') return { data: t.data, dims: t.dims };
        unusable.add(which);
        return undefined;
      },
    };
    const engine = new RelevanceEngine({ backends: ['cpu'], ...options });
    const plain = new RelevanceEngine({ backends: ['cpu'], blockInputs: 'never' });
    engine.setModel(model);
    plain.setModel(model);
    for (const [i, image] of g.images.entries()) {
      engine.rememberPixels(`img${i}`, tensor(image.pixel_values), [1, ...image.pixel_values.shape]);
      plain.rememberPixels(`img${i}`, tensor(image.pixel_values), [1, ...image.pixel_values.shape]);
    }
    const done = () => {
      engine.setModel(null);
      plain.setModel(null);
    };
    return { engine, plain, runs, model, done };
  }
  const request = (image: number, prompt: number, start: number, requestId = 1) =>
    ({ requestId, imageId: `img${image}`, promptIds: idsOf(prompt), startLayerImage: start, startLayerText: start });
  const expectSame = (a: ReturnType<typeof derived> & { score: number }, b: ReturnType<typeof derived> & { score: number }) => {
    for (const v of Object.values(worstRelative(a, b))) expect(v).toBeLessThan(1e-5);
    expect(Math.abs(a.score - b.score)).toBeLessThan(1e-5 * Math.max(1, Math.abs(b.score)));
  };

  it('fp32: same results as without ORT; block inputs kept per image and per prompt', async () => {
    const { engine, plain, runs, done } = await setup('fp32');
    const steps: RelevanceProgress['stage'][] = [];
    const r = await engine.compute(request(0, 0, -1), () => {}, (p) => steps.push(p.stage));
    expect(steps).toEqual(['prepare', 'text-forward', 'vision', 'text', 'done']);
    expect(r.ms).toBeGreaterThan(0);
    expect(r.cached).toBe(false);
    expectSame(r, await plain.compute(request(0, 0, -1), () => {}));
    expect(runs).toEqual(['text', 'vision']); // last of 4 layers: worth an ORT run each
    // Another prompt on the same image: only the prompt's block input is computed.
    expectSame(await engine.compute(request(0, 1, -1, 2), () => {}), await plain.compute(request(0, 1, -1, 2), () => {}));
    expect(runs).toEqual(['text', 'vision', 'text']);
    // The first prompt on another image: only the image's.
    expectSame(await engine.compute(request(1, 0, -1, 3), () => {}), await plain.compute(request(1, 0, -1, 3), () => {}));
    expect(runs).toEqual(['text', 'vision', 'text', 'vision']);
    // All layers ('auto'): nothing skipped, so no ORT run.
    expectSame(await engine.compute(request(0, 0, 0, 4), () => {}), await plain.compute(request(0, 0, 0, 4), () => {}));
    expect(runs.length).toBe(4);
    // Encoding an image again forgets its block input.
    engine.rememberPixels('img0', tensor(g.images[0]!.pixel_values), [1, ...g.images[0]!.pixel_values.shape]);
    await engine.compute(request(0, 1, -1, 5), () => {});
    expect(runs).toEqual(['text', 'vision', 'text', 'vision', 'vision']);
    done();
  });

  it('block inputs handed over by the encodings (the runtime fetches the last ones with each run): no ORT run of its own, same results, and dense maps start there', async () => {
    const { engine, plain, runs, model, done } = await setup('fp32');
    const enc = await encodersOf('fp32');
    const vLast = config.vision.layers - 1;
    const tLast = config.text.layers - 1;
    const vName = model.vision.blocks?.inputs[vLast] as string;
    const tName = model.text.blocks?.inputs[tLast] as string;
    const image = { kind: 'pixels' as const, ...pixelsOf(0) };
    engine.rememberBlockInput('img0', vLast, await ortTensor(enc.vision, image, vName));
    engine.rememberPromptBlockInput(idsOf(0), tLast, await ortTensor(enc.text, { kind: 'ids', ids: idsOf(0) }, tName));
    runs.length = 0;
    expectSame(await engine.compute(request(0, 0, -1), () => {}), await plain.compute(request(0, 0, -1), () => {}));
    expect(runs).toEqual([]);
    expect(engine.keptBlockInput('img0', vLast)?.name).toBe(vName);
    expect(engine.keptBlockInput('img1', vLast)).toBeUndefined();

    // Dense maps: the same map from the kept input as from the pixels; a different kept input
    // gives another map, so the pass really starts there.
    const dense = new DenseEngine(engine);
    const fromPixels = new DenseEngine(plain);
    for (const mode of ['clearclip', 'maskclip'] as const) {
      const req = { requestId: 7, imageId: 'img0', promptIds: idsOf(0), mode };
      const a = await dense.compute(req, () => {});
      const b = await fromPixels.compute(req, () => {});
      let d = 0;
      for (let i = 0; i < a.map.length; i++) d = Math.max(d, Math.abs((a.map[i] as number) - (b.map[i] as number)));
      expect(d).toBeLessThan(1e-5);
    }
    const px = pixelsOf(0);
    engine.rememberPixels('img0', px.data, px.dims); // a new encode: forgets the kept input and the maps
    expect(engine.keptBlockInput('img0', vLast)).toBeUndefined();
    const kept = await ortTensor(enc.vision, image, vName);
    engine.rememberBlockInput('img0', vLast, { data: kept.data.map((v, i) => (i % 7 === 0 ? v + 1 : v)), dims: kept.dims });
    const moved = await dense.compute({ requestId: 8, imageId: 'img0', promptIds: idsOf(0), mode: 'maskclip' }, () => {});
    const base = await fromPixels.compute({ requestId: 8, imageId: 'img0', promptIds: idsOf(0), mode: 'maskclip' }, () => {});
    let moveBy = 0;
    for (let i = 0; i < moved.map.length; i++) moveBy = Math.max(moveBy, Math.abs((moved.map[i] as number) - (base.map[i] as number)));
    expect(moveBy).toBeGreaterThan(1e-3);
    done();
  });

  it('fp16: ORT\'s float16 block inputs are refused once, then relevance interprets from the inputs (same results)', async () => {
    const { engine, plain, runs, done } = await setup('fp16');
    expectSame(await engine.compute(request(0, 0, -1), () => {}), await plain.compute(request(0, 0, -1), () => {}));
    expect(runs).toEqual(['text', 'vision']);
    expectSame(await engine.compute(request(1, 2, -1, 2), () => {}), await plain.compute(request(1, 2, -1, 2), () => {}));
    expect(runs.length).toBe(2);
    done();
  });

  it('q8: no block inputs offered, no ORT run, same results', async () => {
    const { engine, plain, runs, done } = await setup('q8');
    for (const [i, c] of pairCases.entries()) {
      expectSame(await engine.compute(request(c.image, c.prompt, -1, i), () => {}), await plain.compute(request(c.image, c.prompt, -1, i), () => {}));
    }
    expect(runs.length).toBe(0);
    done();
  });

  it('cancels right after an ORT run, frees everything, and works again', async () => {
    let cancel = false;
    let cancelAtRun = -1;
    const checkpoint = () => {
      if (cancel) throw new Error('[cancelled] Cancelled.');
    };
    const { engine, runs, done } = await setup('fp32', { blockInputs: 'always' }, () => {
      if (runs.length === cancelAtRun) cancel = true;
    });
    await engine.compute(request(3, 4, 1), checkpoint); // builds the graphs
    const before = tf.memory().numTensors;
    cancelAtRun = runs.length + 2; // as the image's run (after the prompt's) returns
    await expect(engine.compute(request(2, 3, 1, 2), checkpoint)).rejects.toThrow(/^\[cancelled\]/);
    expect(runs.length).toBe(cancelAtRun);
    expect(tf.memory().numTensors).toBe(before);
    cancel = false;
    const r = await engine.compute(request(2, 3, 1, 3), checkpoint);
    expect(r.imageMap.length).toBe(g.patch_grid ** 2);
    expect(runs.length).toBe(cancelAtRun); // both block inputs were kept
    done();
  });

  it('ORT errors reach the caller as worker errors', async () => {
    const { model, done } = await setup('fp32');
    const broken = new RelevanceEngine({ backends: ['cpu'], blockInputs: 'always' });
    broken.setModel({ ...model, blockInput: () => Promise.reject(new Error('[runtime] ONNX Runtime: boom')) });
    broken.rememberPixels('img0', tensor(g.images[0]!.pixel_values), [1, ...g.images[0]!.pixel_values.shape]);
    await expect(broken.compute(request(0, 0, -1), () => {})).rejects.toThrow(/^\[runtime\] ONNX Runtime: boom/);
    broken.setModel(null);
    done();
  });
});
