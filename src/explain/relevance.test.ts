/**
 * Invariants of gradient relevance on synthetic stacks. The comparison with the PyTorch goldens,
 * with gradients from the interpreted bundled model, is in src/worker/grad/gradients.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { randomStack, seededRandom } from '../testing/attention';
import type { GradientStack } from './method';
import { getMethod } from './registry';
import { gradCam, headImportance, imageRelevance, relevanceRow, textRelevance, textRelevanceTokens } from './relevance';
import type { AttentionStack } from './types';

const grid = { width: 3, height: 3 };
const vision = randomStack(4, 2, 10, 31);
const text = randomStack(3, 2, 6, 32, { causal: true });

/** Signed gradient-like values, same layout as `like`. */
function randomGrad(like: AttentionStack, seed: number): GradientStack {
  const r = seededRandom(seed);
  return { ...like, data: Float32Array.from(like.data, () => (r() - 0.5) * 4) };
}

const zeroGrad = (like: AttentionStack): GradientStack => ({ ...like, data: new Float32Array(like.data.length) });

/** The reference computation, whole matrices in float64: R = I; R ← R + cam_l · R. */
function relevanceMatrix(attn: AttentionStack, grad: GradientStack, start: number): Float64Array {
  const n = attn.seq;
  let R = new Float64Array(n * n);
  for (let i = 0; i < n; i++) R[i * n + i] = 1;
  for (let l = start; l < attn.layers; l++) {
    const cam = gradCam(attn, grad, l);
    const next = Float64Array.from(R);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += (cam[i * n + k] as number) * (R[k * n + j] as number);
        next[i * n + j] = (next[i * n + j] as number) + s;
      }
    }
    R = next;
  }
  return R;
}

describe('gradient relevance (Chefer et al. 2021)', () => {
  const grad = randomGrad(vision, 5);

  it('without gradient, R = I: the maps are all zero', () => {
    const row = relevanceRow(vision, zeroGrad(vision), 0, 0);
    expect(Array.from(row)).toEqual([1, ...new Array<number>(9).fill(0)]);
    expect(imageRelevance(vision, zeroGrad(vision), grid, 0).values.every((v) => v === 0)).toBe(true);
    expect(textRelevance(text, zeroGrad(text), 0).every((v) => v === 0)).toBe(true);
    expect(headImportance(vision, zeroGrad(vision)).every((v) => v === 0)).toBe(true);
  });

  it('maps are non-negative whatever the gradient signs', () => {
    for (const start of [0, 1, -1]) {
      expect(imageRelevance(vision, grad, grid, start).values.every((v) => v >= 0)).toBe(true);
      expect(textRelevance(text, randomGrad(text, 6), start).every((v) => v >= 0)).toBe(true);
    }
  });

  it('a negative gradient everywhere contributes nothing (clamp before the head mean)', () => {
    const negative = { ...vision, data: new Float32Array(vision.data.length).fill(-1) };
    expect(imageRelevance(vision, negative, grid, 0).values.every((v) => v === 0)).toBe(true);
  });

  it('the row equals the full matrix product, for every start layer and query token', () => {
    for (const start of [0, 1, 3]) {
      const R = relevanceMatrix(vision, grad, start);
      for (const token of [0, 4, 9]) {
        const row = relevanceRow(vision, grad, start, token);
        const expected = R.subarray(token * 10, token * 10 + 10);
        row.forEach((v, k) => expect(v).toBeCloseTo(expected[k] as number, 12));
      }
    }
  });

  it('last layer only (start -1): the map is the last cam row, CLS dropped', () => {
    const cam = gradCam(vision, grad, -1);
    const map = imageRelevance(vision, grad, grid, -1);
    expect(map.width).toBe(3);
    expect(map.height).toBe(3);
    map.values.forEach((v, p) => expect(v).toBeCloseTo(cam[p + 1] as number, 6));
    // Layers below the start are not read: changing their gradients changes nothing.
    const other = { ...grad, data: grad.data.slice() };
    other.data.fill(7, 0, 3 * 2 * 100);
    expect(imageRelevance(vision, other, grid, -1)).toEqual(map);
  });

  it('text: R[EOT, 1:EOT], and over all tokens with zeros at start and end-of-text', () => {
    const g = randomGrad(text, 8);
    const row = relevanceRow(text, g, 0, 5);
    const words = textRelevance(text, g, 0);
    expect(words.length).toBe(4);
    words.forEach((v, i) => expect(v).toBeCloseTo(row[i + 1] as number, 6));
    const tokens = textRelevanceTokens(text, g, 0);
    expect(Array.from(tokens)).toEqual([0, ...Array.from(words), 0]);
  });

  it('head importance sums |grad ⊙ A| per (layer, head)', () => {
    const h = headImportance(vision, grad);
    expect(h.length).toBe(4 * 2);
    let s = 0;
    for (let i = 0; i < 100; i++) s += Math.abs((grad.data[300 + i] as number) * (vision.data[300 + i] as number));
    expect(h[3]).toBeCloseTo(s, 4); // layer 1, head 1
  });

  it('rejects inconsistent inputs, saying what to pass', () => {
    expect(() => imageRelevance(vision, randomGrad(text, 1), grid)).toThrow(/same input and encoder/);
    expect(() => imageRelevance(vision, grad, grid, 4)).toThrow(/start layer 4 is out of range .* 4 layers/);
    expect(() => imageRelevance(vision, grad, { width: 4, height: 4 })).toThrow(/patch grid/);
    expect(() => relevanceRow(vision, grad, 0, 10)).toThrow(/relevance query token 10/);
  });

  it('is registered as "relevance": needs gradients, returns null without them', () => {
    const m = getMethod('relevance');
    expect(m.needs).toContain('gradients');
    expect(m.supportsQuery).toBe(false);
    expect(m.compute({ grid, vision })).toBeNull();
    expect(m.tokens?.compute({ grid, text })).toBeNull();
    const gradients = { vision: grad, text: randomGrad(text, 9) };
    expect(m.compute({ grid, vision, gradients })).toEqual(imageRelevance(vision, grad, grid, -1));
    expect(m.compute({ grid, vision, gradients }, { startLayer: 0 })).toEqual(imageRelevance(vision, grad, grid, 0));
    expect(m.tokens?.compute({ grid, text, gradients }, { textStartLayer: 0 })).toEqual(textRelevanceTokens(text, gradients.text, 0));
  });
});
