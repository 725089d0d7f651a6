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
 * Steps (each separated by a yield, so a cancel message can get through, and reported):
 * 1. text forward → text_embeds (needed as a constant by step 3);
 * 2. vision: forward with δ's and backward → vision A, ∂score/∂A, image_embeds, score;
 * 3. text: forward with δ's and backward (image_embeds constant) → text A, ∂score/∂A.
 * The vision pass is one synchronous tfjs call: it cannot be interrupted half-way.
 */
import * as tf from '@tensorflow/tfjs-core';
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
}

/** Attention and its gradient for one input of one encoder. */
export interface EncoderGradients {
  readonly layers: number;
  readonly heads: number;
  readonly seq: number;
  /** Attention probabilities `(layers, heads, seq, seq)`, rows sum to 1. */
  readonly attentions: Float32Array;
  /** ∂score/∂A `(layers, heads, seq, seq)`; zero for layers below {@link fromLayer}. */
  readonly gradients: Float32Array;
  /** First layer (0-based) whose gradient was computed. */
  readonly fromLayer: number;
  /** The encoder's embedding `(projection_dim,)`, as the interpreter computed it. */
  readonly embeds: Float32Array;
}

export interface ClipGradients {
  readonly vision: EncoderGradients;
  readonly text: EncoderGradients;
  /** logitScale · cos(image_embeds, text_embeds). */
  readonly score: number;
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
 * Shapes of the attention Softmax outputs for inputs of this shape, learnt once by a forward
 * pass that stops at the last Softmax (the δ's must exist before tfjs differentiates).
 */
const shapeCache = new WeakMap<OnnxInterpreter, Map<string, number[][]>>();

function attentionShapes(enc: EncoderSpec, feed: Readonly<Record<string, Feed>>, inputDims: readonly number[]): number[][] {
  let byInput = shapeCache.get(enc.interpreter);
  if (!byInput) shapeCache.set(enc.interpreter, (byInput = new Map()));
  const key = inputDims.join('x');
  const cached = byInput.get(key);
  if (cached) return cached;
  const shapes = tf.tidy(() => {
    const out = enc.interpreter.run(feed, { outputs: enc.attention });
    return enc.attention.map((name) => {
      const v = out.get(name);
      if (!v) throw new Error(`${enc.interpreter.name}: attention "${name}" was not computed`);
      return v.kind === 'tensor' ? [...v.tensor.shape] : [...v.shape];
    });
  });
  byInput.set(key, shapes);
  return shapes;
}

/**
 * Forward with δ's from `from` on, backward to them; returns A, ∂score/∂A (as flat per-layer
 * arrays), the embedding and the score. `scoreOf` turns the embedding into the scalar score.
 */
async function differentiate(
  enc: EncoderSpec,
  feed: Readonly<Record<string, Feed>>,
  inputDims: readonly number[],
  fromLayer: number,
  scoreOf: (embeds: tf.Tensor) => tf.Scalar,
): Promise<{ perLayer: { attention: Float32Array; gradient: Float32Array | undefined }[]; embeds: Float32Array; score: number }> {
  const layers = enc.attention.length;
  const from = resolveFrom(fromLayer, layers, `${enc.interpreter.name}: start layer`);
  const shapes = attentionShapes(enc, feed, inputDims);
  const deltas = shapes.slice(from).map((s) => tf.zeros(s));
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
        Promise.all(probs.map((p, l) => {
          if (!p) throw new Error(`${enc.interpreter.name}: attention layer ${l} was not computed`);
          return p.data();
        })),
        Promise.all(grads.map((g) => g.data())),
      ]);
      return {
        perLayer: attention.map((a, l) => ({
          attention: a as Float32Array,
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
  perLayer: readonly { attention: Float32Array; gradient: Float32Array | undefined }[],
  from: number,
  embeds: Float32Array,
): EncoderGradients {
  const first = perLayer[0]?.attention;
  if (!first) throw new Error(`${enc.interpreter.name}: no attention layers`);
  const seq = Math.round(Math.sqrt(first.length / enc.heads));
  const size = enc.heads * seq * seq;
  const attentions = new Float32Array(perLayer.length * size);
  const gradients = new Float32Array(perLayer.length * size);
  perLayer.forEach(({ attention, gradient }, l) => {
    if (attention.length !== size) {
      throw new Error(
        `${enc.interpreter.name}: attention layer ${l} has ${attention.length} values, not heads×seq×seq = ${enc.heads}×${seq}×${seq}: ` +
          'is the head count in config.json right?',
      );
    }
    attentions.set(attention, l * size);
    if (gradient) gradients.set(gradient, l * size);
  });
  return { layers: perLayer.length, heads: enc.heads, seq, attentions, gradients, fromLayer: from, embeds };
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
  const visionFeed: Record<string, Feed> = { [vision.input]: { kind: 'float', data: pixelValues.data, dims: pixelValues.dims } };
  const textDims = [1, ids.length];
  const textFeed: Record<string, Feed> = { [text.input]: { kind: 'int', data: ids, dims: textDims } };
  check('start');

  // 1. The prompt's embedding, a constant for the vision pass.
  const textEmbeds = tf.tidy(() => {
    const out = text.interpreter.run(textFeed, { outputs: [text.output] }).get(text.output);
    if (!out) throw new Error(`${text.interpreter.name}: no ${text.output}`);
    return tf.keep(tf.clone(toFloat(out)));
  });
  let imageEmbeds: tf.Tensor | undefined;
  try {
    await yieldToEvents();
    check('text-forward');

    // 2. Vision: differentiate through the image encoder, the prompt's embedding fixed.
    const fromV = resolveFrom(options.fromLayerVision, vision.attention.length, 'vision start layer');
    const v = await differentiate(vision, visionFeed, pixelValues.dims, fromV, (e) => cosineScore(e, textEmbeds, scale));
    imageEmbeds = tf.tensor(v.embeds, [1, v.embeds.length]);
    await yieldToEvents();
    check('vision');

    // 3. Text: differentiate through the text encoder, the image's embedding fixed.
    const fromT = resolveFrom(options.fromLayerText, text.attention.length, 'text start layer');
    const fixedImage = imageEmbeds;
    const t = await differentiate(text, textFeed, textDims, fromT, (e) => cosineScore(fixedImage, e, scale));
    await yieldToEvents();
    check('text');
    return {
      vision: pack(vision, v.perLayer, fromV, v.embeds),
      text: pack(text, t.perLayer, fromT, t.embeds),
      score: v.score,
    };
  } finally {
    textEmbeds.dispose();
    imageEmbeds?.dispose();
  }
}
