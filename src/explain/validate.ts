/**
 * Input checks shared by the explanation methods. Each error names the argument, says what was
 * received and what is expected, so the caller knows what to fix.
 */
import type { AttentionStack, Fusion, FusedLayers, Grid, HeadSelection, TokenRows } from './types';

function isPositiveInt(n: number): boolean {
  return Number.isInteger(n) && n > 0;
}

/** Throws unless `fusion` is one of the known head fusions. */
export function checkFusion(fusion: Fusion): void {
  if (fusion !== 'mean' && fusion !== 'max' && fusion !== 'min') {
    throw new Error(`unknown head fusion "${String(fusion)}": use 'mean', 'max' or 'min'`);
  }
}

/** Throws unless `stack.data` has exactly `layers × heads × seq × seq` float32 values. */
export function checkStack(stack: AttentionStack, what = 'attention stack'): void {
  const { layers, heads, seq, data } = stack;
  if (!isPositiveInt(layers) || !isPositiveInt(heads) || !isPositiveInt(seq)) {
    throw new Error(
      `${what}: layers, heads and seq must be positive integers, got layers=${layers}, heads=${heads}, seq=${seq}`,
    );
  }
  if (!(data instanceof Float32Array)) {
    throw new Error(`${what}: data must be a Float32Array laid out (layers, heads, seq, seq)`);
  }
  const expected = layers * heads * seq * seq;
  if (data.length !== expected) {
    throw new Error(
      `${what}: data has ${data.length} values but layers×heads×seq×seq = ` +
        `${layers}×${heads}×${seq}×${seq} = ${expected}; pass the attentions of ONE input ` +
        `(no batch dimension), all layers concatenated in order`,
    );
  }
}

/** Throws unless `rows.data` has exactly `layers × heads × seq` float32 values and `token` is in range. */
export function checkTokenRows(rows: TokenRows, what = 'attention rows'): void {
  const { layers, heads, seq, token, data } = rows;
  if (!isPositiveInt(layers) || !isPositiveInt(heads) || !isPositiveInt(seq)) {
    throw new Error(
      `${what}: layers, heads and seq must be positive integers, got layers=${layers}, heads=${heads}, seq=${seq}`,
    );
  }
  if (!(data instanceof Float32Array) || data.length !== layers * heads * seq) {
    throw new Error(
      `${what}: data must be a Float32Array of layers×heads×seq = ${layers}×${heads}×${seq} = ` +
        `${layers * heads * seq} values (one query token's rows), got ${data instanceof Float32Array ? data.length : typeof data}`,
    );
  }
  checkToken(token, seq, `${what}: token`);
}

/** Throws unless each fusion of `fused` holds `layers × seq × seq` values of the documented type. */
export function checkFused(fused: FusedLayers, what = 'fused attention'): void {
  const { layers, heads, seq } = fused;
  if (!isPositiveInt(layers) || !isPositiveInt(heads) || !isPositiveInt(seq)) {
    throw new Error(
      `${what}: layers, heads and seq must be positive integers, got layers=${layers}, heads=${heads}, seq=${seq}`,
    );
  }
  const n = layers * seq * seq;
  const ok = fused.mean instanceof Float64Array && fused.mean.length === n &&
    fused.max instanceof Float32Array && fused.max.length === n &&
    fused.min instanceof Float32Array && fused.min.length === n;
  if (!ok) {
    throw new Error(
      `${what}: mean (Float64Array), max and min (Float32Array) must each hold layers×seq×seq = ` +
        `${layers}×${seq}×${seq} = ${n} values; build it with reduceStack or reduceLayers`,
    );
  }
}

/**
 * A layer index in `[-layers, layers)`; negative values count from the end (-1 = last layer,
 * as in the reference notebooks' `start_layer=-1`). Returns the index in `[0, layers)`.
 */
export function resolveLayer(layer: number, layers: number, what = 'layer'): number {
  if (!Number.isInteger(layer) || layer < -layers || layer >= layers) {
    throw new Error(
      `${what} ${layer} is out of range for an encoder with ${layers} layers: ` +
        `use 0..${layers - 1}, or -${layers}..-1 to count from the last layer`,
    );
  }
  return layer < 0 ? layer + layers : layer;
}

/** Throws unless `heads` has one boolean per head and at least one is on. */
export function checkHeads(heads: HeadSelection, count: number): void {
  if (heads.length !== count) {
    throw new Error(
      `head selection has ${heads.length} entries but the encoder has ${count} heads: ` +
        `pass one boolean per head (allHeads(${count}) selects all)`,
    );
  }
  if (!heads.some(Boolean)) throw new Error('head selection is empty: turn on at least one head');
}

/** Throws unless the stack is a vision stack for this grid: `seq = 1 + width × height`. */
export function checkGrid(stack: { readonly seq: number }, grid: Grid): void {
  if (!isPositiveInt(grid.width) || !isPositiveInt(grid.height)) {
    throw new Error(`patch grid must be positive integers, got ${grid.width}×${grid.height}`);
  }
  const patches = grid.width * grid.height;
  if (stack.seq !== 1 + patches) {
    throw new Error(
      `vision attention has seq=${stack.seq} tokens but a ${grid.width}×${grid.height} patch grid ` +
        `needs 1 + ${patches} = ${1 + patches} (CLS + patches): is this the text encoder's ` +
        `attention, or the grid of another model?`,
    );
  }
}

/** Throws unless `token` is a token index in `[0, seq)`. */
export function checkToken(token: number, seq: number, what = 'query token'): void {
  if (!Number.isInteger(token) || token < 0 || token >= seq) {
    throw new Error(
      `${what} ${token} is out of range for seq=${seq}: use 0..${seq - 1} ` +
        `(vision: 0 is CLS and patch i is token i + 1; text: the end-of-text token is last)`,
    );
  }
}
