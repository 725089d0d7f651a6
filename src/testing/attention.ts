/**
 * Synthetic attention stacks for tests of explanation methods (deterministic, no model needed).
 */
import type { AttentionStack } from '../explain/types';
import { seededRandom } from './scenes';

export { seededRandom };

/**
 * Random softmax attention `(layers, heads, seq, seq)`: each row is softmax of N(0, `spread`²)-ish
 * logits; with `causal`, keys after the query are masked out as in CLIP's text encoder.
 */
export function randomStack(
  layers: number,
  heads: number,
  seq: number,
  seed = 1,
  { causal = false, spread = 2 }: { causal?: boolean; spread?: number } = {},
): AttentionStack {
  const rand = seededRandom(seed);
  const data = new Float32Array(layers * heads * seq * seq);
  const row = new Float64Array(seq);
  for (let r = 0; r < layers * heads * seq; r++) {
    const q = r % seq;
    let sum = 0;
    for (let k = 0; k < seq; k++) {
      const v = causal && k > q ? 0 : Math.exp(spread * (rand() + rand() + rand() - 1.5));
      row[k] = v;
      sum += v;
    }
    for (let k = 0; k < seq; k++) data[r * seq + k] = (row[k] as number) / sum;
  }
  return { layers, heads, seq, data };
}

/** Every head of every layer attends only to itself: A = I. */
export function identityStack(layers: number, heads: number, seq: number): AttentionStack {
  const data = new Float32Array(layers * heads * seq * seq);
  for (let m = 0; m < layers * heads; m++) for (let q = 0; q < seq; q++) data[(m * seq + q) * seq + q] = 1;
  return { layers, heads, seq, data };
}

/** Concatenates per-layer `(heads, seq, seq)` arrays (e.g. golden references) into one stack. */
export function stackFromLayers(perLayer: readonly Float32Array[], heads: number, seq: number): AttentionStack {
  const size = heads * seq * seq;
  const data = new Float32Array(perLayer.length * size);
  perLayer.forEach((layer, l) => {
    if (layer.length !== size) throw new Error(`layer ${l} has ${layer.length} values, expected heads×seq×seq = ${size}`);
    data.set(layer, l * size);
  });
  return { layers: perLayer.length, heads, seq, data };
}
