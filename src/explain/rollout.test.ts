import { describe, expect, it } from 'vitest';
import { golden, imagesWithAttentions, maxAbsDiff, tensor } from '../testing/golden';
import { allHeads, fuseHeads } from './attention';
import { identityStack, randomStack, stackFromLayers } from '../testing/attention';
import { clsRowOf, rolloutMap, rolloutMatrix, rolloutRow } from './rollout';
import type { AttentionStack, Fusion } from './types';

const FUSIONS: Fusion[] = ['mean', 'max', 'min'];

function identity(n: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

function rowSums(m: ArrayLike<number>, n: number): number[] {
  const sums = new Array<number>(n).fill(0);
  for (let i = 0; i < n * n; i++) sums[Math.floor(i / n)] = (sums[Math.floor(i / n)] as number) + (m[i] as number);
  return sums;
}

/** Plain reference, written independently of rollout.ts: arrays of rows, float64. */
function reference(stack: AttentionStack, fusion: Fusion, ratio: number, start: number, end: number): number[][] {
  const n = stack.seq;
  let R: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let l = start; l <= end; l++) {
    const a = Array.from(fuseHeads(stack, l, allHeads(stack.heads), fusion));
    const k = Math.floor(ratio * n * n);
    const order = a.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    for (const [, i] of order.slice(0, k)) if (i !== 0) a[i] = 0;
    const A = Array.from({ length: n }, (_, i) => {
      const row = Array.from({ length: n }, (_, j) => 0.5 * (a[i * n + j] as number) + (i === j ? 0.5 : 0));
      const s = row.reduce((x, y) => x + y, 0);
      return row.map((v) => v / s);
    });
    R = A.map((row) => Array.from({ length: n }, (_, j) => row.reduce((s, v, m) => s + v * (R[m]?.[j] as number), 0)));
  }
  return R;
}

describe('rolloutMatrix', () => {
  it('of identity attention is the identity', () => {
    for (const fusion of FUSIONS) {
      expect(rolloutMatrix(identityStack(4, 3, 10), { fusion })).toEqual(identity(10));
    }
  });

  it('has rows that sum to 1, for every fusion, with and without discard', () => {
    const stack = randomStack(4, 3, 17, 11);
    for (const fusion of FUSIONS) {
      for (const discardRatio of [0, 0.5, 0.9]) {
        for (const s of rowSums(rolloutMatrix(stack, { fusion, discardRatio }), 17)) expect(s).toBeCloseTo(1, 5);
      }
    }
  });

  it('matches an independent plain implementation (row normalisation, layer order, discard)', () => {
    const stack = randomStack(4, 3, 10, 5);
    for (const fusion of FUSIONS) {
      for (const [ratio, start, end] of [[0, 0, 3], [0.3, 0, 3], [0.9, 1, 2], [0, 2, 2]] as const) {
        const got = rolloutMatrix(stack, { fusion, discardRatio: ratio, startLayer: start, endLayer: end });
        expect(maxAbsDiff(got, reference(stack, fusion, ratio, start, end).flat())).toBeLessThan(1e-6);
      }
    }
  });

  it('keeps the CLS→CLS entry when discarding (vit-explain convention)', () => {
    // One layer, one head; CLS→CLS is the smallest entry of the map.
    const data = new Float32Array([0.01, 0.5, 0.49, 0.2, 0.3, 0.5, 0.3, 0.3, 0.4]);
    const stack = { layers: 1, heads: 1, seq: 3, data };
    const R = rolloutMatrix(stack, { discardRatio: 0.25 }); // k = floor(2.25) = 2: entries 0 (kept) and 3 (0.2)
    // Row 0 unchanged: 0.5·[0.01, 0.5, 0.49] + 0.5·e0, sum 1.
    expect(R[0]).toBeCloseTo(0.505, 6);
    // Row 1: entry (1,0)=0.2 dropped → [0, 0.15 + 0.5, 0.25], renormalised by 0.9.
    expect(R[3]).toBe(0);
    expect(R[4]).toBeCloseTo(0.65 / 0.9, 6);
  });

  it('is lower-triangular for causal text attention', () => {
    const text = randomStack(3, 2, 6, 9, { causal: true });
    const R = rolloutMatrix(text);
    for (let q = 0; q < 6; q++) for (let k = q + 1; k < 6; k++) expect(R[q * 6 + k]).toBe(0);
  });

  it('equals the PyTorch golden reference (all layers, no discard) within 1e-4', () => {
    const g = golden();
    const images = imagesWithAttentions();
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const image of images) {
      const [first] = image.attentions;
      if (!first) throw new Error('golden image without attentions');
      const [heads, seq] = first.shape as [number, number, number];
      const stack = stackFromLayers(image.attentions.map(tensor), heads, seq);
      expect(seq).toBe(1 + g.patch_grid * g.patch_grid);
      for (const fusion of FUSIONS) {
        expect(maxAbsDiff(rolloutMatrix(stack, { fusion }), tensor(image.rollout[fusion]))).toBeLessThan(1e-4);
      }
    }
  });

  it('rejects bad ranges and ratios with a fix', () => {
    const stack = randomStack(3, 1, 4, 1);
    expect(() => rolloutMatrix(stack, { startLayer: 2, endLayer: 1 })).toThrow(/start ≤ end/);
    expect(() => rolloutMatrix(stack, { endLayer: 3 })).toThrow(/endLayer 3 is out of range/);
    expect(() => rolloutMatrix(stack, { discardRatio: 1 })).toThrow(/\[0, 1\)/);
    expect(() => rolloutMatrix(stack, { heads: [true, true] })).toThrow(/1 heads/);
  });
});

describe('rolloutRow / rolloutMap', () => {
  it('equals the row of the full matrix', () => {
    const stack = randomStack(5, 2, 13, 3);
    for (const opts of [{}, { fusion: 'max' as const, discardRatio: 0.5 }, { startLayer: 1, endLayer: -2 }]) {
      const R = rolloutMatrix(stack, opts);
      for (const q of [0, 4, 12]) {
        expect(maxAbsDiff(rolloutRow(stack, q, opts), R.subarray(q * 13, (q + 1) * 13))).toBeLessThan(1e-6);
      }
    }
  });

  it('gives the CLS row without the CLS column as a PatchMap', () => {
    const grid = { width: 4, height: 3 };
    const stack = randomStack(3, 2, 13, 4);
    const map = rolloutMap(stack, grid);
    expect(map.width).toBe(4);
    expect(map.height).toBe(3);
    expect(maxAbsDiff(map.values, clsRowOf(rolloutMatrix(stack), grid).values)).toBeLessThan(1e-6);
    expect(maxAbsDiff(rolloutMap(stack, grid, {}, 5).values, rolloutMatrix(stack).subarray(5 * 13 + 1, 6 * 13))).toBeLessThan(1e-6);
    expect(() => rolloutMap(stack, { width: 3, height: 3 })).toThrow(/seq=13/);
  });
});
