/**
 * ∂score/∂A for every attention layer of both CLIP encoders, with tfjs autodiff over the
 * interpreted ONNX graphs (./interpreter.ts).
 *
 * The hook (Chefer et al.'s trick, as tools/models/explain_torch.py does it): after each
 * attention Softmax l the graph computes A_l + δ_l with δ_l = 0 of A_l's shape, so its values are
 * unchanged and ∂score/∂δ_l = ∂score/∂A_l. tfjs differentiates with respect to the δ's, and only
 * from the first δ on: layers before `fromLayer` get no δ and cost no backward pass.
 *
 * score = logitScale · cos(image_embeds, text_embeds), logitScale = exp(logit_scale) of the model.
 *
 * Starting part-way (the speed-up for "last layer only"): blocks below the start layer need no
 * gradient, only their output — the residual stream entering the start block. When
 * {@link GradientOptions.blockInput} provides it (the worker computes it with ONNX Runtime, 2–3×
 * faster than interpreting those blocks in tfjs, and keeps it), that tensor is fed to the interpreter
 * instead of the graph input, and tfjs evaluates and differentiates only the blocks from the start
 * layer on and the head (../onnx/structure.ts `findBlockInputs` says which tensor that is).
 *
 * Steps (each separated by a yield, so a cancel message can get through, and reported):
 * 1. text forward → text_embeds (needed as a constant by step 2);
 * 2. vision: forward with δ's and backward → vision A, ∂score/∂A, image_embeds, score (or all of
 *    that from {@link GradientOptions.visionGradients}, ONNX Runtime's run of the backward graph);
 * 3. text: forward with δ's and backward (image_embeds constant) → text A, ∂score/∂A.
 * The vision pass is one synchronous tfjs call: it cannot be interrupted half-way.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BlockInputs } from '../onnx/structure';
import type { Feed, OnnxInterpreter } from './interpreter';
import { toFloat } from './values';

/** One encoder as the gradient code needs it. */
export interface EncoderSpec {
  readonly interpreter: OnnxInterpreter;
  /** Graph input, e.g. `pixel_values` / `input_ids`. */
  readonly input: string;
  /** Embedding output, e.g. `image_embeds` / `text_embeds`: (1, projection_dim). */
  readonly output: string;
  /** Output names of the attention Softmax nodes, one per layer, in order (../onnx/attention.ts). */
  readonly attention: readonly string[];
  readonly heads: number;
  /**
   * The residual stream entering each block (../onnx/structure.ts), for passes that start there
   * with {@link GradientOptions.blockInput}; absent: passes start from the graph input.
   */
  readonly blocks?: BlockInputs;
}

/** The residual stream entering one block, computed elsewhere, float32. */
export interface BlockTensor {
  /** `(batch, seq, D)` row-major, batch 1. */
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** Attention and its gradient for one input of one encoder. */
export interface EncoderGradients {
  readonly layers: number;
  readonly heads: number;
  readonly seq: number;
  /**
   * Attention probabilities `(layers, heads, seq, seq)`, rows sum to 1. Layers below
   * {@link fromLayer} are zero when the pass started from a block input ({@link startedAt}):
   * nothing computed them here, and no relevance value reads them (their gradient is zero).
   */
  readonly attentions: Float32Array;
  /** ∂score/∂A `(layers, heads, seq, seq)`; zero for layers below {@link fromLayer}. */
  readonly gradients: Float32Array;
  /** First layer (0-based) whose gradient was computed. */
  readonly fromLayer: number;
  /** Where the interpreted pass started: the graph input, or the block input of {@link fromLayer}. */
  readonly startedAt: 'input' | 'block';
  /** The encoder's embedding `(projection_dim,)`, as the interpreter computed it. */
  readonly embeds: Float32Array;
}

export interface ClipGradients {
  readonly vision: EncoderGradients;
  readonly text: EncoderGradients;
  /** logitScale · cos(image_embeds, text_embeds). */
  readonly score: number;
  /** Whether {@link GradientOptions.visionGradients} gave the vision part. */
  readonly visionBy: 'onnxruntime' | 'tfjs';
}

export type GradientStage = 'text-forward' | 'vision' | 'text';

export interface GradientOptions {
  /** First layer to differentiate, per encoder; negative counts from the end (-1 = last). */
  readonly fromLayerVision: number;
  readonly fromLayerText: number;
  /** exp(logit_scale); see src/model/config.ts `logitScale`. */
  readonly logitScale: number;
  /** Called between steps; throw from it to stop (cancellation). */
  readonly checkpoint?: (done: GradientStage | 'start') => void;
  /**
   * The residual stream entering block `layer` (the start layer) of an encoder for this image or
   * prompt, if the caller can compute it faster than the interpreter (ONNX Runtime); resolve
   * undefined to interpret from the graph input. Only asked for when the encoder's
   * {@link EncoderSpec.blocks} names that tensor. Throwing from it cancels, as `checkpoint`.
   */
  readonly blockInput?: (which: 'vision' | 'text', layer: number) => Promise<BlockTensor | undefined>;
  /**
   * Differentiates the vision encoder elsewhere (ONNX Runtime running the graph with its
   * backward pass appended, ./ortBackward.ts), for the prompt's embedding `textEmbeds` `(D,)`;
   * resolve undefined to differentiate it here. Asked before any vision work is done here.
   */
  readonly visionGradients?: (textEmbeds: Float32Array, fromLayer: number) => Promise<ExternalGradients | undefined>;
}

/** One encoder's A and ∂score/∂A for every layer, computed outside tfjs. */
export interface ExternalGradients {
  /** Per layer, `(heads, seq, seq)` each. */
  readonly attentions: readonly Float32Array[];
  readonly gradients: readonly Float32Array[];
  readonly embeds: Float32Array;
  readonly score: number;
}

/** Lets queued messages (a cancel) run: tfjs CPU promises resolve as microtasks and would not. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function resolveFrom(layer: number, layers: number, what: string): number {
  if (!Number.isInteger(layer) || layer < -layers || layer >= layers) {
    throw new Error(`${what} ${layer} is out of range for ${layers} layers: use 0..${layers - 1} or -${layers}..-1`);
  }
  return layer < 0 ? layer + layers : layer;
}

/** score(a, b) = scale · cos(a, b) for (1, D) tensors. */
function cosineScore(a: tf.Tensor, b: tf.Tensor, scale: number): tf.Scalar {
  const dot = tf.sum(tf.mul(a, b));
  const norms = tf.mul(tf.norm(a), tf.norm(b));
  return tf.mul(tf.div(dot, norms), scale) as tf.Scalar;
}

/**
 * Shapes of the attention Softmax outputs of layers `from`… for inputs of this shape, learnt once
 * by a forward pass that stops at the last Softmax (the δ's must exist before tfjs differentiates).
 */
const shapeCache = new WeakMap<OnnxInterpreter, Map<string, number[][]>>();

function attentionShapes(enc: EncoderSpec, start: Start, from: number): number[][] {
  let byInput = shapeCache.get(enc.interpreter);
  if (!byInput) shapeCache.set(enc.interpreter, (byInput = new Map()));
  const key = `${start.key}|${from}`;
  const cached = byInput.get(key);
  if (cached) return cached;
  const wanted = enc.attention.slice(from);
  const shapes = tf.tidy(() => {
    const out = enc.interpreter.run(start.feed, { outputs: wanted });
    return wanted.map((name) => {
      const v = out.get(name);
      if (!v) throw new Error(`${enc.interpreter.name}: attention "${name}" was not computed`);
      return v.kind === 'tensor' ? [...v.tensor.shape] : [...v.shape];
    });
  });
  byInput.set(key, shapes);
  return shapes;
}

/** Where an encoder's interpreted pass starts: its feeds, and a key for the δ shapes it gives. */
interface Start {
  readonly feed: Readonly<Record<string, Feed>>;
  /** Input dims, plus the block tensor fed, if any: equal keys give equal Softmax shapes. */
  readonly key: string;
  readonly at: 'input' | 'block';
}

/**
 * The feeds for a pass from block `from`: the block input when `blockInput` gives it (plus the
 * graph input when the rest of the graph reads it), else the graph input alone. The returned
 * tensor (if any) belongs to the caller.
 */
async function startOf(
  which: 'vision' | 'text',
  enc: EncoderSpec,
  inputFeed: Feed,
  inputDims: readonly number[],
  from: number,
  blockInput: GradientOptions['blockInput'],
): Promise<Start & { tensor?: tf.Tensor }> {
  const inputStart: Start = { feed: { [enc.input]: inputFeed }, key: inputDims.join('x'), at: 'input' };
  const name = enc.blocks?.inputs[from];
  if (!name || !blockInput) return inputStart;
  const block = await blockInput(which, from);
  if (!block) return inputStart;
  const size = block.dims.reduce((a, b) => a * b, 1);
  if (block.data.length !== size) {
    throw new Error(`${enc.interpreter.name}: the input of block ${from} has ${block.data.length} values for dims [${block.dims.join(', ')}]`);
  }
  const tensor = tf.tensor(block.data, [...block.dims], 'float32');
  const feed: Record<string, Feed> = { [name]: { kind: 'tensor', tensor } };
  if (enc.blocks?.readsInput[from]) feed[enc.input] = inputFeed;
  return { feed, key: `${inputDims.join('x')}@${name}:${block.dims.join('x')}`, at: 'block', tensor };
}

/**
 * Forward with δ's from `from` on, backward to them; returns A, ∂score/∂A (as flat per-layer
 * arrays), the embedding and the score. `scoreOf` turns the embedding into the scalar score.
 */
async function differentiate(
  enc: EncoderSpec,
  start: Start,
  fromLayer: number,
  scoreOf: (embeds: tf.Tensor) => tf.Scalar,
): Promise<{ perLayer: { attention: Float32Array | undefined; gradient: Float32Array | undefined }[]; embeds: Float32Array; score: number }> {
  const layers = enc.attention.length;
  const from = resolveFrom(fromLayer, layers, `${enc.interpreter.name}: start layer`);
  const feed = start.feed;
  const deltas = attentionShapes(enc, start, from).map((s) => tf.zeros(s));
  const probs: (tf.Tensor | undefined)[] = new Array<tf.Tensor | undefined>(layers);
  let embeds: tf.Tensor | undefined;
  try {
    const f = (...ds: tf.Tensor[]): tf.Scalar => {
      const hooks = new Map(
        enc.attention.map((name, l) => [
          name,
          (p: tf.Tensor): tf.Tensor => {
            probs[l] = tf.keep(p);
            const d = ds[l - from];
            return d ? tf.add(p, d) : p;
          },
        ]),
      );
      const out = enc.interpreter.run(feed, { outputs: [enc.output], hooks });
      const e = out.get(enc.output);
      if (!e) throw new Error(`${enc.interpreter.name}: no ${enc.output}`);
      const t = toFloat(e);
      embeds = tf.keep(tf.clone(t));
      return scoreOf(t);
    };
    const { value, grads } = tf.valueAndGrads(f)(deltas);
    try {
      const [score, e, attention, gradients] = await Promise.all([
        value.data(),
        (embeds as tf.Tensor).data(),
        // Array.from: `probs` is sparse below `from` when the pass started at a block input.
        Promise.all(Array.from(probs, (p, l) => {
          if (p) return p.data();
          if (start.at === 'block' && l < from) return undefined; // not evaluated: blocks before the start
          throw new Error(`${enc.interpreter.name}: attention layer ${l} was not computed`);
        })),
        Promise.all(grads.map((g) => g.data())),
      ]);
      return {
        perLayer: attention.map((a, l) => ({
          attention: a as Float32Array | undefined,
          gradient: l >= from ? (gradients[l - from] as Float32Array) : undefined,
        })),
        embeds: e as Float32Array,
        score: score[0] as number,
      };
    } finally {
      value.dispose();
      for (const g of grads) g.dispose();
    }
  } finally {
    for (const d of deltas) d.dispose();
    for (const p of probs) p?.dispose();
    embeds?.dispose();
  }
}

/** Packs per-layer arrays into `(layers, heads, seq, seq)`, checking each layer's size. */
function pack(
  enc: EncoderSpec,
  perLayer: readonly { attention: Float32Array | undefined; gradient: Float32Array | undefined }[],
  from: number,
  startedAt: 'input' | 'block',
  embeds: Float32Array,
): EncoderGradients {
  const first = perLayer[from]?.attention;
  if (!first) throw new Error(`${enc.interpreter.name}: no attention layers`);
  const seq = Math.round(Math.sqrt(first.length / enc.heads));
  const size = enc.heads * seq * seq;
  const attentions = new Float32Array(perLayer.length * size);
  const gradients = new Float32Array(perLayer.length * size);
  perLayer.forEach(({ attention, gradient }, l) => {
    if (!attention) return; // below the start block: zeros (see EncoderGradients.attentions)
    if (attention.length !== size) {
      throw new Error(
        `${enc.interpreter.name}: attention layer ${l} has ${attention.length} values, not heads×seq×seq = ${enc.heads}×${seq}×${seq}: ` +
          'is the head count in config.json right?',
      );
    }
    attentions.set(attention, l * size);
    if (gradient) gradients.set(gradient, l * size);
  });
  return { layers: perLayer.length, heads: enc.heads, seq, attentions, gradients, fromLayer: from, startedAt, embeds };
}

/**
 * ∂score/∂A for one image and one prompt, both encoders.
 *
 * @param pixelValues preprocessed image `(1, 3, H, W)` row-major (what the ORT session got)
 * @param ids         token ids of the prompt, start and end-of-text included, unpadded
 */
export async function clipGradients(
  vision: EncoderSpec,
  text: EncoderSpec,
  pixelValues: { readonly data: Float32Array; readonly dims: readonly number[] },
  ids: readonly number[],
  options: GradientOptions,
): Promise<ClipGradients> {
  const check = options.checkpoint ?? (() => {});
  const scale = options.logitScale;
  const fromV = resolveFrom(options.fromLayerVision, vision.attention.length, 'vision start layer');
  const fromT = resolveFrom(options.fromLayerText, text.attention.length, 'text start layer');
  const textDims = [1, ids.length];
  const owned: tf.Tensor[] = [];
  check('start');
  try {
    // 1. The prompt's embedding, a constant for the vision pass (from the same start as step 3).
    const textStart = await startOf('text', text, { kind: 'int', data: ids, dims: textDims }, textDims, fromT, options.blockInput);
    if (textStart.tensor) owned.push(textStart.tensor);
    const textEmbeds = tf.tidy(() => {
      const out = text.interpreter.run(textStart.feed, { outputs: [text.output] }).get(text.output);
      if (!out) throw new Error(`${text.interpreter.name}: no ${text.output}`);
      return tf.keep(tf.clone(toFloat(out)));
    });
    owned.push(textEmbeds);
    await yieldToEvents();
    check('text-forward');

    // 2. Vision: differentiate through the image encoder, the prompt's embedding fixed —
    // by ONNX Runtime when the caller offers it (every layer at once), else here.
    const external = options.visionGradients ? await options.visionGradients(await textEmbeds.data() as Float32Array, fromV) : undefined;
    let v: Awaited<ReturnType<typeof differentiate>>;
    let visionAt: Start['at'] = 'input';
    let visionFrom = fromV;
    if (external) {
      v = {
        perLayer: external.attentions.map((attention, l) => ({ attention, gradient: external.gradients[l] })),
        embeds: external.embeds,
        score: external.score,
      };
      visionFrom = 0;
    } else {
      const visionInput: Feed = { kind: 'float', data: pixelValues.data, dims: pixelValues.dims };
      const visionStart = await startOf('vision', vision, visionInput, pixelValues.dims, fromV, options.blockInput);
      if (visionStart.tensor) owned.push(visionStart.tensor);
      visionAt = visionStart.at;
      v = await differentiate(vision, visionStart, fromV, (e) => cosineScore(e, textEmbeds, scale));
    }
    const imageEmbeds = tf.tensor(v.embeds, [1, v.embeds.length]);
    owned.push(imageEmbeds);
    await yieldToEvents();
    check('vision');

    // 3. Text: differentiate through the text encoder, the image's embedding fixed.
    const t = await differentiate(text, textStart, fromT, (e) => cosineScore(imageEmbeds, e, scale));
    await yieldToEvents();
    check('text');
    return {
      vision: pack(vision, v.perLayer, visionFrom, visionAt, v.embeds),
      text: pack(text, t.perLayer, fromT, textStart.at, t.embeds),
      score: v.score,
      visionBy: external ? 'onnxruntime' : 'tfjs',
    };
  } finally {
    for (const t of owned) t.dispose();
  }
}
