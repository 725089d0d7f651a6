import { describe, expect, it } from 'vitest';
import type { PatchMap } from '../explain/types';
import { colormapLut } from './colormap';
import { OUTSIDE_RGBA, renderHeatmap, type HeatmapOptions } from './heatmap';
import { rangeOf, normalize } from './normalize';
import type { PixelBuffer } from './types';

function buffer(width: number, height: number): PixelBuffer {
  return { width, height, data: new Uint8ClampedArray(width * height * 4) };
}

function pixel(out: PixelBuffer, x: number, y: number): number[] {
  const o = (y * out.width + x) * 4;
  return Array.from(out.data.subarray(o, o + 4));
}

function lutColor(id: 'inferno' | 'viridis' | 'rdbu', i: number, alpha: number): number[] {
  return [...Array.from(colormapLut(id).subarray(i * 4, i * 4 + 3)), alpha];
}

/** 4×4 patches, patch (col 2, row 1) hot. */
const hot: PatchMap = { width: 4, height: 4, values: new Float32Array(16).fill(0.1) };
hot.values[1 * 4 + 2] = 0.9;

const base: HeatmapOptions = {
  colormap: 'inferno',
  opacity: 1,
  range: { min: 0.1, max: 0.9, signed: false },
  cropBox: { x: 0, y: 0, width: 60, height: 60 },
  smooth: false,
};

describe('renderHeatmap', () => {
  it('paints a single hot patch in the top colour and the rest in the bottom colour', () => {
    const out = buffer(60, 60);
    renderHeatmap(out, hot, base);
    const top = lutColor('inferno', 255, 255);
    const bottom = lutColor('inferno', 0, 255);
    for (let y = 0; y < 60; y++) {
      for (let x = 0; x < 60; x++) {
        const inHot = Math.floor(x / 15) === 2 && Math.floor(y / 15) === 1;
        expect(pixel(out, x, y)).toEqual(inHot ? top : bottom);
      }
    }
  });

  it('paints outside the crop box in the dim "outside" grey, whatever the opacity', () => {
    const out = buffer(80, 70);
    const cropBox = { x: 10, y: 5, width: 60, height: 60 };
    renderHeatmap(out, hot, { ...base, cropBox, opacity: 0.2 });
    expect(pixel(out, 9, 30)).toEqual([...OUTSIDE_RGBA]);
    expect(pixel(out, 70, 30)).toEqual([...OUTSIDE_RGBA]);
    expect(pixel(out, 40, 4)).toEqual([...OUTSIDE_RGBA]);
    expect(pixel(out, 40, 65)).toEqual([...OUTSIDE_RGBA]);
    expect(pixel(out, 10, 5)).toEqual(lutColor('inferno', 0, 51));
    expect(pixel(out, 10 + 2 * 15, 5 + 15)).toEqual(lutColor('inferno', 255, 51));
    expect(OUTSIDE_RGBA[3] / 255).toBeCloseTo(0.55, 2);
  });

  it('respects opacity as the alpha of every pixel inside the crop box', () => {
    for (const opacity of [0, 0.3, 1]) {
      const out = buffer(60, 60);
      renderHeatmap(out, hot, { ...base, opacity });
      for (let i = 3; i < out.data.length; i += 4) expect(out.data[i]).toBe(Math.round(opacity * 255));
    }
  });

  it('nearest shows two colours; smooth blends between patch centres', () => {
    const nearest = buffer(60, 60);
    const smooth = buffer(60, 60);
    renderHeatmap(nearest, hot, base);
    renderHeatmap(smooth, hot, { ...base, smooth: true });
    const colours = (out: PixelBuffer) => new Set(Array.from({ length: 3600 }, (_, i) => pixel(out, i % 60, Math.floor(i / 60)).join()));
    expect(colours(nearest).size).toBe(2);
    expect(colours(smooth).size).toBeGreaterThan(10);
    // 15-px patches: pixel 37's centre (37.5) is the hot patch's centre, so it is fully hot …
    expect(pixel(smooth, 37, 22)).toEqual(lutColor('inferno', 255, 255));
    // … halfway to the next centre it is half-way up the colormap, and far away it is the bottom.
    expect(pixel(smooth, 30, 22)).toEqual(lutColor('inferno', Math.round(255 * (0.5 + 1 / 30)), 255));
    expect(pixel(smooth, 5, 50)).toEqual(lutColor('inferno', 0, 255));
  });

  it('maps raw values through the range the same way as normalize()', () => {
    const map: PatchMap = { width: 3, height: 1, values: new Float32Array([5, 7, 9]) };
    const range = rangeOf(map.values);
    const a = buffer(3, 1);
    const b = buffer(3, 1);
    renderHeatmap(a, map, { ...base, cropBox: { x: 0, y: 0, width: 3, height: 1 }, range });
    const { range: _omitted, ...rest } = base;
    renderHeatmap(b, { ...map, values: normalize(map.values, range) }, { ...rest, cropBox: { x: 0, y: 0, width: 3, height: 1 } });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(pixel(a, 1, 0)).toEqual(lutColor('inferno', 128, 255));
  });

  it('puts 0 of a signed range on the diverging map\'s neutral middle', () => {
    const map: PatchMap = { width: 3, height: 1, values: new Float32Array([-2, 0, 2]) };
    const out = buffer(3, 1);
    renderHeatmap(out, map, { ...base, colormap: 'rdbu', cropBox: { x: 0, y: 0, width: 3, height: 1 }, range: rangeOf(map.values, 'signed') });
    expect(pixel(out, 0, 0)).toEqual(lutColor('rdbu', 0, 255));
    expect(pixel(out, 1, 0)).toEqual(lutColor('rdbu', 128, 255));
    expect(pixel(out, 2, 0)).toEqual(lutColor('rdbu', 255, 255));
  });

  it('paints a constant map in the bottom colour (no NaN)', () => {
    const out = buffer(8, 8);
    const flat: PatchMap = { width: 2, height: 2, values: new Float32Array(4).fill(0.25) };
    renderHeatmap(out, flat, { ...base, cropBox: { x: 0, y: 0, width: 8, height: 8 }, range: rangeOf(flat.values) });
    expect(pixel(out, 3, 3)).toEqual(lutColor('inferno', 0, 255));
  });

  it('writes into a view that is not 4-byte aligned', () => {
    const backing = new Uint8ClampedArray(60 * 60 * 4 + 1);
    const out = { width: 60, height: 60, data: backing.subarray(1) };
    const ref = buffer(60, 60);
    renderHeatmap(out, hot, base);
    renderHeatmap(ref, hot, base);
    expect(Array.from(out.data)).toEqual(Array.from(ref.data));
  });

  it('rejects inconsistent inputs with a fix', () => {
    expect(() => renderHeatmap({ width: 2, height: 2, data: new Uint8ClampedArray(4) }, hot, base)).toThrow(/needs 16/);
    expect(() => renderHeatmap(buffer(4, 4), { ...hot, width: 3 }, base)).toThrow(/3×4 patches need 12/);
    expect(() => renderHeatmap(buffer(4, 4), hot, { ...base, opacity: 2 })).toThrow(/0 … 1/);
    expect(() => renderHeatmap(buffer(4, 4), hot, { ...base, cropBox: { x: 0, y: 0, width: 0, height: 4 } })).toThrow(/positive width/);
  });
});
