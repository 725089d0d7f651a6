import { describe, expect, it } from 'vitest';
import { allHeads, clsRow, fuseHeads, patchToken, queryRow, soloHead, textRow } from './attention';
import { identityStack, randomStack } from '../testing/attention';
import type { AttentionStack, Fusion } from './types';

const grid = { width: 3, height: 2 };
const seq = 1 + grid.width * grid.height;
const stack = randomStack(3, 4, seq, 7);

/** Entry (l, h, q, k) of a stack. */
function at(s: AttentionStack, l: number, h: number, q: number, k: number): number {
  return s.data[((l * s.heads + h) * s.seq + q) * s.seq + k] as number;
}

function rowSums(m: Float32Array, n: number): number[] {
  return Array.from({ length: n }, (_, q) => m.subarray(q * n, (q + 1) * n).reduce((a, b) => a + b, 0));
}

describe('fuseHeads', () => {
  it('mean of softmax rows still sums to 1', () => {
    for (const layer of [0, 1, 2]) {
      for (const s of rowSums(fuseHeads(stack, layer, allHeads(4), 'mean'), seq)) expect(s).toBeCloseTo(1, 6);
    }
  });

  it('max ≥ mean ≥ min element-wise', () => {
    const heads = allHeads(4);
    const max = fuseHeads(stack, 1, heads, 'max');
    const mean = fuseHeads(stack, 1, heads, 'mean');
    const min = fuseHeads(stack, 1, heads, 'min');
    for (let i = 0; i < mean.length; i++) {
      expect(max[i]).toBeGreaterThanOrEqual(mean[i] as number);
      expect(mean[i]).toBeGreaterThanOrEqual(min[i] as number);
    }
    // Not all equal: the test would pass trivially on identical heads.
    expect(max.some((v, i) => v > (min[i] as number) + 1e-3)).toBe(true);
  });

  it('fuses only the selected heads', () => {
    const heads = [true, false, true, false];
    const fused = fuseHeads(stack, 2, heads, 'mean');
    for (let q = 0; q < seq; q++) {
      for (let k = 0; k < seq; k++) {
        expect(fused[q * seq + k]).toBeCloseTo((at(stack, 2, 0, q, k) + at(stack, 2, 2, q, k)) / 2, 6);
      }
    }
  });

  it('one head alone is that head, whatever the fusion', () => {
    for (const fusion of ['mean', 'max', 'min'] as Fusion[]) {
      const fused = fuseHeads(stack, 0, soloHead(4, 3), fusion);
      expect(fused[2 * seq + 5]).toBe(at(stack, 0, 3, 2, 5));
    }
  });

  it('counts negative layers from the end and leaves the input untouched', () => {
    const before = stack.data.slice();
    expect(fuseHeads(stack, -1, allHeads(4), 'max')).toEqual(fuseHeads(stack, 2, allHeads(4), 'max'));
    expect(stack.data).toEqual(before);
  });
});

describe('clsRow / queryRow', () => {
  it('is the CLS row over the patch keys, CLS column excluded', () => {
    const map = clsRow(stack, 1, soloHead(4, 2), 'mean', grid);
    expect(map.width).toBe(3);
    expect(map.height).toBe(2);
    expect(map.values.length).toBe(6);
    for (let p = 0; p < 6; p++) expect(map.values[p]).toBe(at(stack, 1, 2, 0, p + 1));
  });

  it('is zero everywhere when CLS only attends to itself', () => {
    const map = clsRow(identityStack(2, 2, seq), 0, allHeads(2), 'mean', grid);
    expect(Array.from(map.values)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("shows a patch's own row for the click-a-patch view", () => {
    const map = queryRow(stack, 0, soloHead(4, 1), 'max', patchToken(4), grid);
    for (let p = 0; p < 6; p++) expect(map.values[p]).toBe(at(stack, 0, 1, 5, p + 1));
    expect(queryRow(stack, 0, allHeads(4), 'mean', 0, grid)).toEqual(clsRow(stack, 0, allHeads(4), 'mean', grid));
  });
});

describe('textRow', () => {
  it('is the end-of-text row over all tokens, start and end included', () => {
    const text = randomStack(2, 2, 5, 3, { causal: true });
    const row = textRow(text, -1, allHeads(2), 'mean');
    expect(row.length).toBe(5);
    expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    for (let k = 0; k < 5; k++) expect(row[k]).toBeCloseTo((at(text, 1, 0, 4, k) + at(text, 1, 1, 4, k)) / 2, 7);
  });
});

describe('input checks', () => {
  it('rejects data of the wrong size, saying the expected layout', () => {
    const bad = { ...stack, data: new Float32Array(10) };
    expect(() => fuseHeads(bad, 0, allHeads(4), 'mean')).toThrow(/layers×heads×seq×seq = 3×4×7×7 = 588/);
    expect(() => fuseHeads({ ...stack, heads: 0 }, 0, [], 'mean')).toThrow(/positive integers/);
  });

  it('rejects a grid that does not match seq', () => {
    expect(() => clsRow(stack, 0, allHeads(4), 'mean', { width: 2, height: 2 })).toThrow(/needs 1 \+ 4 = 5/);
  });

  it('rejects bad head selections, layers, tokens and fusions', () => {
    expect(() => fuseHeads(stack, 0, allHeads(3), 'mean')).toThrow(/one boolean per head/);
    expect(() => fuseHeads(stack, 0, [false, false, false, false], 'mean')).toThrow(/at least one head/);
    expect(() => fuseHeads(stack, 3, allHeads(4), 'mean')).toThrow(/use 0\.\.2, or -3\.\.-1/);
    expect(() => fuseHeads(stack, -4, allHeads(4), 'mean')).toThrow(/out of range/);
    expect(() => queryRow(stack, 0, allHeads(4), 'mean', seq, grid)).toThrow(/use 0\.\.6/);
    expect(() => fuseHeads(stack, 0, allHeads(4), 'median' as Fusion)).toThrow(/'mean', 'max' or 'min'/);
    expect(() => soloHead(4, 4)).toThrow(/0\.\.3/);
  });
});
