/**
 * Value range → colour position. A map's raw values (attention probabilities, relevance, cosine
 * similarities) are first summarised by a `Range` (`rangeOf`, or `sharedRangeOf` for
 * side-by-side views that must share one scale), then mapped to [0, 1] — or [-1, 1] for signed
 * ranges — by `normalize` (the heatmap renderer does the same mapping inline).
 *
 * Non-finite values (NaN, ±Infinity) are ignored when measuring a range; NaN normalises to 0
 * (bottom of an unsigned scale, neutral of a signed one) and ±Infinity clamps to the ends. A
 * constant (or empty) map normalises to all zeros under `minmax`/`percentile`, never NaN; signed
 * scales measure from 0, so there only an all-zero map is degenerate (a constant c ≠ 0 maps to ±1).
 */

/**
 * The values mapped to the colormap's ends.
 * - unsigned: `min` → 0, `max` → 1, values outside are clamped;
 * - signed: symmetric, `min = -max`; `-max` → -1, 0 → 0, `max` → 1 (for diverging colormaps,
 *   whose neutral colour sits in the middle).
 */
export interface Range {
  readonly min: number;
  readonly max: number;
  readonly signed: boolean;
}

/**
 * - `minmax`: the map's minimum and maximum.
 * - `percentile`: the `low`-th and `high`-th percentiles (default 1st–99th), so a few extreme
 *   patches (e.g. attention sinks) do not wash the rest out; values beyond are clamped.
 * - `signed`: symmetric around 0, `max = max |v|`.
 * - `signed-percentile`: symmetric around 0, `max` = the `high`-th percentile of |v|.
 */
export type RangeMode = 'minmax' | 'percentile' | 'signed' | 'signed-percentile';

export const RANGE_MODES: readonly RangeMode[] = ['minmax', 'percentile', 'signed', 'signed-percentile'];

/** Percentiles in [0, 100] used by the percentile modes. */
export interface Percentiles {
  readonly low: number;
  readonly high: number;
}

export const DEFAULT_PERCENTILES: Percentiles = { low: 1, high: 99 };

/** The identity range: values already normalised to [0, 1]. */
export const UNIT_RANGE: Range = { min: 0, max: 1, signed: false };

/** The identity signed range: values already normalised to [-1, 1]. */
export const SIGNED_UNIT_RANGE: Range = { min: -1, max: 1, signed: true };

/**
 * Relative width below which a range counts as constant. Float32 maps carry ~1e-7 relative
 * rounding noise; stretching that to the full colormap would paint noise.
 */
const RELATIVE_EPS = 1e-6;

/**
 * Whether a range is too narrow to show anything (constant map, empty map, all non-finite):
 * such a range normalises every value to 0.
 */
export function isDegenerate(range: Range): boolean {
  const span = range.max - range.min;
  return !(span > 0 && span > RELATIVE_EPS * Math.max(Math.abs(range.min), Math.abs(range.max)));
}

function finiteSorted(lists: readonly ArrayLike<number>[], abs: boolean): Float64Array {
  let n = 0;
  for (const values of lists) for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) n++;
  const out = new Float64Array(n);
  let j = 0;
  for (const values of lists) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (Number.isFinite(v)) out[j++] = abs ? Math.abs(v) : v;
    }
  }
  return out.sort();
}

/** Percentile `p` ∈ [0, 100] of sorted values, interpolating linearly (numpy's default). */
function percentileOf(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const pos = (p / 100) * (sorted.length - 1);
  const i = Math.floor(pos);
  const lo = sorted[i] as number;
  const hi = sorted[Math.min(i + 1, sorted.length - 1)] as number;
  return lo + (hi - lo) * (pos - i);
}

function checkPercentiles(p: Percentiles): void {
  if (!(p.low >= 0 && p.high <= 100 && p.low <= p.high)) {
    throw new Error(`percentiles ${p.low}–${p.high} are invalid: use 0 ≤ low ≤ high ≤ 100, e.g. 1 and 99`);
  }
}

/**
 * The range of several maps together, for views that must share one colour scale (small
 * multiples, side-by-side prompts). Percentiles are taken over all values pooled.
 *
 * @param maps raw values of each map (any lengths)
 */
export function sharedRangeOf(
  maps: readonly ArrayLike<number>[],
  mode: RangeMode = 'minmax',
  percentiles: Percentiles = DEFAULT_PERCENTILES,
): Range {
  switch (mode) {
    case 'minmax':
    case 'signed': {
      let min = Infinity;
      let max = -Infinity;
      for (const values of maps) {
        for (let i = 0; i < values.length; i++) {
          const v = values[i] as number;
          if (!Number.isFinite(v)) continue;
          if (v < min) min = v;
          if (v > max) max = v;
        }
      }
      if (min > max) return { min: 0, max: 0, signed: mode === 'signed' }; // no finite value
      if (mode === 'minmax') return { min, max, signed: false };
      const m = Math.max(Math.abs(min), Math.abs(max));
      return { min: -m, max: m, signed: true };
    }
    case 'percentile': {
      checkPercentiles(percentiles);
      const sorted = finiteSorted(maps, false);
      return { min: percentileOf(sorted, percentiles.low), max: percentileOf(sorted, percentiles.high), signed: false };
    }
    case 'signed-percentile': {
      checkPercentiles(percentiles);
      const m = percentileOf(finiteSorted(maps, true), percentiles.high);
      return { min: -m, max: m, signed: true };
    }
    default:
      throw new Error(`unknown range mode "${String(mode)}": use one of ${RANGE_MODES.join(', ')}`);
  }
}

/** The range of one map's values; see `RangeMode`. */
export function rangeOf(
  values: ArrayLike<number>,
  mode: RangeMode = 'minmax',
  percentiles: Percentiles = DEFAULT_PERCENTILES,
): Range {
  return sharedRangeOf([values], mode, percentiles);
}

/**
 * Affine map `value → scale · value + offset` (before clamping) that sends the range to [0, 1]
 * or, for signed ranges, to [-1, 1]. A degenerate range gives scale 0, offset 0.
 */
export function rangeTransform(range: Range): { scale: number; offset: number } {
  if (isDegenerate(range)) return { scale: 0, offset: 0 };
  if (range.signed) {
    const m = Math.max(Math.abs(range.min), Math.abs(range.max));
    return { scale: 1 / m, offset: 0 };
  }
  const scale = 1 / (range.max - range.min);
  return { scale, offset: -range.min * scale };
}

/**
 * Normalises values by a range: unsigned → [0, 1], signed → [-1, 1], clamped; NaN → 0.
 *
 * @param out optional destination (same length), e.g. to reuse a buffer per frame
 * @returns   `out`, or a new Float32Array of `values.length`
 */
export function normalize(values: ArrayLike<number>, range: Range, out?: Float32Array): Float32Array {
  const dst = out ?? new Float32Array(values.length);
  if (dst.length !== values.length) {
    throw new Error(`normalize: output has ${dst.length} entries for ${values.length} values; pass one of equal length`);
  }
  const { scale, offset } = rangeTransform(range);
  const lo = range.signed ? -1 : 0;
  for (let i = 0; i < values.length; i++) {
    const v = (values[i] as number) * scale + offset;
    // `!(v >= lo)` also catches NaN (from NaN input or ±Infinity × 0).
    dst[i] = !(v >= lo) ? (Number.isNaN(v) ? 0 : lo) : v > 1 ? 1 : v;
  }
  return dst;
}
