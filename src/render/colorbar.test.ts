import { describe, expect, it } from 'vitest';
import { colorbarPixels, colorbarTicks } from './colorbar';
import { colormapLut } from './colormap';

describe('colorbarPixels', () => {
  it('runs from the bottom colour (left) to the top colour (right), same on every row', () => {
    const out = { width: 256, height: 3, data: new Uint8ClampedArray(256 * 3 * 4) };
    colorbarPixels(out, 'plasma');
    const lut = colormapLut('plasma');
    expect(Array.from(out.data.subarray(0, 4))).toEqual(Array.from(lut.subarray(0, 4)));
    const last = (2 * 256 + 255) * 4;
    expect(Array.from(out.data.subarray(last, last + 4))).toEqual(Array.from(lut.subarray(255 * 4, 256 * 4)));
    expect(Array.from(out.data.subarray(100 * 4, 101 * 4))).toEqual(Array.from(out.data.subarray((256 + 100) * 4, (256 + 101) * 4)));
  });
});

describe('colorbarTicks', () => {
  it('gives round values with positions along the bar', () => {
    const ticks = colorbarTicks({ min: 0, max: 1, signed: false });
    expect(ticks.map((t) => t.label)).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    expect(ticks.map((t) => t.position)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const small = colorbarTicks({ min: 0.0131, max: 0.0478, signed: false }, 4);
    expect(small.map((t) => t.label)).toEqual(['0.02', '0.03', '0.04']);
    for (const t of small) expect(t.position).toBeCloseTo((t.value - 0.0131) / (0.0478 - 0.0131), 12);
    expect(colorbarTicks({ min: 0, max: 3e-6, signed: false }, 3).map((t) => t.label)).toEqual(['0', '1e-6', '2e-6', '3e-6']);
  });

  it('puts 0 in the middle of a signed range', () => {
    const zero = colorbarTicks({ min: -0.5, max: 0.5, signed: true }).find((t) => t.value === 0);
    expect(zero?.position).toBe(0.5);
  });

  it('gives a single tick for a constant map', () => {
    expect(colorbarTicks({ min: 0.25, max: 0.25, signed: false })).toEqual([{ value: 0.25, position: 0, label: '0.25' }]);
  });
});
