import { describe, expect, it } from 'vitest';
import { samePicture, type OverlayPicture } from './paint';

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
