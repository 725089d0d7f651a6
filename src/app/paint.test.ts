import { describe, expect, it } from 'vitest';
import { gridCell, gridSize, overlayPixels, samePicture, type OverlayPicture, type OverlayStyle } from './paint';

const picture = (values: number[], patch: Partial<OverlayPicture> = {}): OverlayPicture => ({
  map: { width: 2, height: 2, values: Float32Array.from(values) },
  box: { x: 0, y: 10, width: 100, height: 100 },
  style: { colormap: 'inferno', opacity: 0.6, range: null, smooth: true },
  width: 100,
  height: 120,
  ...patch,
});

describe('samePicture', () => {
  it('treats a recomputed map with equal values as the same picture', () => {
    expect(samePicture(picture([0, 1, 2, 3]), picture([0, 1, 2, 3]))).toBe(true);
  });

  it('sees a change in any value, the crop box, the style or the canvas size', () => {
    const a = picture([0, 1, 2, 3]);
    expect(samePicture(a, picture([0, 1, 2, 3.0001]))).toBe(false);
    expect(samePicture(a, picture([0, 1, 2, 3], { box: { x: 0, y: 11, width: 100, height: 100 } }))).toBe(false);
    expect(samePicture(a, picture([0, 1, 2, 3], { style: { ...a.style, opacity: 0.5 } }))).toBe(false);
    expect(samePicture(a, picture([0, 1, 2, 3], { style: { ...a.style, colormap: 'viridis' } }))).toBe(false);
    expect(samePicture(a, picture([0, 1, 2, 3], { style: { ...a.style, smooth: false } }))).toBe(false);
    expect(samePicture(a, picture([0, 1, 2, 3], { width: 101 }))).toBe(false);
    expect(samePicture(a, picture([0, 1, 2, 3], { map: { width: 4, height: 1, values: Float32Array.from([0, 1, 2, 3]) } }))).toBe(false);
  });

  it('compares ranges by value and tells a map from no map', () => {
    const signed = { min: -2, max: 2, signed: true };
    const a = picture([0, 1, 2, 3], { style: { colormap: 'rdbu', opacity: 0.6, range: signed, smooth: true } });
    expect(samePicture(a, picture([0, 1, 2, 3], { style: { ...a.style, range: { ...signed } } }))).toBe(true);
    expect(samePicture(a, picture([0, 1, 2, 3], { style: { ...a.style, range: { ...signed, max: 3 } } }))).toBe(false);
    expect(samePicture(a, picture([0, 1, 2, 3], { style: { ...a.style, range: null } }))).toBe(false);
    expect(samePicture(picture([0]), picture([0], { map: null }))).toBe(false);
    expect(samePicture(picture([0], { map: null }), picture([1], { map: null }))).toBe(true);
  });

  it('does not take NaN for a change (a map being computed may hold NaN)', () => {
    expect(samePicture(picture([NaN, 1, 2, 3]), picture([NaN, 1, 2, 3]))).toBe(true);
  });
});

describe('overlayPixels in a region (small multiples on one canvas)', () => {
  const style: OverlayStyle = { colormap: 'viridis', opacity: 1, range: null, smooth: false };
  const box = { x: 0, y: 1, width: 5, height: 3 }; // a wide image: grey above the crop
  const map = (seed: number) => ({ width: 2, height: 2, values: Float32Array.from([seed, 1, 2, 3 - seed]) });
  const layout = { rows: 2, columns: 3, width: 5, height: 4, gap: 2 };
  const regionOf = (r: number, c: number) => gridCell(layout, r, c);
  const cut = (out: { data: Uint8ClampedArray; width: number }, g: { x: number; y: number; width: number; height: number }) => {
    const got = new Uint8ClampedArray(g.width * g.height * 4);
    for (let y = 0; y < g.height; y++) {
      const start = ((g.y + y) * out.width + g.x) * 4;
      got.set(out.data.subarray(start, start + g.width * 4), y * g.width * 4);
    }
    return got;
  };
  const grid = () => {
    const { width, height } = gridSize(layout);
    return { data: new Uint8ClampedArray(width * height * 4).fill(7), width, height };
  };

  it('sizes a grid for its cells and the gaps between them, and places each cell', () => {
    expect(gridSize(layout)).toEqual({ width: 3 * 5 + 2 * 2, height: 2 * 4 + 2 });
    expect(gridCell(layout, 1, 2)).toEqual({ x: 14, y: 6, width: 5, height: 4 });
  });

  it('paints a cell as its own canvas would, and nothing outside it', () => {
    const out = grid();
    overlayPixels(out, map(1), box, style, regionOf(1, 2));
    const alone = { data: new Uint8ClampedArray(5 * 4 * 4), width: 5, height: 4 };
    overlayPixels(alone, map(1), box, style);
    expect(cut(out, regionOf(1, 2))).toEqual(alone.data);
    const untouched = out.data.filter((v) => v === 7).length;
    expect(untouched).toBe(out.data.length - 5 * 4 * 4); // every byte outside the region kept its 7
  });

  it('clears only its region for a map still on its way, and refuses a region outside the buffer', () => {
    const out = grid();
    overlayPixels(out, null, box, style, regionOf(0, 1));
    expect(cut(out, regionOf(0, 1)).every((v) => v === 0)).toBe(true);
    expect(out.data.filter((v) => v === 7).length).toBe(out.data.length - 5 * 4 * 4);
    expect(() => overlayPixels(out, map(0), box, style, { x: 15, y: 0, width: 5, height: 4 })).toThrow(/not inside/);
    expect(() => overlayPixels(out, null, box, style, { x: 0.5, y: 0, width: 5, height: 4 })).toThrow(/not inside/);
  });
});
