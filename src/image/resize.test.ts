import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resize, resizeRegion, Resample, type PixelBuffer, type ResampleFilter } from './resize';

interface PillowCase {
  input: [number, number];
  output: [number, number];
  filter: ResampleFilter;
  name: string;
  rgb: string; // base64, (height, width, 3) uint8
}

/** Pillow's outputs, written by fixtures/pillow_resize.py. */
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/pillow-resize.json', import.meta.url), 'utf8'),
) as { pillow: string; cases: PillowCase[] };

/** The fixture's input: byte i is ((i * 2654435761) mod 2^32) >> 13 & 255, RGB. */
function noise(width: number, height: number, channels: 3 | 4 = 3): PixelBuffer {
  const data = new Uint8ClampedArray(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) {
      const i = p * 3 + c;
      data[p * channels + c] = (Math.imul(i, 2654435761) >>> 13) & 255;
    }
    if (channels === 4) data[p * 4 + 3] = (p * 7) & 255; // alpha must not matter
  }
  return { data, width, height, channels };
}

describe('resize (Pillow ImagingResample)', () => {
  it.each(fixture.cases.map((c) => [`${c.name} ${c.input.join('×')} → ${c.output.join('×')}`, c] as const))(
    'matches Pillow exactly: %s',
    (_label, c) => {
      const expected = new Uint8Array(Buffer.from(c.rgb, 'base64'));
      expect(expected.length).toBe(c.output[0] * c.output[1] * 3);
      for (const channels of [3, 4] as const) {
        const out = resize(noise(c.input[0], c.input[1], channels), c.output[0], c.output[1], c.filter);
        expect(out.width).toBe(c.output[0]);
        expect(out.height).toBe(c.output[1]);
        let differing = 0;
        for (let i = 0; i < expected.length; i++) if (out.data[i] !== expected[i]) differing++;
        expect(differing).toBe(0);
      }
    },
  );

  it('returns the input unchanged when the size does not change', () => {
    const src = noise(13, 9);
    expect(Array.from(resize(src, 13, 9).data)).toEqual(Array.from(src.data));
  });

  it('keeps a constant image constant whatever the scale (weights are normalised)', () => {
    const data = new Uint8ClampedArray(41 * 29 * 4).fill(200);
    const src: PixelBuffer = { data, width: 41, height: 29, channels: 4 };
    for (const [w, h] of [[5, 3], [100, 7], [41, 64]] as const) {
      expect(resize(src, w, h).data.every((v) => v === 200)).toBe(true);
    }
  });

  it('region = crop of the full resize, for every filter, shrinking and enlarging', () => {
    const src = noise(157, 113, 4);
    const regions = [
      { x: 0, y: 0, width: 64, height: 64 },
      { x: 17, y: 3, width: 40, height: 61 },
      { x: 96, y: 0, width: 1, height: 1 },
      { x: 0, y: 63, width: 97, height: 1 },
    ];
    for (const filter of [Resample.BICUBIC, Resample.BILINEAR, Resample.LANCZOS] as const) {
      for (const [w, h] of [[97, 64], [400, 300]] as const) {
        const full = resize(src, w, h, filter);
        for (const r of regions) {
          const part = resizeRegion(src, w, h, r, filter);
          const expected = new Uint8ClampedArray(r.width * r.height * 3);
          for (let y = 0; y < r.height; y++) {
            const from = ((r.y + y) * w + r.x) * 3;
            expected.set(full.data.subarray(from, from + r.width * 3), y * r.width * 3);
          }
          expect(part.width).toBe(r.width);
          expect(part.height).toBe(r.height);
          expect(Buffer.from(part.data).equals(Buffer.from(expected))).toBe(true);
        }
      }
    }
  });

  it('rejects bad sizes, regions, data lengths and filters with a message', () => {
    const src = noise(8, 8);
    expect(() => resize(src, 0, 4)).toThrow(/Output size/);
    expect(() => resizeRegion(src, 4, 4, { x: 2, y: 0, width: 3, height: 4 })).toThrow(/inside the 4×4 output/);
    expect(() => resize({ ...src, data: new Uint8ClampedArray(10) }, 4, 4)).toThrow(/needs 192/);
    expect(() => resize(src, 4, 4, 0 as ResampleFilter)).toThrow(/nearest/);
  });
});
