import { describe, expect, it } from 'vitest';
import { COLORMAPS, COLORMAP_IDS, colormapLut, getColormap, isColormapId, LUT_SIZE } from './colormap';

function rgb(lut: Uint8ClampedArray, i: number): number[] {
  return Array.from(lut.subarray(i * 4, i * 4 + 4));
}

describe('colormaps', () => {
  it('are 256-entry opaque RGBA tables whose ends are the interpolator ends', () => {
    expect(COLORMAP_IDS).toEqual(expect.arrayContaining(['viridis', 'magma', 'inferno', 'plasma', 'turbo', 'cividis', 'greys', 'rdbu']));
    for (const { id } of COLORMAPS) {
      const lut = colormapLut(id);
      expect(lut.length).toBe(LUT_SIZE * 4);
      for (let i = 3; i < lut.length; i += 4) expect(lut[i]).toBe(255);
    }
    expect(rgb(colormapLut('viridis'), 0)).toEqual([0x44, 0x01, 0x54, 255]);
    expect(rgb(colormapLut('viridis'), 255)).toEqual([0xfd, 0xe7, 0x25, 255]);
    expect(rgb(colormapLut('inferno'), 0)).toEqual([0, 0, 4, 255]);
  });

  it('run low → high: greys black → white, the diverging map blue → neutral → red', () => {
    expect(rgb(colormapLut('greys'), 0)).toEqual([0, 0, 0, 255]);
    expect(rgb(colormapLut('greys'), 255)).toEqual([255, 255, 255, 255]);
    const [r0, , b0] = rgb(colormapLut('rdbu'), 0) as [number, number, number];
    const [r1, , b1] = rgb(colormapLut('rdbu'), 255) as [number, number, number];
    expect(b0).toBeGreaterThan(r0);
    expect(r1).toBeGreaterThan(b1);
    const mid = rgb(colormapLut('rdbu'), 128);
    for (const c of mid.slice(0, 3)) expect(c).toBeGreaterThan(230); // near white
    expect(getColormap('rdbu').kind).toBe('diverging');
  });

  it('are computed once and cached', () => {
    expect(colormapLut('magma')).toBe(colormapLut('magma'));
  });

  it('reject unknown ids with the list of known ones', () => {
    expect(isColormapId('viridis')).toBe(true);
    expect(isColormapId('jet')).toBe(false);
    expect(() => getColormap('jet')).toThrow(/known: .*viridis/);
  });
});
