import { describe, expect, it } from 'vitest';
import { isDegenerate, normalize, rangeOf, RANGE_MODES, sharedRangeOf, SIGNED_UNIT_RANGE } from './normalize';

describe('rangeOf / normalize', () => {
  it('min–max maps the ends to 0 and 1', () => {
    const values = new Float32Array([2, 4, 3, 6]);
    const range = rangeOf(values, 'minmax');
    expect(range).toEqual({ min: 2, max: 6, signed: false });
    expect(Array.from(normalize(values, range))).toEqual([0, 0.5, 0.25, 1]);
  });

  it('turns a constant or empty map into zeros, never NaN', () => {
    for (const mode of RANGE_MODES) {
      for (const values of [new Float32Array([0, 0]), new Float32Array(0)]) {
        const range = rangeOf(values, mode);
        expect(isDegenerate(range)).toBe(true);
        for (const v of normalize(values, range)) expect(v).toBe(0);
      }
    }
    for (const mode of ['minmax', 'percentile'] as const) {
      const values = new Float32Array([0.3, 0.3, 0.3]);
      expect(Array.from(normalize(values, rangeOf(values, mode)))).toEqual([0, 0, 0]);
    }
    // Signed scales measure from 0, so a constant non-zero map is at the positive end, not "flat".
    for (const mode of ['signed', 'signed-percentile'] as const) {
      const values = new Float32Array([-0.3, -0.3]);
      expect(Array.from(normalize(values, rangeOf(values, mode)))).toEqual([-1, -1]);
    }
    // Float32 rounding noise on a constant map is still "constant".
    const noisy = new Float32Array([1 / 3, Math.fround(1 / 3 + 1e-8), 1 / 3]);
    expect(Array.from(normalize(noisy, rangeOf(noisy)))).toEqual([0, 0, 0]);
  });

  it('percentile clips outliers (1st–99th by default, linear interpolation)', () => {
    const values = Float32Array.from({ length: 101 }, (_, i) => i); // 0..100
    expect(rangeOf(values, 'percentile')).toEqual({ min: 1, max: 99, signed: false });
    expect(rangeOf(values, 'percentile', { low: 10, high: 50 })).toEqual({ min: 10, max: 50, signed: false });
    const spiky = Float32Array.from({ length: 200 }, (_, i) => (i === 7 ? 1e6 : i % 10));
    const range = rangeOf(spiky, 'percentile');
    expect(range.max).toBeLessThan(10);
    const n = normalize(spiky, range);
    expect(n[7]).toBe(1); // clamped
    expect(n[5]).toBeCloseTo(5 / 9, 5);
    expect(() => rangeOf(values, 'percentile', { low: 60, high: 40 })).toThrow(/0 ≤ low ≤ high ≤ 100/);
  });

  it('signed is symmetric around 0 and maps to [-1, 1]', () => {
    const values = new Float32Array([-2, 1, 0, 0.5]);
    const range = rangeOf(values, 'signed');
    expect(range).toEqual({ min: -2, max: 2, signed: true });
    expect(Array.from(normalize(values, range))).toEqual([-1, 0.5, 0, 0.25]);
    expect(rangeOf(new Float32Array([1, 3]), 'signed')).toEqual({ min: -3, max: 3, signed: true });
    expect(Array.from(normalize(new Float32Array([-3, 0.5, 3]), SIGNED_UNIT_RANGE))).toEqual([-1, 0.5, 1]);
  });

  it('shares one range across maps', () => {
    const a = new Float32Array([0, 1]);
    const b = new Float32Array([2, 4]);
    const shared = sharedRangeOf([a, b], 'minmax');
    expect(shared).toEqual({ min: 0, max: 4, signed: false });
    expect(Array.from(normalize(a, shared))).toEqual([0, 0.25]);
    expect(sharedRangeOf([a, b], 'percentile', { low: 0, high: 100 })).toEqual(shared);
  });

  it('ignores NaN and infinities when measuring and normalises NaN to 0', () => {
    const values = new Float32Array([NaN, 1, 3, Infinity, -Infinity]);
    const range = rangeOf(values);
    expect(range).toEqual({ min: 1, max: 3, signed: false });
    expect(Array.from(normalize(values, range))).toEqual([0, 0, 1, 1, 0]);
    expect(() => normalize(values, range, new Float32Array(2))).toThrow(/equal length/);
  });
});
