/**
 * Gradient-free dense prompt maps (the protocol's `denseMap`): which image patch matches a prompt,
 * from one modified forward pass through the model's own ONNX graph (./interpreter.ts).
 *
 * The vision encoder's LAST block is evaluated again with its attention path replaced and without
 * residual and FFN; the post-LayerNorm and the visual projection are then applied to EVERY token
 * instead of the CLS token alone, and each patch embedding is compared with the prompt's:
 *
 * - **ClearCLIP** (Lan et al. 2024, "ClearCLIP: Decomposing CLIP Representations for Dense
 *   Vision-Language Inference", ECCV): attention = softmax(q·qᵀ·s) per head, s = head_dim^-0.5,
 *   out = attention·V; out-projection; no residual, no FFN.
 * - **MaskCLIP** (Zhou, Loy & Dai 2022, "Extract Free Dense Labels from CLIP", ECCV): the
 *   attention is the identity, out = V; out-projection; no residual, no FFN.
 *
 * Nothing is re-exported and no node name is relied on: {@link findDenseGraph} locates, by graph
 * structure, the tensors to read and to replace; {@link denseTokenEmbeddings} feeds replacements
 * into the interpreter (which accepts any internal tensor as a feed and evaluates only the nodes
 * downstream of it). Hugging Face / transformers.js CLIP exports (MatMul → Softmax → MatMul
 * attention, CLS pooling with `Gather(axis=1, index 0)`) are what this expects.
 *
 * Cost: one forward pass of the vision graph up to the last block (tfjs), then the last block's
 * attention output projection and the head for all tokens. Memory: transient tensors only; the
 * worker keeps the maps (patches × 4 bytes) of the last requests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DenseMapMode } from '../../protocol';
import { attentionSoftmaxOf } from '../onnx/attention';
import type { ModelSummary, OnnxNode } from '../onnx/graph';
import { attentionBranch, GraphIndex, MAX_HOPS, MAX_PROJECTION_HOPS, PASS_OPS } from '../onnx/structure';
import type { KeptBlockInput, Pixels } from './engine';
import type { Feed, OnnxInterpreter } from './interpreter';
import { toFloat, type Value } from './values';

// ---------------------------------------------------------------------------------------------
// Structure

/** The vision graph does not have the structure dense maps need; the message says what is missing. */
export class DenseGraphError extends Error {
  /** The file's name, e.g. `onnx/vision_model.onnx`. */
  readonly model: string;

  constructor(model: string, what: string) {
    super(
      `${model}: dense prompt maps (ClearCLIP, MaskCLIP) are not available for this file: ${what} ` +
        'They need an unfused Hugging Face–style CLIP vision export (MatMul → Softmax → MatMul attention, ' +
        'out-projection and residual Add, CLS pooling with a Gather before the post-LayerNorm and the projection), ' +
        'such as the Xenova/transformers.js CLIP exports.',
    );
    this.name = 'DenseGraphError';
    this.model = model;
  }
}

/**
 * Tensor names of a vision graph that dense maps read or replace, found by structure.
 * Shapes are those of a Hugging Face export for one image (batch 1), `seq` = 1 + patches.
 */
export interface DenseGraph {
  /** The graph input, e.g. `pixel_values`, `(1, 3, H, W)`. */
  readonly input: string;
  /** The embedding output, e.g. `image_embeds`, `(batch, projection_dim)`. */
  readonly output: string;
  /** 0-based index of the last attention layer. */
  readonly layer: number;
  /** Last attention Softmax output, `(batch·heads, seq, seq)`. */
  readonly softmax: string;
  /** Output of the MatMul that makes the attention logits (Q·Kᵀ). */
  readonly logits: string;
  /** The Softmax input: `logits`, possibly after a scale (Mul/Div) or casts. */
  readonly scores: string;
  /** First input of the logits MatMul: Q `(batch·heads, seq, head_dim)`; HF scales it by head_dim^-0.5. */
  readonly query: string;
  /**
   * The query before any scale: walking up from {@link query} through reshapes, transposes and
   * Mul/Div by a constant or shape-derived scalar, the last tensor reached (HF: the q_proj
   * output `(batch, seq, D)`). Equal to {@link query} when Q is not scaled.
   */
  readonly rawQuery: string;
  /** Second input of the MatMul consuming the Softmax: V `(batch·heads, seq, head_dim)`. */
  readonly value: string;
  /** That MatMul's output, attention·V `(batch·heads, seq, head_dim)`: what dense maps replace. */
  readonly attentionOutput: string;
  /** The attention branch's input to the residual Add: the block's attention output after the out-projection, `(batch, seq, D)`. */
  readonly outProjection: string;
  /** Output of that residual Add, `(batch, seq, D)`. */
  readonly residual: string;
  /** Final hidden state that the pooling Gather reads, `(batch, seq, D)`. */
  readonly finalHidden: string;
  /** The pooling Gather's output (CLS token), `(batch, D)`. */
  readonly pooled: string;
  /**
   * Tensors computed before the last block that the nodes between {@link attentionOutput} and
   * {@link outProjection} also read (the shape values of the head reshapes): fed from the first pass.
   */
  readonly attentionSide: readonly string[];
  /** The same for {@link attentionOutput} → {@link finalHidden} (adds the residual stream). */
  readonly blockSide: readonly string[];
}

/** How many nodes to search back from the output for the pooling Gather. */
const MAX_POOLING_SEARCH = 96;
/** Ops that split a projection into heads (and casts), crossed when looking for the unscaled query. */
const HEAD_SPLIT_OPS = new Set(['Cast', 'Identity', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze']);

/**
 * Finds, by graph structure, the tensors dense maps read and replace in a CLIP vision graph:
 * the last attention Softmax (../onnx/attention.ts); Q, the first input of the MatMul producing
 * its logits; V, the second input of the MatMul consuming it; the out-projection output (walking
 * forward through Reshape/Transpose/MatMul/Add, or an int8 MatMul chain, to the residual Add:
 * the attention branch's input to it); and the final hidden state read by the CLS pooling
 * Gather before the post-LayerNorm and the projection.
 *
 * @param model  the vision file's {@link ModelSummary} (../onnx/graph.ts `summarizeModel`).
 * @param name   the file's name, for messages.
 * @param output the embedding output, e.g. `image_embeds`; default: the first graph output.
 * @throws UnsupportedModelError when no attention Softmax is found (fused attention, …).
 * @throws DenseGraphError naming the missing piece otherwise.
 */
export function findDenseGraph(model: ModelSummary, name: string, output?: string): DenseGraph {
  const fail = (what: string): never => {
    throw new DenseGraphError(name, what);
  };
  const g = new GraphIndex(model);
  const weights = new Set(model.initializers.map((i) => i.name));
  const input = model.inputs.find((i) => !weights.has(i)) ?? fail('the graph has no input.');
  const out = output ?? model.outputs[0] ?? fail('the graph has no output.');
  if (!model.outputs.includes(out)) fail(`"${out}" is not an output of the graph (outputs: ${model.outputs.join(', ')}).`);

  const attention = attentionSoftmaxOf(model);
  const last = attention.layers[attention.layers.length - 1] as (typeof attention.layers)[number];
  const softmax = model.nodes[last.nodeIndex] ?? fail('the attention Softmax node is missing.');

  // Up from the Softmax to Q·Kᵀ, through a scale (Mul/Div) and casts only.
  const scores = softmax.inputs[0] ?? fail('the last attention Softmax has no input.');
  let logits = scores;
  let logitsNode: OnnxNode | undefined;
  for (let hop = 0; hop <= MAX_HOPS && !logitsNode; hop++) {
    const p = g.producer.get(logits) ?? fail('nothing computes the attention logits.');
    const scaledInput = g.scaled(p);
    if (p.opType === 'MatMul' && p.domain === '' && g.computed(p.inputs[0]) && g.computed(p.inputs[1])) logitsNode = p;
    else if (scaledInput) logits = scaledInput;
    else if (PASS_OPS.has(p.opType) && g.computed(p.inputs[0])) logits = p.inputs[0] as string;
    else {
      fail(
        `between the attention logits Q·Kᵀ and the last Softmax there is a ${p.opType} node (a mask or bias?); ` +
          'only a scale (Mul/Div by a constant) and casts are supported.',
      );
    }
  }
  if (!logitsNode) fail('the last attention Softmax is not fed by a MatMul of two computed tensors (Q·Kᵀ).');
  const query = (logitsNode as OnnxNode).inputs[0] as string;

  // Up from Q to the query before any scale (ClearCLIP needs q·qᵀ with the raw q).
  let rawQuery = query;
  let cursor = query;
  for (let hop = 0; hop < MAX_PROJECTION_HOPS; hop++) {
    const p = g.producer.get(cursor);
    if (!p) break;
    const scaledInput = g.scaled(p);
    if (scaledInput) rawQuery = cursor = scaledInput;
    else if (HEAD_SPLIT_OPS.has(p.opType) && g.computed(p.inputs[0])) cursor = p.inputs[0] as string;
    else break;
  }

  // Down from the Softmax to attention·V, the out-projection and the residual Add.
  const { value, attentionOutput, outProjection, residual } = attentionBranch(g, softmax, 'the last attention Softmax', fail);

  // Back from the output to the CLS pooling Gather.
  let finalHidden: string | undefined;
  let pooled: string | undefined;
  const queue = [out];
  const seen = new Set(queue);
  for (let visited = 0; queue.length > 0 && visited < MAX_POOLING_SEARCH && !finalHidden; visited++) {
    const p = g.producer.get(queue.shift() as string);
    if (!p) continue;
    const data = p.inputs[0];
    const dataProducer = data ? g.producer.get(data) : undefined;
    if (
      // Not a Gather of shape values (those are static), and reading a tensor of the last block.
      p.opType === 'Gather' && g.computed(data) && g.constant.has(p.inputs[1] ?? '') &&
      dataProducer !== undefined && dataProducer.index > softmax.index
    ) {
      finalHidden = data;
      pooled = p.outputs[0];
      break;
    }
    for (const i of p.inputs) {
      if (g.computed(i) && !seen.has(i)) {
        seen.add(i);
        queue.push(i);
      }
    }
  }
  if (!finalHidden || !pooled) {
    fail(`no pooling Gather (the CLS token, taken after the last block) was found before "${out}"; the export may pool differently (e.g. a mean over tokens).`);
  }
  const hidden = finalHidden as string;
  if (!g.downstream([residual]).has(hidden)) {
    fail('the pooled hidden state does not depend on the last block\'s residual Add: the blocks are not where expected.');
  }
  const poolingSide = g.sideInputs([hidden], [out]);
  if (poolingSide.length > 0) {
    fail(`the post-LayerNorm and projection read other tensors than the pooled hidden state (${poolingSide.join(', ')}).`);
  }
  return {
    input,
    output: out,
    layer: last.layer,
    softmax: softmax.outputs[0] as string,
    logits,
    scores,
    query,
    rawQuery,
    value,
    attentionOutput,
    outProjection,
    residual,
    finalHidden: hidden,
    pooled: pooled as string,
    attentionSide: g.sideInputs([attentionOutput], [outProjection]),
    blockSide: g.sideInputs([attentionOutput], [hidden]),
  };
}

// ---------------------------------------------------------------------------------------------
// The pass

/**
 * What replaces the last block's attention: a dense-map mode, or `'model'` — the model's own
 * softmax(Q·Kᵀ)·V, fed back unchanged (for checking the wiring).
 */
export type DenseAttention = Exclude<DenseMapMode, 'contributions'> | 'model';

export interface DensePassOptions {
  readonly attention: DenseAttention;
  /**
   * Keep the last block's residual connection and FFN (default false, as ClearCLIP and MaskCLIP
   * do). With `attention: 'model'` the CLS row then equals the model's own embedding.
   */
  readonly keepResidual?: boolean;
  /**
   * The residual stream entering the last block (`blocks.inputs[layer]` of ../onnx/structure.ts),
   * when it is known: run 1 then starts there instead of at `pixel_values` (the pixels are fed
   * too when `readsInput`), skipping every earlier block.
   */
  readonly lastBlockInput?: KeptBlockInput | undefined;
}

/** A graph value as a feed for another run. */
export function feedOf(v: Value): Feed {
  return v.kind === 'tensor' ? { kind: 'tensor', tensor: v.tensor } : { kind: 'int', data: v.data, dims: v.shape };
}

function shapeText(t: tf.Tensor): string {
  return `(${t.shape.join(', ')})`;
}

/**
 * Embeddings of every token of one image after the last block's attention is replaced.
 *
 * Three interpreter runs, all inside the caller's `tf.tidy`:
 * 1. from `pixel_values` to Q and V of the last block (and the side inputs of run 2);
 * 2. from the replacement attention output `out` `(batch·heads, seq, head_dim)` to the
 *    out-projection `(1, seq, D)` — or, with `keepResidual`, to the final hidden state;
 * 3. from that tensor reshaped to `(seq, 1, D)` — the tokens as a batch, so the pooling
 *    `Gather(axis=1, index 0)` picks each token — to the projection output `(seq, projection_dim)`.
 *
 * ClearCLIP: softmax(q·qᵀ·s)·V with q the unscaled query and s = head_dim^-0.5. The graph's Q is
 * a·q for a scalar a (HF: a = s, so q·qᵀ·s = Q·Qᵀ/s); a is measured as ‖Q‖/‖q‖ with q read at
 * {@link DenseGraph.rawQuery}, so a scale anywhere (on Q, split between Q and K, after the
 * product) gives the same attention.
 *
 * Quantized files: the int8 projection quantises its input per tensor, as ONNX Runtime does; in
 * run 3 the range is that of all tokens, not of the CLS token alone.
 *
 * @param pixels `pixel_values` `(1, 3, H, W)`, preprocessed as for the ORT session.
 * @returns `(seq, projection_dim)`, token 0 = CLS, token 1 + r·gw + c = patch (c, r); not normalised.
 * @throws Error naming the tensor whose shape is not what a HF CLIP export gives.
 */
export function denseTokenEmbeddings(
  interpreter: OnnxInterpreter,
  graph: DenseGraph,
  pixels: Pixels,
  options: DensePassOptions,
): tf.Tensor2D {
  const keep = options.keepResidual ?? false;
  const side = keep ? graph.blockSide : graph.attentionSide;
  const wanted = new Set([graph.query, graph.value, ...side]);
  if (options.attention === 'model') wanted.add(graph.attentionOutput);
  if (options.attention === 'clearclip') wanted.add(graph.rawQuery);
  const start = options.lastBlockInput;
  const startFeeds: Record<string, Feed> = {};
  if (!start || start.readsInput) startFeeds[graph.input] = { kind: 'float', data: pixels.data, dims: pixels.dims };
  if (start) startFeeds[start.name] = { kind: 'float', data: start.tensor.data, dims: start.tensor.dims };
  const first = interpreter.run(startFeeds, { outputs: [...wanted] });
  const get = (name: string): Value => {
    const v = first.get(name);
    if (!v) throw new Error(`${interpreter.name}: "${name}" was not computed`);
    return v;
  };
  const q = toFloat(get(graph.query));
  const v = toFloat(get(graph.value));
  if (q.rank < 3 || q.shape.join() !== v.shape.join()) {
    throw new Error(`${interpreter.name}: Q ${shapeText(q)} and V ${shapeText(v)} of the last attention should both be (batch·heads, seq, head_dim)`);
  }

  let out: tf.Tensor;
  switch (options.attention) {
    case 'model':
      out = toFloat(get(graph.attentionOutput));
      break;
    case 'maskclip':
      out = v;
      break;
    case 'clearclip': {
      // Q = a·q (a = head_dim^-0.5 in HF exports, √ of it in SDPA-style ones, 1 when the scale
      // follows the product); a = ‖Q‖/‖q‖, q being the same numbers before the scale.
      const s = 1 / Math.sqrt(q.shape[q.rank - 1] as number);
      let factor: tf.Tensor | number = s;
      if (graph.rawQuery !== graph.query) {
        const a2 = tf.div(tf.sum(tf.square(q)), tf.sum(tf.square(toFloat(get(graph.rawQuery)))));
        factor = tf.div(s, a2);
      }
      const attention = tf.softmax(tf.mul(tf.matMul(q, q, false, true), factor));
      out = tf.matMul(attention, v);
      break;
    }
  }

  const feeds: Record<string, Feed> = { [graph.attentionOutput]: { kind: 'tensor', tensor: out } };
  for (const name of side) feeds[name] = feedOf(get(name));
  const target = keep ? graph.finalHidden : graph.outProjection;
  const hiddenValue = interpreter.run(feeds, { outputs: [target] }).get(target);
  if (!hiddenValue) throw new Error(`${interpreter.name}: "${target}" was not computed`);
  const hidden = toFloat(hiddenValue);
  if (hidden.rank !== 3 || hidden.shape[0] !== 1) {
    throw new Error(`${interpreter.name}: the last block's output ${shapeText(hidden)} should be (1, seq, D) (batch first, one image)`);
  }
  const [, seq, width] = hidden.shape as [number, number, number];

  const tokens = tf.reshape(hidden, [seq, 1, width]);
  const embedsValue = interpreter.run({ [graph.finalHidden]: { kind: 'tensor', tensor: tokens } }, { outputs: [graph.output] }).get(graph.output);
  if (!embedsValue) throw new Error(`${interpreter.name}: "${graph.output}" was not computed`);
  const embeds = toFloat(embedsValue);
  if (embeds.shape[0] !== seq || embeds.size % seq !== 0) {
    throw new Error(
      `${interpreter.name}: with the ${seq} tokens as a batch (${seq}, 1, ${width}), "${graph.output}" is ${shapeText(embeds)}, ` +
        `not (${seq}, projection_dim): the pooling Gather does not take token 0 along axis 1`,
    );
  }
  return tf.reshape(embeds, [seq, embeds.size / seq]);
}

/**
 * Cosine similarity of each patch token with a prompt embedding.
 *
 * @param tokens `(seq, P)` from {@link denseTokenEmbeddings}, token 0 = CLS (skipped).
 * @param text   the prompt's `text_embeds`, `(1, P)` or `(P,)`.
 * @returns `(seq − 1,)` values in [-1, 1], patch order (row-major over the grid).
 */
export function patchSimilarities(tokens: tf.Tensor2D, text: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const [seq, dim] = tokens.shape;
    if (text.size !== dim) throw new Error(`the prompt embedding has ${text.size} values but the patch embeddings ${dim}: do the encoders belong together?`);
    const patches = tf.slice(tokens, [1, 0], [seq - 1, dim]);
    const unit = tf.div(patches, tf.maximum(tf.norm(patches, 'euclidean', 1, true), 1e-12));
    const t = tf.reshape(text, [dim, 1]);
    const tUnit = tf.div(t, tf.maximum(tf.norm(t), 1e-12));
    return tf.reshape(tf.matMul(unit, tUnit), [seq - 1]);
  });
}
