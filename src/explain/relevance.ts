/**
 * Gradient-weighted relevance (Chefer, Gur & Wolf 2021, "Generic Attention-model Explainability
 * for Interpreting Bi-Modal and Encoder-Decoder Transformers", ICCV; the CLIP notebook of
 * github.com/hila-chefer/Transformer-MM-Explainability, `interpret()`), as
 * tools/models/explain_torch.py `relevance()` computes it:
 *
 *   score = exp(logit_scale) · cos(image_embeds, text_embeds)
 *   cam_l = mean over heads of clamp(∂score/∂A_l ⊙ A_l, min 0)          (seq, seq)
 *   R = I;  for l = start … L−1:  R ← R + cam_l · R
 *   image map = R[CLS, 1:] (one value per patch);  text map = R[EOT, 1:EOT]
 *
 * The gradients come from the worker (src/worker/grad, tfjs autodiff over the ONNX graph);
 * everything here is pure arithmetic on Float32Arrays, float64 inside.
 *
 * Only ONE row of R is ever needed, so instead of the O(L·seq³) matrix products this computes
 * r = e_tokenᵀ (I + cam_{L−1}) ⋯ (I + cam_start) from the left, O(L·heads·seq²).
 */
import type { GradientStack } from './method';
import type { AttentionStack, Grid, PatchMap } from './types';
import { checkGrid, checkStack, checkToken, resolveLayer } from './validate';

/** Throws unless `grad` has the layout of `attn` (same layers, heads and seq). */
function checkPair(attn: AttentionStack, grad: GradientStack): void {
  checkStack(attn, 'attention stack');
  checkStack(grad, 'gradient stack');
  if (attn.layers !== grad.layers || attn.heads !== grad.heads || attn.seq !== grad.seq) {
    throw new Error(
      `gradient stack is (${grad.layers}, ${grad.heads}, ${grad.seq}, ${grad.seq}) but the attention stack is ` +
        `(${attn.layers}, ${attn.heads}, ${attn.seq}, ${attn.seq}): pass ∂score/∂A of the same input and encoder`,
    );
  }
}

/**
 * One layer's gradient-weighted attention: `mean_h max(0, ∂score/∂A ⊙ A)`.
 *
 * @param attn  attention probabilities `(layers, heads, seq, seq)`
 * @param grad  ∂score/∂A, same layout
 * @param layer layer index; negative counts from the end
 * @returns     `(seq, seq)` row-major, float64
 */
export function gradCam(attn: AttentionStack, grad: GradientStack, layer: number): Float64Array {
  checkPair(attn, grad);
  return camOf(attn, grad, resolveLayer(layer, attn.layers));
}

function camOf(attn: AttentionStack, grad: GradientStack, l: number): Float64Array {
  const { heads, seq } = attn;
  const n = seq * seq;
  const cam = new Float64Array(n);
  for (let h = 0; h < heads; h++) {
    const base = (l * heads + h) * n;
    for (let i = 0; i < n; i++) {
      const v = (grad.data[base + i] as number) * (attn.data[base + i] as number);
      if (v > 0) cam[i] = (cam[i] as number) + v;
    }
  }
  for (let i = 0; i < n; i++) cam[i] = (cam[i] as number) / heads;
  return cam;
}

/**
 * Row `token` of the relevance matrix R after layers `startLayer … L−1`.
 *
 * @param attn       attention probabilities `(layers, heads, seq, seq)`
 * @param grad       ∂score/∂A, same layout (layers below `startLayer` are not read)
 * @param startLayer first layer accumulated; -1 = last layer only (the notebook's default), 0 = all
 * @param token      query token: 0 (CLS) for images, the end-of-text token (last) for prompts
 * @returns          `(seq,)` float64: R[token, k] for every key token k (R[token, token] ≥ 1, from I)
 */
export function relevanceRow(attn: AttentionStack, grad: GradientStack, startLayer: number, token: number): Float64Array {
  checkPair(attn, grad);
  const start = resolveLayer(startLayer, attn.layers, 'start layer');
  checkToken(token, attn.seq, 'relevance query token');
  const { seq } = attn;
  let r = new Float64Array(seq);
  r[token] = 1;
  // r ← r (I + cam_l), from the last layer down to `start`: the row of (I + cam_{L−1})⋯(I + cam_start).
  for (let l = attn.layers - 1; l >= start; l--) {
    const cam = camOf(attn, grad, l);
    const next = Float64Array.from(r);
    for (let q = 0; q < seq; q++) {
      const rq = r[q] as number;
      if (rq === 0) continue;
      const row = q * seq;
      for (let k = 0; k < seq; k++) next[k] = (next[k] as number) + rq * (cam[row + k] as number);
    }
    r = next;
  }
  return r;
}

/**
 * Image relevance map: R[CLS, 1:] over the patch grid (the CLS token's own entry dropped).
 * Values are ≥ 0 in relevance units (0 everywhere when every gradient·attention is ≤ 0); the
 * renderer normalises.
 *
 * @param vision     vision attention `(layers, heads, 1 + gw·gh, 1 + gw·gh)`
 * @param gradients  ∂score/∂A for the same image (and the chosen prompt), same layout
 * @param startLayer -1 (default) = last layer only, as the CLIP notebook; 0 = all layers
 * @returns          `grid.width × grid.height` PatchMap, row-major
 */
export function imageRelevance(vision: AttentionStack, gradients: GradientStack, grid: Grid, startLayer = -1): PatchMap {
  checkPair(vision, gradients);
  checkGrid(vision, grid);
  const row = relevanceRow(vision, gradients, startLayer, 0);
  return { width: grid.width, height: grid.height, values: Float32Array.from(row.subarray(1)) };
}

/**
 * Text relevance as the goldens and the notebook define it: R[EOT, 1:EOT], i.e. the prompt's
 * word tokens without the start and end-of-text tokens (EOT = the last token: prompts are
 * unpadded). Not normalised.
 *
 * @param text       text attention `(layers, heads, tokens, tokens)`
 * @param gradients  ∂score/∂A for the same prompt, same layout
 * @returns          `(tokens − 2,)`
 */
export function textRelevance(text: AttentionStack, gradients: GradientStack, startLayer = -1): Float32Array {
  const row = relevanceRow(text, gradients, startLayer, text.seq - 1);
  return Float32Array.from(row.subarray(1, text.seq - 1));
}

/**
 * {@link textRelevance} laid out over ALL tokens, as the prompt-word view expects (`(tokens,)`,
 * start and end-of-text included): those two are 0 — the start token is an attention sink and
 * R[EOT, EOT] holds the identity's 1, neither says anything about the words.
 */
export function textRelevanceTokens(text: AttentionStack, gradients: GradientStack, startLayer = -1): Float32Array {
  const words = textRelevance(text, gradients, startLayer);
  const out = new Float32Array(text.seq);
  out.set(words, 1);
  return out;
}

/**
 * How much each head's attention matters to the score: Σ_{q,k} |∂score/∂A ⊙ A| per (layer, head)
 * (the magnitude that Chefer et al.'s cam averages over heads, before clamping).
 *
 * @returns `(layers, heads)` row-major; layers whose gradient was not computed come out 0
 */
export function headImportance(attn: AttentionStack, grad: GradientStack): Float32Array {
  checkPair(attn, grad);
  const { layers, heads, seq } = attn;
  const n = seq * seq;
  const out = new Float32Array(layers * heads);
  for (let m = 0; m < layers * heads; m++) {
    let s = 0;
    const base = m * n;
    for (let i = 0; i < n; i++) s += Math.abs((grad.data[base + i] as number) * (attn.data[base + i] as number));
    out[m] = s;
  }
  return out;
}
