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
