import { describe, expect, it } from 'vitest';
import { gridPixels, gridSize, overlayPixels, samePicture, type GridLayout, type OverlayPicture, type OverlayStyle } from './paint';

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

describe('gridPixels', () => {
  const layout: GridLayout = { rows: 2, columns: 3, width: 5, height: 4, gap: 2 };
  const style: OverlayStyle = { colormap: 'viridis', opacity: 1, range: null, smooth: false };
  const box = { x: 0, y: 0, width: 5, height: 4 };
  const map = (seed: number) => ({ width: 2, height: 2, values: Float32Array.from([seed, 1, 2, 3 - seed]) });
  const cells = [[map(0), map(1), null], [map(2), map(3), map(0.5)]];
  const buffer = () => {
    const { width, height } = gridSize(layout);
    return { data: new Uint8ClampedArray(width * height * 4), width, height };
  };
  const cellOf = (out: { data: Uint8ClampedArray; width: number }, r: number, c: number) => {
    const got = new Uint8ClampedArray(layout.width * layout.height * 4);
    for (let y = 0; y < layout.height; y++) {
      const start = ((r * (layout.height + layout.gap) + y) * out.width + c * (layout.width + layout.gap)) * 4;
      got.set(out.data.subarray(start, start + layout.width * 4), y * layout.width * 4);
    }
    return got;
  };

  it('is sized for the cells and the gaps between them', () => {
    expect(gridSize(layout)).toEqual({ width: 3 * 5 + 2 * 2, height: 2 * 4 + 2 });
  });

  it('paints each cell as its own canvas would, and leaves the gaps transparent', () => {
    const out = buffer();
    gridPixels(out, cells, layout, box, style);
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 3; c++) {
        const alone = { data: new Uint8ClampedArray(layout.width * layout.height * 4), width: layout.width, height: layout.height };
        overlayPixels(alone, cells[r]?.[c] ?? null, box, style);
        expect(cellOf(out, r, c)).toEqual(alone.data);
      }
    }
    expect(cellOf(out, 0, 0)).not.toEqual(cellOf(out, 1, 1)); // different maps, different pixels
    const gapColumn = 5; // x = 5, 6 are the gap after the first column
    for (let y = 0; y < out.height; y++) expect(out.data[(y * out.width + gapColumn) * 4 + 3]).toBe(0);
    for (let x = 0; x < out.width; x++) expect(out.data[(4 * out.width + x) * 4 + 3]).toBe(0); // the row gap
  });

  it('repaints only the cells asked for', () => {
    const out = buffer();
    gridPixels(out, cells, layout, box, style);
    const before = out.data.slice();
    const changed = [[map(3), map(1), null], [map(2), map(0), map(0.5)]];
    gridPixels(out, changed, layout, box, style, (r, c) => r === 1 && c === 1);
    expect(cellOf(out, 1, 1)).not.toEqual(cellOf({ data: before, width: out.width }, 1, 1));
    expect(cellOf(out, 0, 0)).toEqual(cellOf({ data: before, width: out.width }, 0, 0)); // changed, but not asked for
  });

  it('refuses a buffer of the wrong size', () => {
    expect(() => gridPixels({ data: new Uint8ClampedArray(4), width: 1, height: 1 }, cells, layout, box, style)).toThrow(/needs 19×10/);
  });
});
