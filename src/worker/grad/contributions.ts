/**
 * Patch contributions: a gradient-free dense prompt map that splits the image embedding into what
 * each image patch adds to it through every attention layer (the protocol's `denseMap` with mode
 * `'contributions'`).
 *
 * Follows the decomposition of Gandelsman, Efros & Steinhardt 2024 ("Interpreting CLIP's Image
 * Representation via Text-Based Decomposition", ICLR): the CLS token's final residual stream z is
 * a sum of direct contributions, and the part written by attention layer l is
 *
 *   Σ_h Σ_p A_l,h[CLS, p] · W_O,h · v_l,h,p        (+ the out-projection bias)
 *
 * so token p's share over all layers is C_p = Σ_l Σ_h A_l,h[CLS, p] · W_O,h · v_l,h,p. Each C_p
 * is carried into the prompt's score by the head's first-order term: map_p = g · C_p, with
 * g = ∂ cos(image_embeds, text_embeds) / ∂z at the image's own z — exact where the paper fixes
 * the post-LayerNorm's scale. The bias adds the same number to every patch, which no
 * normalisation of the map sees. The MLPs' direct effects act on the CLS token's own stream and
 * belong to no patch.
 *
 * Evaluated with the model's own ONNX graph (./interpreter.ts): one forward pass for each layer's
 * attention A and values V, then each layer's attention output is replaced by A[CLS, p]·v_p per
 * token — the same head merge and out-projection the graph applies ({@link imageContributions},
 * independent of the prompt) — and g comes from differentiating the head (pooling,
 * post-LayerNorm, projection) alone ({@link promptContributions}). Nothing below the head is
 * differentiated. Layer structure is found by ../onnx/structure.ts `attentionBranch`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attentionSoftmaxOf } from '../onnx/attention';
import type { ModelSummary } from '../onnx/graph';
import { attentionBranch, GraphIndex } from '../onnx/structure';
import { DenseGraphError, feedOf, findDenseGraph } from './dense';
import type { Pixels } from './engine';
import type { Feed, OnnxInterpreter } from './interpreter';
import { toFloat, type Value } from './values';

/** One attention layer's tensors, by name. */
export interface ContributionLayer {
  /** The attention probabilities the attention·V MatMul reads, `(batch·heads, seq, seq)`. */
  readonly attention: string;
  /** V, `(batch·heads, seq, head_dim)`. */
  readonly value: string;
  /** attention·V, what is replaced, `(batch·heads, seq, head_dim)`. */
  readonly attentionOutput: string;
  /** After the head merge and the out-projection, `(batch, seq, D)`. */
  readonly outProjection: string;
  /** Tensors computed elsewhere that the nodes between the two read (shape values): fed. */
  readonly side: readonly string[];
}

export interface ContributionGraph {
  /** The graph input, e.g. `pixel_values`. */
  readonly input: string;
  /** The embedding output, e.g. `image_embeds`. */
  readonly output: string;
  /** The final hidden state the CLS pooling reads, `(batch, seq, D)`. */
  readonly finalHidden: string;
  readonly layers: readonly ContributionLayer[];
}

/**
 * Finds every attention layer's tensors and the head, by structure (the same requirements as
 * ClearCLIP and MaskCLIP: see ./dense.ts `findDenseGraph`).
 *
 * @throws DenseGraphError naming what is missing.
 */
export function findContributionGraph(model: ModelSummary, name: string, output?: string): ContributionGraph {
  const head = findDenseGraph(model, name, output);
  const fail = (what: string): never => {
    throw new DenseGraphError(name, what);
  };
  const g = new GraphIndex(model);
  const layers = attentionSoftmaxOf(model).layers.map(({ nodeIndex, layer }) => {
    const softmax = model.nodes[nodeIndex] ?? fail(`the attention Softmax of layer ${layer} is missing.`);
    const branch = attentionBranch(g, softmax, `the attention Softmax of layer ${layer}`, fail);
    const product = g.producer.get(branch.attentionOutput);
    const attention = product?.inputs[0] ?? fail(`nothing computes attention·V in layer ${layer}.`);
    return {
      attention,
      value: branch.value,
      attentionOutput: branch.attentionOutput,
      outProjection: branch.outProjection,
      side: g.sideInputs([branch.attentionOutput], [branch.outProjection]),
    };
  });
  return { input: head.input, output: head.output, finalHidden: head.finalHidden, layers };
}

/**
 * What patch contributions keep of one image. All of it is independent of the prompt, so
 * another prompt on the same image costs only the head's gradient and a product.
 */
export interface ImageContributions {
  readonly layers: number;
  /** Tokens, CLS first. */
  readonly seq: number;
  /** Hidden width D. */
  readonly width: number;
  /** Each layer's out-projected A[CLS, p]·v_p, `(layers, seq, D)` row-major. */
  readonly rows: Float32Array;
  /** The final hidden state the head reads, as the graph gives it (`(1, seq, D)`). */
  readonly finalHidden: { readonly data: Float32Array; readonly dims: readonly number[] };
}

/**
 * The prompt-independent part: one forward pass for every layer's attention and values, then
 * each layer's attention output replaced by A[CLS, p]·v_p per token and run through the
 * graph's own head merge and out-projection.
 */
export function imageContributions(interpreter: OnnxInterpreter, graph: ContributionGraph, pixels: Pixels): ImageContributions {
  return tf.tidy(() => {
    const wanted = new Set([graph.finalHidden, ...graph.layers.flatMap((l) => [l.attention, l.value, ...l.side])]);
    const first = interpreter.run({ [graph.input]: { kind: 'float', data: pixels.data, dims: pixels.dims } }, { outputs: [...wanted] });
    const get = (name: string): Value => {
      const v = first.get(name);
      if (!v) throw new Error(`${interpreter.name}: "${name}" was not computed`);
      return v;
    };
    const perLayer: tf.Tensor[] = [];
    for (const layer of graph.layers) {
      const a = toFloat(get(layer.attention));
      const v = toFloat(get(layer.value));
      if (a.rank !== 3 || v.rank !== 3 || a.shape[2] !== v.shape[1] || a.shape[0] !== v.shape[0]) {
        throw new Error(`${interpreter.name}: attention ${a.shape.join('×')} and V ${v.shape.join('×')} should be (batch·heads, seq, seq) and (batch·heads, seq, head_dim)`);
      }
      const [heads, , seq] = a.shape as [number, number, number];
      // Row p of each head: A[CLS, p] · v_p, the share of token p in the CLS token's attention output.
      const clsRows = tf.reshape(tf.slice(a, [0, 0, 0], [heads, 1, seq]), [heads, seq, 1]);
      const layerFeeds: Record<string, Feed> = { [layer.attentionOutput]: { kind: 'tensor', tensor: tf.mul(clsRows, v) } };
      for (const name of layer.side) layerFeeds[name] = feedOf(get(name));
      // The split relies on the out-projection being linear: in a `_quantized` file it is run as
      // the float product with the dequantised weight, not by quantizing these small rows per tensor.
      const projected = interpreter.run(layerFeeds, { outputs: [layer.outProjection], quantized: 'dequantized' }).get(layer.outProjection);
      if (!projected) throw new Error(`${interpreter.name}: "${layer.outProjection}" was not computed`);
      perLayer.push(toFloat(projected));
    }
    const layer0 = perLayer[0];
    if (!layer0) throw new Error(`${interpreter.name}: no attention layers`);
    const [, seq, width] = layer0.shape as [number, number, number];
    const z = toFloat(get(graph.finalHidden));
    return {
      layers: perLayer.length,
      seq,
      width,
      rows: Float32Array.from(tf.concat(perLayer, 0).dataSync()),
      finalHidden: { data: Float32Array.from(z.dataSync()), dims: z.shape },
    };
  });
}

/**
 * Each patch's first-order contribution to cos(image_embeds, prompt) through each attention
 * layer, `(layers, patches)` row-major in patch order; the map of all layers is the sum over
 * layers.
 *
 * @param text the prompt's `text_embeds`, `(P,)`.
 */
export function promptContributions(
  interpreter: OnnxInterpreter,
  graph: ContributionGraph,
  image: ImageContributions,
  text: Float32Array,
): Float32Array {
  const { layers, seq, width, rows } = image;
  // g = ∂cos/∂z, from the head alone; only the CLS row of the final hidden state is read.
  const g = tf.tidy(() => {
    const t = tf.tensor1d(text);
    const tUnit = tf.div(t, tf.maximum(tf.norm(t), 1e-12));
    const cosine = (hidden: tf.Tensor): tf.Scalar => {
      const out = interpreter.run({ [graph.finalHidden]: { kind: 'tensor', tensor: hidden } }, { outputs: [graph.output] }).get(graph.output);
      if (!out) throw new Error(`${interpreter.name}: "${graph.output}" was not computed`);
      const e = tf.reshape(toFloat(out), [-1]);
      return tf.sum(tf.mul(tf.div(e, tf.maximum(tf.norm(e), 1e-12)), tUnit));
    };
    const z = tf.tensor(image.finalHidden.data, [...image.finalHidden.dims]);
    return Float32Array.from(tf.slice(tf.reshape(tf.grad(cosine)(z), [-1]), [0], [width]).dataSync());
  });
  const patches = seq - 1;
  const out = new Float32Array(layers * patches);
  for (let l = 0; l < layers; l++) {
    for (let p = 1; p < seq; p++) {
      let sum = 0;
      const row = (l * seq + p) * width;
      for (let d = 0; d < width; d++) sum += (rows[row + d] as number) * (g[d] as number);
      out[l * patches + p - 1] = sum;
    }
  }
  return out;
}
