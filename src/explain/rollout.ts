/**
 * Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers", §3).
 *
 * Per layer l in `startLayer..endLayer` (inclusive):
 *   1. fuse the selected heads (mean / max / min)            → A_l      (seq, seq)
 *   2. optionally discard the lowest entries (see below)
 *   3. add the residual connection: A'_l = 0.5·A_l + 0.5·I
 *   4. normalise each ROW of A'_l to sum 1
 * and R = A'_end · … · A'_start (built from the first layer up: R ← A'_l · R, R starting at I).
 * Row q of R says how much of token q's output comes from each input token.
 *
 * Matches tools/models/explain_torch.py `rollout` (the golden reference). Unlike jacobgil's
 * vit-explain, which divides by `a.sum(dim=-1)` broadcast over the wrong axis (= column-wise),
 * rows are normalised here, so every row of R sums to 1.
 *
 * Discard (from vit-explain, "drop the lowest attentions, but don't drop the class token"):
 * flatten the fused (seq, seq) map of each layer, take the k = floor(ratio · seq²) smallest
 * entries (ties broken by lower flat index first), and set them to 0 — except flat index 0, the
 * CLS→CLS entry, which is kept even when it is among the k (so up to k − 1 are zeroed, exactly
 * as vit-explain). Zeroed entries shrink their row before step 4, which renormalises it.
 *
 * Everything is computed in float64; results are returned as float32.
 *
 * Input: the full stack, or the `FusedLayers` an image keeps (reduce.ts), which has step 1 done
 * for all heads: same results bit for bit, but no head subsets.
 */
import { allHeads, fuseHeads64 } from './attention';
import type { AttentionStack, Fusion, FusedLayers, Grid, HeadSelection, PatchMap } from './types';
import { checkFused, checkFusion, checkGrid, checkHeads, checkStack, checkToken, resolveLayer } from './validate';

/** What rollout reads: the full stack, or every layer's all-heads fusions. */
export type RolloutSource = AttentionStack | FusedLayers;

function isFused(src: RolloutSource): src is FusedLayers {
  return 'mean' in src;
}

export interface RolloutOptions {
  /** How heads are fused in each layer. Default `'mean'`. */
  readonly fusion?: Fusion;
  /** Heads used in every layer; default all. Length must equal `stack.heads`; all on for `FusedLayers`. */
  readonly heads?: HeadSelection;
  /** Fraction in [0, 1) of each layer's fused entries to zero (see module doc). Default 0. */
  readonly discardRatio?: number;
  /** First layer, inclusive; negative counts from the end. Default 0. */
  readonly startLayer?: number;
  /** Last layer, inclusive; negative counts from the end. Default -1 (the last layer). */
  readonly endLayer?: number;
}

interface Resolved {
  fusion: Fusion;
  heads: HeadSelection;
  ratio: number;
  start: number;
  end: number;
}

function resolve(stack: RolloutSource, opts: RolloutOptions): Resolved {
  const heads = opts.heads ?? allHeads(stack.heads);
  if (isFused(stack)) {
    checkFused(stack);
    checkHeads(heads, stack.heads);
    if (!heads.every(Boolean)) {
      throw new Error(
        'rollout over a subset of heads needs the full attention stack: this attention was reduced to ' +
          'all-heads fusions (FusedLayers); omit `heads` or pass allHeads(heads)',
      );
    }
    checkFusion(opts.fusion ?? 'mean');
  } else {
    checkStack(stack);
    checkHeads(heads, stack.heads);
  }
  const ratio = opts.discardRatio ?? 0;
  if (!(ratio >= 0 && ratio < 1)) {
    throw new Error(`discardRatio ${ratio} is out of range: use a fraction in [0, 1), e.g. 0.9`);
  }
  const start = resolveLayer(opts.startLayer ?? 0, stack.layers, 'startLayer');
  const end = resolveLayer(opts.endLayer ?? -1, stack.layers, 'endLayer');
  if (start > end) {
    throw new Error(`startLayer (${start}) is after endLayer (${end}): the range is inclusive, start ≤ end`);
  }
  return { fusion: opts.fusion ?? 'mean', heads, ratio, start, end };
}

/**
 * Zeros the k = floor(ratio · n) smallest entries of `a` (n = a.length) in place, sparing index 0.
 * Ties at the threshold are taken in index order so the result is deterministic.
 */
function discardLowest(a: Float64Array, ratio: number, scratch: Float64Array): void {
  const k = Math.floor(ratio * a.length);
  if (k <= 0) return;
  scratch.set(a);
  scratch.sort();
  const threshold = scratch[k - 1] as number;
  let below = 0;
  for (let i = 0; i < a.length; i++) if ((a[i] as number) < threshold) below++;
  let ties = k - below; // how many entries equal to the threshold are among the k smallest
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (v < threshold) {
      if (i !== 0) a[i] = 0;
    } else if (v === threshold && ties > 0) {
      ties--;
      if (i !== 0) a[i] = 0;
    }
  }
}

/** Step 1: layer `l` with the heads fused, as a new float64 `(seq, seq)` matrix (modified by the caller). */
function fusedLayer(stack: RolloutSource, l: number, r: Resolved): Float64Array {
  if (!isFused(stack)) return fuseHeads64(stack, l, r.heads, r.fusion);
  const n2 = stack.seq * stack.seq;
  const a = new Float64Array(n2);
  a.set(stack[r.fusion].subarray(l * n2, (l + 1) * n2)); // float32 → float64 is exact
  return a;
}

/**
 * A'_l for each layer in the range, first to last: fused, discarded, + I, rows normalised.
 * Each entry is a float64 `(seq, seq)` matrix.
 */
function* residualLayers(stack: RolloutSource, r: Resolved): Generator<Float64Array> {
  const n = stack.seq;
  const scratch = r.ratio > 0 ? new Float64Array(n * n) : new Float64Array(0);
  for (let l = r.start; l <= r.end; l++) {
    const a = fusedLayer(stack, l, r);
    discardLowest(a, r.ratio, scratch);
    for (let q = 0; q < n; q++) {
      const row = q * n;
      let sum = 0;
      for (let k = 0; k < n; k++) {
        const v = 0.5 * (a[row + k] as number) + (k === q ? 0.5 : 0);
        a[row + k] = v;
        sum += v;
      }
      // sum ≥ 0.5 (the identity term), so this never divides by zero.
      for (let k = 0; k < n; k++) a[row + k] = (a[row + k] as number) / sum;
    }
    yield a;
  }
}

/**
 * Full attention rollout.
 *
 * @param stack attention probabilities `(layers, heads, seq, seq)` (vision or text), or their
 *              all-heads fusions per layer
 * @returns     R as `(seq, seq)` row-major float32; every row sums to 1
 */
export function rolloutMatrix(stack: RolloutSource, opts: RolloutOptions = {}): Float32Array {
  const r = resolve(stack, opts);
  const n = stack.seq;
  let R = new Float64Array(n * n);
  for (let i = 0; i < n; i++) R[i * n + i] = 1;
  let next = new Float64Array(n * n);
  for (const a of residualLayers(stack, r)) {
    matmulInto(a, R, next, n);
    [R, next] = [next, R];
  }
  return Float32Array.from(R);
}

/**
 * out = a · b for n×n row-major matrices, in i-k-j order so the inner loop walks `b` and `out`
 * along rows (cache-friendly), skipping zero entries of `a` (masked or discarded attention).
 */
function matmulInto(a: Float64Array, b: Float64Array, out: Float64Array, n: number): void {
  out.fill(0);
  for (let i = 0; i < n; i++) {
    const oi = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[oi + k] as number;
      if (aik === 0) continue;
      const bk = k * n;
      for (let j = 0; j < n; j++) out[oi + j] = (out[oi + j] as number) + aik * (b[bk + j] as number);
    }
  }
}

/**
 * One row of the rollout, `R[queryToken, :]`, without forming R: the row vector is pushed
 * through the layers from the last down (v ← v · A'_l), O(layers · seq²) instead of
 * O(layers · seq³) — what a hover or a 24-layer ViT-L/14 needs to stay interactive.
 *
 * @param queryToken token index (vision: 0 = CLS; text: `seq - 1` = end-of-text)
 * @returns          `(seq,)` float32, equal to row `queryToken` of `rolloutMatrix(stack, opts)`; sums to 1
 */
export function rolloutRow(stack: RolloutSource, queryToken: number, opts: RolloutOptions = {}): Float32Array {
  const r = resolve(stack, opts);
  checkToken(queryToken, stack.seq);
  const n = stack.seq;
  const layers = [...residualLayers(stack, r)];
  let v = new Float64Array(n);
  v[queryToken] = 1;
  let next = new Float64Array(n);
  for (let l = layers.length - 1; l >= 0; l--) {
    const a = layers[l] as Float64Array;
    next.fill(0);
    for (let k = 0; k < n; k++) {
      const vk = v[k] as number;
      if (vk === 0) continue;
      const rk = k * n;
      for (let j = 0; j < n; j++) next[j] = (next[j] as number) + vk * (a[rk + j] as number);
    }
    [v, next] = [next, v];
  }
  return Float32Array.from(v);
}

/**
 * The rollout image map: row of `queryToken` (default CLS) over the patch tokens, CLS excluded.
 *
 * @param stack vision attention `(layers, heads, 1 + gw·gh, 1 + gw·gh)`, or its all-heads
 *              fusions per layer (an image's `ReducedAttention.fused`)
 * @param grid  the patch grid
 * @param queryToken 0 for CLS (the usual rollout map) or `patchToken(i)` for patch i
 * @returns     `grid.width × grid.height` PatchMap
 */
export function rolloutMap(stack: RolloutSource, grid: Grid, opts: RolloutOptions = {}, queryToken = 0): PatchMap {
  if (isFused(stack)) checkFused(stack);
  else checkStack(stack);
  checkGrid(stack, grid);
  const row = rolloutRow(stack, queryToken, opts);
  return { width: grid.width, height: grid.height, values: row.slice(1) };
}

/** The CLS row of a full rollout matrix `R` (seq, seq) as a PatchMap (CLS column excluded). */
export function clsRowOf(R: Float32Array, grid: Grid): PatchMap {
  const seq = 1 + grid.width * grid.height;
  if (R.length !== seq * seq) {
    throw new Error(
      `rollout matrix has ${R.length} values but a ${grid.width}×${grid.height} grid needs ` +
        `(1 + ${grid.width * grid.height})² = ${seq * seq}`,
    );
  }
  return { width: grid.width, height: grid.height, values: R.slice(1, seq) };
}
