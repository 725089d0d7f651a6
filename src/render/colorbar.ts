/**
 * A colour bar (legend) for a colormap and the tick values of a range, as pixels and numbers;
 * the UI draws the labels with its own fonts.
 */
import { resolveLut, LUT_SIZE, type ColormapId, type ColormapLut } from './colormap';
import { isDegenerate, type Range } from './normalize';
import { checkPixelBuffer, type PixelBuffer } from './types';

/**
 * Fills `out` with a horizontal bar: left = bottom of the colormap, right = top; every row the
 * same, opaque. Column x shows the colour at t = (x + ½) / width, the same table the heatmap uses.
 */
export function colorbarPixels(out: PixelBuffer, colormap: ColormapId | ColormapLut): void {
  checkPixelBuffer(out);
  const lut = resolveLut(colormap);
  const { width, height, data } = out;
  for (let x = 0; x < width; x++) {
    const i = Math.min(LUT_SIZE - 1, Math.floor(((x + 0.5) / width) * LUT_SIZE)) * 4;
    for (let y = 0; y < height; y++) {
      const o = (y * width + x) * 4;
      data[o] = lut[i] as number;
      data[o + 1] = lut[i + 1] as number;
      data[o + 2] = lut[i + 2] as number;
      data[o + 3] = 255;
    }
  }
}

export interface Tick {
  /** The value, in the map's units. */
  readonly value: number;
  /** Where along the bar, 0 (left) … 1 (right). */
  readonly position: number;
  /** The value formatted with just enough digits for the tick spacing. */
  readonly label: string;
}

/** 1, 2 or 5 × 10^k closest to span / count (the rule d3's `ticks` uses). */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const err = raw / power;
  const factor = err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1;
  return factor * power;
}

function formatTick(value: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  if (decimals <= 4 && Math.abs(value) < 1e6) return value.toFixed(decimals);
  if (value === 0) return '0';
  // Tiny or huge values (e.g. gradient relevance): mantissa digits down to the step.
  const digits = Math.max(0, Math.floor(Math.log10(Math.abs(value))) - Math.floor(Math.log10(step) + 1e-9));
  return value.toExponential(Math.min(digits, 20));
}

/**
 * About `count` round tick values (1, 2, 5 × 10^k apart) inside `range`, with their positions
 * along a bar drawn by `colorbarPixels`. A signed range includes 0 in the middle. A degenerate
 * range (constant map, drawn in the bottom colour) gives one tick at its value, position 0.
 */
export function colorbarTicks(range: Range, count = 5): Tick[] {
  const { min, max } = range;
  if (isDegenerate(range)) {
    const v = Number.isFinite(min) ? min : 0;
    return [{ value: v, position: range.signed ? 0.5 : 0, label: String(Number(v.toPrecision(3))) }];
  }
  const step = niceStep(max - min, count);
  // Integer multiples of the step, divided rather than multiplied when step < 1 to avoid 0.30000000000000004.
  const inv = step < 1 ? Math.round(1 / step) : 0;
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  const ticks: Tick[] = [];
  for (let i = first; i <= last; i++) {
    const value = (inv ? i / inv : i * step) + 0; // + 0 turns -0 (from ceil(-tiny)) into 0
    ticks.push({ value, position: (value - min) / (max - min), label: formatTick(value, step) });
  }
  return ticks;
}
