import { describe, expect, it } from 'vitest';
import { differenceMap } from '../explain/difference';
import type { PatchMap } from '../explain/types';
import { colormapLut } from '../render/colormap';
import { normalize } from '../render/normalize';
import { panelRanges, rangeModeOf } from './compare';
import { overlayPixels } from './paint';

// Plain numbers (not float32) so that expected ranges are exact.
const weak = { values: [0, 0.01, 0.02, 0.04], signed: false };
const strong = { values: [0.1, 0.5, 0.3, 0.9], signed: false };
const diff = { values: [-0.2, 0.1, 0, 0.05], signed: true };

describe('panelRanges', () => {
  it('shared: one range over all unsigned panels, so a weak map stays weak', () => {
    const [a, b] = panelRanges([weak, strong], 'shared', 'minmax');
    expect(a).toEqual({ min: 0, max: 0.9, signed: false });
    expect(b).toEqual(a);
    if (!a || !b) throw new Error('no range');
    // The weak map's top patch is far from the top of the shared scale …
    expect(Math.max(...normalize(weak.values, a))).toBeLessThan(0.05);
    // … but at the top of its own.
    const [own] = panelRanges([weak, strong], 'separate', 'minmax');
    if (!own) throw new Error('no range');
    expect(own.max).toBeCloseTo(0.04, 6);
    expect(Math.max(...normalize(weak.values, own))).toBe(1);
  });

  it('separate: each panel its own range, in the chosen normalisation', () => {
    const ranges = panelRanges([weak, strong, diff], 'separate', 'percentile');
    expect(ranges[0]?.signed).toBe(false);
    expect(ranges[0]?.max).toBeLessThan(0.04);
    expect(ranges[0]?.max).toBeGreaterThan(0.03);
    expect(ranges[2]?.signed).toBe(true);
    expect(ranges[2]?.min).toBeCloseTo(-(ranges[2]?.max ?? NaN), 9);
  });

  it('shares signed ranges only among signed panels, symmetric around 0', () => {
    const other = { values: [0.5, -0.1, 0, 0], signed: true };
    const [u, s1, s2] = panelRanges([strong, diff, other], 'shared', 'minmax');
    expect(u).toEqual({ min: 0.1, max: 0.9, signed: false });
    expect(s1).toEqual({ min: -0.5, max: 0.5, signed: true });
    expect(s2).toEqual(s1);
  });

  it('panels still computing get no range and do not change the shared one', () => {
    expect(panelRanges([null, strong, null], 'shared', 'minmax')).toEqual([null, { min: 0.1, max: 0.9, signed: false }, null]);
    expect(panelRanges([null], 'separate', 'percentile')).toEqual([null]);
  });

  it('constant maps normalise to zeros, never NaN, under every scale and normalisation', () => {
    const flat = { values: new Float32Array(4).fill(0.25), signed: false };
    const zero = { values: new Float32Array(4), signed: true };
    for (const scale of ['shared', 'separate'] as const) {
      for (const norm of ['minmax', 'percentile'] as const) {
        const ranges = panelRanges([flat, zero], scale, norm);
        for (const [i, p] of [flat, zero].entries()) {
          const range = ranges[i];
          if (!range) throw new Error('no range');
          for (const v of normalize(p.values, range)) expect(v).toBe(0);
        }
      }
    }
  });

  it('maps normalisations to signed modes for signed maps', () => {
    expect(rangeModeOf('minmax', false)).toBe('minmax');
    expect(rangeModeOf('percentile', false)).toBe('percentile');
    expect(rangeModeOf('minmax', true)).toBe('signed');
    expect(rangeModeOf('percentile', true)).toBe('signed-percentile');
  });
});

describe('overlayPixels', () => {
  const box = { x: 0, y: 0, width: 8, height: 8 };
  const buffer = () => ({ data: new Uint8ClampedArray(8 * 8 * 4), width: 8, height: 8 });
  const pixel = (out: { data: Uint8ClampedArray }, i: number) => Array.from(out.data.subarray(i * 4, i * 4 + 4));
  const lut = (i: number, alpha: number) => [...Array.from(colormapLut('rdbu').subarray(i * 4, i * 4 + 3)), alpha];

  it('paints A − A (all zeros) on a signed range in the colormap\'s neutral middle, no NaN', () => {
    const a: PatchMap = { width: 2, height: 2, values: Float32Array.from([0.3, 0.1, 0.7, 0.2]) };
    const d = differenceMap(a, a);
    const [range] = panelRanges([{ values: d.values, signed: true }], 'separate', 'minmax');
    const out = buffer();
    overlayPixels(out, d, box, { colormap: 'rdbu', opacity: 1, range: range ?? null, smooth: true });
    const middle = lut(128, 255);
    for (let i = 0; i < 64; i++) expect(pixel(out, i)).toEqual(middle);
  });

  it('paints a signed map blue where B wins and red where A wins', () => {
    const d: PatchMap = { width: 2, height: 1, values: Float32Array.from([-0.5, 0.5]) };
    const out = buffer();
    overlayPixels(out, d, box, { colormap: 'rdbu', opacity: 1, range: { min: -0.5, max: 0.5, signed: true }, smooth: false });
    expect(pixel(out, 0)).toEqual(lut(0, 255)); // left half: −max → bottom (blue)
    expect(pixel(out, 7)).toEqual(lut(255, 255)); // right half: +max → top (red)
  });

  it('leaves the buffer transparent without a map', () => {
    const out = buffer();
    out.data.fill(9);
    overlayPixels(out, null, box, { colormap: 'rdbu', opacity: 1, range: null, smooth: true });
    expect(out.data.every((v) => v === 0)).toBe(true);
  });
});
