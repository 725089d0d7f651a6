/**
 * The reduced form in which the app keeps an image's vision attention (`ReducedAttention`), and
 * single query tokens' rows (`TokenRows`), made from the full probabilities once, in the worker.
 *
 * Why: the full stack is layers·heads·seq² floats — ViT-B/16 22.4 MB, L/14 101 MB per image —
 * but the views read far less of it:
 * - raw attention of the CLS token and the layers × heads grid: row 0 of every (layer, head);
 * - rollout (all heads fused, any discard ratio, any query token): each layer's all-heads
 *   mean / max / min, `(seq, seq)` each;
 * - raw attention of a clicked patch: that token's rows, fetched from the worker on demand.
 * Every map computed from the reduced form is bit-identical to the map from the full stack
 * (reduce.test.ts checks it): the reduction does the same arithmetic as the views' fusion loop
 * (`fuseSlices`), in one pass over the stack, and keeps the mean in float64.
 */
import type { AttentionStack, FusedLayers, ReducedAttention, TokenRows } from './types';
import { checkStack, checkToken } from './validate';

/**
 * Bytes of a {@link ReducedAttention} of these sizes: CLS rows `layers·heads·seq` float32, mean
 * `layers·seq²` float64, max and min `layers·seq²` float32 each. ViT-B/16 (12, 12, 197):
 * 7,564,800 B (full stack 22,353,984 B); ViT-B/32 (12, 12, 50): 508,800 B (1,440,000 B). With
 * 4 heads or fewer it is slightly more than the full stack ((4, 4, 65): 274,560 B vs 270,400 B):
 * the form is chosen for the big models.
 */
export function reducedAttentionBytes(layers: number, heads: number, seq: number): number {
  return layers * heads * seq * 4 + layers * seq * seq * (8 + 4 + 4);
}

/** Bytes of one query token's rows (`TokenRows`) of these sizes: `layers·heads·seq` float32. */
export function tokenRowsBytes(layers: number, heads: number, seq: number): number {
  return layers * heads * seq * 4;
}

/** Bytes actually held by a reduced attention (its typed arrays). */
export function reducedBytes(r: ReducedAttention): number {
  return r.cls.data.byteLength + r.fused.mean.byteLength + r.fused.max.byteLength + r.fused.min.byteLength;
}

/** Throws unless `perLayer` holds one `(heads, seq, seq)` Float32Array per layer. */
function checkLayers(perLayer: readonly Float32Array[], heads: number, seq: number): void {
  if (perLayer.length === 0) throw new Error('no layers: pass one (heads, seq, seq) array per layer');
  if (!Number.isInteger(heads) || heads <= 0 || !Number.isInteger(seq) || seq <= 0) {
    throw new Error(`heads and seq must be positive integers, got heads=${heads}, seq=${seq}`);
  }
  const size = heads * seq * seq;
  perLayer.forEach((a, l) => {
    if (!(a instanceof Float32Array) || a.length !== size) {
      throw new Error(
        `layer ${l} has ${a instanceof Float32Array ? a.length : typeof a} values, expected a Float32Array of ` +
          `heads×seq×seq = ${heads}×${seq}×${seq} = ${size} (one input, no batch dimension)`,
      );
    }
  });
}

/**
 * Row `token` of every layer and head.
 *
 * @param perLayer one `(heads, seq, seq)` array per layer, in layer order (e.g. each layer's
 *                 Softmax output of one input); not modified
 * @returns        `(layers, heads, seq)`; a new buffer (transferable on its own)
 */
export function tokenRowsOfLayers(perLayer: readonly Float32Array[], heads: number, seq: number, token: number): TokenRows {
  checkLayers(perLayer, heads, seq);
  checkToken(token, seq);
  const data = new Float32Array(perLayer.length * heads * seq);
  perLayer.forEach((a, l) => {
    for (let h = 0; h < heads; h++) {
      const from = (h * seq + token) * seq;
      data.set(a.subarray(from, from + seq), (l * heads + h) * seq);
    }
  });
  return { layers: perLayer.length, heads, seq, token, data };
}

/**
 * Reduces one input's attention to what the views need (see the module doc and
 * `ReducedAttention`): CLS rows, and per layer the all-heads mean (float64), max and min.
 *
 * @param perLayer one `(heads, seq, seq)` array per layer, in layer order; not modified
 * @returns        four new buffers (transferable); {@link reducedAttentionBytes} bytes
 */
export function reduceLayers(perLayer: readonly Float32Array[], heads: number, seq: number): ReducedAttention {
  checkLayers(perLayer, heads, seq);
  const layers = perLayer.length;
  const n = seq * seq;
  const mean = new Float64Array(layers * n);
  const max = new Float32Array(layers * n);
  const min = new Float32Array(layers * n);
  perLayer.forEach((a, l) => fuseAllHeads(a, heads, n, l * n, mean, max, min));
  const fused: FusedLayers = { layers, heads, seq, mean, max, min };
  return { layers, heads, seq, cls: tokenRowsOfLayers(perLayer, heads, seq, 0), fused };
}

/**
 * Mean, max and min over all heads of one layer `a` `(heads, n)` in one pass (each value read
 * once: B/16's 22 MB per image is the cost), written at `at` of the outputs. The same
 * arithmetic as `fuseSlices` with every head selected — the sum in float64 in head order, then
 * divided by the head count; max and min exact — so the results are bit-identical to it.
 */
function fuseAllHeads(a: Float32Array, heads: number, n: number, at: number, mean: Float64Array, max: Float32Array, min: Float32Array): void {
  for (let i = 0; i < n; i++) {
    const v0 = a[i] as number;
    let sum = v0;
    let hi = v0;
    let lo = v0;
    for (let h = 1, k = i + n; h < heads; h++, k += n) {
      const v = a[k] as number;
      sum += v;
      if (v > hi) hi = v;
      if (v < lo) lo = v;
    }
    mean[at + i] = heads > 1 ? sum / heads : sum;
    max[at + i] = hi;
    min[at + i] = lo;
  }
}

/** One `(heads, seq, seq)` view per layer of a stack (no copy). */
function layersOf(stack: AttentionStack): Float32Array[] {
  checkStack(stack);
  const size = stack.heads * stack.seq * stack.seq;
  return Array.from({ length: stack.layers }, (_, l) => stack.data.subarray(l * size, (l + 1) * size));
}

/** {@link reduceLayers} of a full stack `(layers, heads, seq, seq)`. */
export function reduceStack(stack: AttentionStack): ReducedAttention {
  return reduceLayers(layersOf(stack), stack.heads, stack.seq);
}

/** {@link tokenRowsOfLayers} of a full stack `(layers, heads, seq, seq)`. */
export function tokenRows(stack: AttentionStack, token: number): TokenRows {
  return tokenRowsOfLayers(layersOf(stack), stack.heads, stack.seq, token);
}
