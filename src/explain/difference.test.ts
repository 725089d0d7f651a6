import { describe, expect, it } from 'vitest';
import { differenceMap } from './difference';
import type { PatchMap } from './types';

const map = (width: number, height: number, values: number[]): PatchMap => ({ width, height, values: Float32Array.from(values) });

describe('differenceMap', () => {
  it('A − A is all zeros', () => {
    const a = map(3, 2, [0.1, 0.7, 0.2, 1e-8, 3, 0.30000001]);
    const d = differenceMap(a, a);
    expect(d.width).toBe(3);
    expect(d.height).toBe(2);
    for (const v of d.values) expect(Object.is(v, 0)).toBe(true);
  });

  it('is positive where A is larger and negative where B is', () => {
    const a = map(2, 2, [0.9, 0.1, 0.5, 0.2]);
    const b = map(2, 2, [0.1, 0.8, 0.5, 0.2]);
    const d = Array.from(differenceMap(a, b).values);
    expect(d[0]).toBeCloseTo(0.8, 6);
    expect(d[1]).toBeCloseTo(-0.7, 6);
    expect(d[2]).toBe(0);
    expect(d[3]).toBe(0);
  });

  it('swapping A and B flips the sign exactly, so the peak becomes the trough', () => {
    const values = (seed: number) => Array.from({ length: 49 }, (_, i) => Math.sin(seed * (i + 1)) * 0.5 + 0.5);
    const a = map(7, 7, values(3));
    const b = map(7, 7, values(5));
    const ab = differenceMap(a, b).values;
    const ba = differenceMap(b, a).values;
    for (let i = 0; i < ab.length; i++) expect(ab[i]).toBe(-(ba[i] as number));
    const argmax = (v: Float32Array) => v.indexOf(Math.max(...v));
    const argmin = (v: Float32Array) => v.indexOf(Math.min(...v));
    expect(argmax(ab)).toBe(argmin(ba));
  });

  it('does not modify its inputs', () => {
    const a = map(2, 1, [1, 2]);
    const b = map(2, 1, [3, 5]);
    differenceMap(a, b);
    expect(Array.from(a.values)).toEqual([1, 2]);
    expect(Array.from(b.values)).toEqual([3, 5]);
  });

  it('throws on a grid mismatch, saying what to fix', () => {
    expect(() => differenceMap(map(2, 3, [1, 2, 3, 4, 5, 6]), map(3, 2, [1, 2, 3, 4, 5, 6]))).toThrow(/different patch grids.*2×3.*3×2/);
    expect(() => differenceMap(map(7, 7, new Array<number>(49).fill(0)), map(8, 8, new Array<number>(64).fill(0)))).toThrow(/same image with the same model/);
  });

  it('throws when a map does not fill its grid', () => {
    expect(() => differenceMap(map(2, 2, [1, 2, 3]), map(2, 2, [1, 2, 3, 4]))).toThrow(/prompt A's map has 3 values for a 2×2 grid/);
  });
});
