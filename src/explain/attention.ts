/**
 * Raw attention: one layer's attention probabilities, heads fused, read as a map.
 *
 * Follows the usual "CLS attention" view of ViTs (Dosovitskiy et al. 2021, fig. 6; Caron et al.
 * 2021, DINO) and bertviz's per-layer/per-head view: the row of the CLS query over the patch keys,
 * CLS column excluded; for text, the row of the end-of-text token, which CLIP pools as the
 * sentence embedding (Radford et al. 2021).
 *
 * All functions are pure, validate their inputs and never modify `stack.data`.
 */
import type { AttentionStack, Fusion, Grid, HeadSelection, PatchMap, TokenRows } from './types';
import { checkFusion, checkGrid, checkHeads, checkStack, checkToken, checkTokenRows, resolveLayer } from './validate';

/** All `count` heads on. */
export function allHeads(count: number): HeadSelection {
  return new Array<boolean>(count).fill(true);
}

/** Only head `head` of `count` on (the "solo" view). */
export function soloHead(count: number, head: number): HeadSelection {
  if (!Number.isInteger(head) || head < 0 || head >= count) {
    throw new Error(`head ${head} is out of range: use 0..${count - 1}`);
  }
  return allHeads(count).map((_, h) => h === head);
}

/** Token index of patch `index` (row-major over the grid) in a vision stack: CLS is token 0. */
export function patchToken(index: number): number {
  return index + 1;
}

/**
 * Fuses `n` consecutive values of the selected heads element-wise into `out` (float64): head h's
 * values start at `data[base + h * stride]`. The one fusion loop of explain/, so every view of
 * the same numbers (full stack, token rows, reduction) gives bit-identical results. Inputs must
 * already be validated. Mean sums in float64 in head order, so a fused softmax row still sums
 * to 1 to ~1e-7.
 * @internal
 */
export function fuseSlices(
  data: Float32Array,
  headCount: number,
  heads: HeadSelection,
  fusion: Fusion,
  base: number,
  stride: number,
  n: number,
  out: Float64Array,
): Float64Array {
  let first = true;
  let count = 0;
  for (let h = 0; h < headCount; h++) {
    if (!heads[h]) continue;
    count++;
    const b = base + h * stride;
    if (first) {
      for (let i = 0; i < n; i++) out[i] = data[b + i] as number;
      first = false;
    } else if (fusion === 'mean') {
      for (let i = 0; i < n; i++) out[i] = (out[i] as number) + (data[b + i] as number);
    } else if (fusion === 'max') {
      for (let i = 0; i < n; i++) {
        const v = data[b + i] as number;
        if (v > (out[i] as number)) out[i] = v;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = data[b + i] as number;
        if (v < (out[i] as number)) out[i] = v;
      }
    }
  }
  if (fusion === 'mean' && count > 1) for (let i = 0; i < n; i++) out[i] = (out[i] as number) / count;
  return out;
}

/**
 * Fuses rows `[q0, q1)` of layer `layer` over the selected heads into `out` (float64,
 * `(q1 - q0) × seq`). Inputs must already be validated.
 */
function fuseRows(
  stack: AttentionStack,
  layer: number,
  heads: HeadSelection,
  fusion: Fusion,
  q0: number,
  q1: number,
  out: Float64Array,
): Float64Array {
  const { seq } = stack;
  const base = (layer * stack.heads * seq + q0) * seq;
  return fuseSlices(stack.data, stack.heads, heads, fusion, base, seq * seq, (q1 - q0) * seq, out);
}

/** Validates the common arguments and returns the layer index in `[0, layers)`. */
function checkCommon(stack: AttentionStack, layer: number, heads: HeadSelection, fusion: Fusion): number {
  checkStack(stack);
  checkHeads(heads, stack.heads);
  checkFusion(fusion);
  return resolveLayer(layer, stack.layers);
}

/**
 * Float64 version of `fuseHeads` for callers that keep computing (rollout).
 * @internal
 */
export function fuseHeads64(
  stack: AttentionStack,
  layer: number,
  heads: HeadSelection,
  fusion: Fusion,
  out: Float64Array = new Float64Array(stack.seq * stack.seq),
): Float64Array {
  const l = checkCommon(stack, layer, heads, fusion);
  return fuseRows(stack, l, heads, fusion, 0, stack.seq, out);
}

/**
 * One layer's attention with the selected heads fused element-wise.
 *
 * @param stack  attention probabilities `(layers, heads, seq, seq)`
 * @param layer  layer index; negative counts from the end (-1 = last)
 * @param heads  one boolean per head, at least one on
 * @param fusion `mean` keeps rows summing to 1; `max`/`min` do not (rows sum to ≥1 / ≤1)
 * @returns      `(seq, seq)` row-major, entry `[q * seq + k]` = fused attention of query q to key k
 */
export function fuseHeads(stack: AttentionStack, layer: number, heads: HeadSelection, fusion: Fusion): Float32Array {
  return Float32Array.from(fuseHeads64(stack, layer, heads, fusion));
}

/** The fused row of query `token` (float64, length seq), arguments already validated. */
function fusedRow(stack: AttentionStack, layer: number, heads: HeadSelection, fusion: Fusion, token: number): Float64Array {
  return fuseRows(stack, layer, heads, fusion, token, token + 1, new Float64Array(stack.seq));
}

/** The patch keys of a vision row (token 1.. → patch 0..), as a PatchMap. */
function patchesOf(row: Float64Array, grid: Grid): PatchMap {
  return { width: grid.width, height: grid.height, values: Float32Array.from(row.subarray(1)) };
}

/**
 * Where query `queryToken` looks in layer `layer`: its fused row over the PATCH keys.
 * The CLS key (column 0) is excluded, so the values sum to 1 − (attention to CLS) for `mean`;
 * they are not renormalised (the renderer normalises for display).
 *
 * @param stack      vision attention `(layers, heads, 1 + gw·gh, 1 + gw·gh)`
 * @param queryToken token index: 0 for CLS, `patchToken(i)` = i + 1 for patch i
 * @param grid       the patch grid (`width × height` patches)
 * @returns          `grid.width × grid.height` PatchMap, row-major
 */
export function queryRow(
  stack: AttentionStack,
  layer: number,
  heads: HeadSelection,
  fusion: Fusion,
  queryToken: number,
  grid: Grid,
): PatchMap {
  const l = checkCommon(stack, layer, heads, fusion);
  checkGrid(stack, grid);
  checkToken(queryToken, stack.seq);
  return patchesOf(fusedRow(stack, l, heads, fusion, queryToken), grid);
}

/**
 * Raw CLS attention: the CLS query's fused row over the patch keys, CLS column excluded.
 * Same as `queryRow(..., 0, grid)`; see there for shapes.
 */
export function clsRow(stack: AttentionStack, layer: number, heads: HeadSelection, fusion: Fusion, grid: Grid): PatchMap {
  return queryRow(stack, layer, heads, fusion, 0, grid);
}

/**
 * The same map as `queryRow(stack, layer, heads, fusion, rows.token, grid)`, bit for bit, from
 * only that token's rows (e.g. the CLS rows an image keeps, or a clicked patch's rows fetched
 * from the worker).
 *
 * @param rows one query token's rows `(layers, heads, 1 + gw·gh)`
 * @returns    `grid.width × grid.height` PatchMap, row-major, CLS key excluded
 */
export function rowMap(rows: TokenRows, layer: number, heads: HeadSelection, fusion: Fusion, grid: Grid): PatchMap {
  checkTokenRows(rows);
  checkHeads(heads, rows.heads);
  checkFusion(fusion);
  const l = resolveLayer(layer, rows.layers);
  checkGrid(rows, grid);
  const { seq } = rows;
  const row = fuseSlices(rows.data, rows.heads, heads, fusion, l * rows.heads * seq, seq, seq, new Float64Array(seq));
  return patchesOf(row, grid);
}

/**
 * Raw text attention: the fused row of the LAST token (end-of-text, the one CLIP pools) over
 * ALL tokens, start and end-of-text included (the UI decides which to show; the start token
 * usually takes most of the mass, as an attention sink).
 *
 * @param stack text attention `(layers, heads, seq, seq)`, seq = prompt's token count, unpadded
 * @returns     `(seq,)`: entry k = fused attention of end-of-text to token k; sums to 1 for `mean`
 */
export function textRow(stack: AttentionStack, layer: number, heads: HeadSelection, fusion: Fusion): Float32Array {
  const l = checkCommon(stack, layer, heads, fusion);
  return Float32Array.from(fusedRow(stack, l, heads, fusion, stack.seq - 1));
}
