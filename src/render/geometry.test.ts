import { describe, expect, it } from 'vitest';
import type { PatchMap } from '../explain/types';
import { colormapLut } from './colormap';
import { fitSize, patchAt, patchRect } from './geometry';
import { renderHeatmap } from './heatmap';

const map: PatchMap = { width: 7, height: 5, values: Float32Array.from({ length: 35 }, (_, i) => (i * 7) / 255) }; // whole table steps
const cropBox = { x: 12.5, y: 3, width: 100, height: 71.3 };

describe('patchAt / patchRect', () => {
  it('round-trips every patch through its rectangle', () => {
    for (let index = 0; index < 35; index++) {
      const r = patchRect(index, map, cropBox);
      for (const [fx, fy] of [[0.5, 0.5], [0.01, 0.01], [0.99, 0.99]] as const) {
        const hit = patchAt(r.x + fx * r.width, r.y + fy * r.height, map, cropBox);
        expect(hit).toEqual({ col: index % 7, row: Math.floor(index / 7), index, value: map.values[index] });
      }
    }
  });

  it('is null outside the crop box, including its right and bottom edges', () => {
    expect(patchAt(12, 10, map, cropBox)).toBeNull();
    expect(patchAt(112.5, 10, map, cropBox)).toBeNull();
    expect(patchAt(50, 74.3, map, cropBox)).toBeNull();
    expect(patchAt(50, 2.99, map, cropBox)).toBeNull();
    expect(patchAt(12.5, 3, map, cropBox)?.index).toBe(0);
  });

  it('agrees with the nearest-mode picture: the pixel shows the patch under its centre', () => {
    const out = { width: 120, height: 80, data: new Uint8ClampedArray(120 * 80 * 4) };
    renderHeatmap(out, map, { colormap: 'viridis', opacity: 1, cropBox, smooth: false });
    const lut = colormapLut('viridis');
    for (let y = 0; y < 80; y++) {
      for (let x = 0; x < 120; x++) {
        const hit = patchAt(x + 0.5, y + 0.5, map, cropBox);
        if (!hit) continue;
        const i = Math.round(hit.value * 255) * 4;
        const o = (y * 120 + x) * 4;
        expect([out.data[o], out.data[o + 1], out.data[o + 2]]).toEqual([lut[i], lut[i + 1], lut[i + 2]]);
      }
    }
  });

  it('rejects a patch index out of range', () => {
    expect(() => patchRect(35, map, cropBox)).toThrow(/0\.\.34/);
  });
});

describe('fitSize', () => {
  it('fills the box width for ordinary images, keeping the aspect ratio', () => {
    expect(fitSize(640, 480, 448, 896)).toEqual({ width: 448, height: 336 });
    expect(fitSize(300, 300, 448, 896)).toEqual({ width: 448, height: 448 });
  });

  it('stays inside the box and at least 1 × 1 for extreme aspect ratios', () => {
    expect(fitSize(65535, 1, 448, 896)).toEqual({ width: 448, height: 1 });
    expect(fitSize(1, 65535, 448, 896)).toEqual({ width: 1, height: 896 });
    for (const [w, h] of [[65535, 2], [3, 65535], [1, 1], [100000, 7]] as const) {
      const s = fitSize(w, h, 84, 168);
      expect(s.width).toBeGreaterThanOrEqual(1);
      expect(s.height).toBeGreaterThanOrEqual(1);
      expect(s.width).toBeLessThanOrEqual(84);
      expect(s.height).toBeLessThanOrEqual(168);
    }
  });
});
