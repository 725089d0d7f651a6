/**
 * Shapes shared by the explanation methods. Everything here is plain data (typed arrays and
 * numbers) so it can come out of the worker with a transfer list and be used without copying.
 */

/**
 * One encoder's attention probabilities for ONE input.
 *
 * Layout `(layers, heads, seq, seq)`, row-major: entry `(l, h, q, k)` is at
 * `((l * heads + h) * seq + q) * seq + k` and is how much query token `q` attends to key `k`.
 * Every row `(l, h, q, :)` is a softmax output, so it sums to 1.
 *
 * - Vision: `seq = 1 + grid.width * grid.height`, token 0 is CLS, patch `(col, row)` is token
 *   `1 + row * grid.width + col`.
 * - Text: `seq` = number of tokens of the prompt, unpadded: start token, the words' BPE tokens,
 *   end-of-text token LAST. The text encoder is causal, so row `q` is zero for keys `k > q`.
 *
 * Structurally identical to the worker protocol's `AttentionTensor`, so one can be passed as the
 * other; it is declared here so that `explain/` depends on nothing but itself.
 */
export interface AttentionStack {
  readonly layers: number;
  readonly heads: number;
  readonly seq: number;
  readonly data: Float32Array;
}

/**
 * One query token's attention rows in every layer and head: row `token` of each `(l, h)` of an
 * `AttentionStack`, layout `(layers, heads, seq)` row-major, entry `(l, h, k)` at
 * `(l * heads + h) * seq + k`. Each row sums to 1. 1/seq of the stack: what the single-layer
 * views of one query (CLS, or a clicked patch) need.
 */
export interface TokenRows {
  readonly layers: number;
  readonly heads: number;
  readonly seq: number;
  /** The query token the rows belong to (vision: 0 = CLS, patch i = token i + 1). */
  readonly token: number;
  readonly data: Float32Array;
}

/**
 * Every layer's attention with ALL heads fused, once per fusion: `(layers, seq, seq)` each,
 * row-major, entry `(l, q, k)` at `(l * seq + q) * seq + k`. What rollout needs (it fuses all
 * heads), without the heads dimension.
 *
 * `mean` is float64 because it IS the float64 head mean `fuseHeads64` computes: rollout from
 * here is bit-identical to rollout from the full stack. `max` and `min` pick one head's value,
 * so float32 holds them exactly.
 */
export interface FusedLayers {
  readonly layers: number;
  /** Heads of the encoder, all of them fused. */
  readonly heads: number;
  readonly seq: number;
  readonly mean: Float64Array;
  readonly max: Float32Array;
  readonly min: Float32Array;
}

/**
 * What the app keeps of one image's vision attention instead of the full stack (see
 * reduce.ts): the CLS rows of every layer and head, and every layer's all-heads fusions.
 * ViT-B/16 (12 layers, 12 heads, 197 tokens): 7.6 MB instead of 22.4 MB. Rows of other query
 * tokens (a clicked patch) are fetched on demand as {@link TokenRows}.
 */
export interface ReducedAttention {
  readonly layers: number;
  readonly heads: number;
  readonly seq: number;
  /** Token 0's rows: the raw-attention view and the layers × heads grid. */
  readonly cls: TokenRows;
  /** All-heads fusions per layer: rollout (with any discard ratio and query token). */
  readonly fused: FusedLayers;
}

/**
 * Which heads of a layer take part: `selection[h]` is true when head `h` is on.
 * Length must equal `AttentionStack.heads`, and at least one head must be on.
 * See `allHeads` / `soloHead` in attention.ts for the common cases.
 */
export type HeadSelection = readonly boolean[];

/** How the selected heads' attention maps are combined, element-wise. */
export type Fusion = 'mean' | 'max' | 'min';

/** All fusions, in the order a UI should list them. */
export const FUSIONS: readonly Fusion[] = ['mean', 'max', 'min'];

/** The vision encoder's patch grid, in patches (e.g. 7×7 for ViT-B/32 at 224 px). */
export interface Grid {
  readonly width: number;
  readonly height: number;
}

/**
 * A scalar per image patch: `values[row * width + col]`, `width × height` patches, row-major,
 * row 0 at the top of the (cropped) image. Values are in the method's own units (attention
 * probabilities, relevance, cosine similarity…); the renderer normalises them.
 */
export interface PatchMap {
  readonly width: number;
  readonly height: number;
  readonly values: Float32Array;
}
