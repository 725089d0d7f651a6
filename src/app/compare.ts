/**
 * Colour scales of the Compare panel (the focused image under several methods or prompts, side
 * by side). Pure: maps in, ranges out; the panel component paints with them.
 */
import { rangeOf, sharedRangeOf, type Range, type RangeMode } from '../render/normalize';
import type { CompareNormalization, CompareScale } from '../state/store';

/** What a panel shows, for its scale: its raw values, and whether they are signed (a difference). */
export interface PanelValues {
  values: ArrayLike<number>;
  signed: boolean;
}

/** The range mode of a normalisation for signed or unsigned maps. */
export function rangeModeOf(normalization: CompareNormalization, signed: boolean): RangeMode {
  if (signed) return normalization === 'minmax' ? 'signed' : 'signed-percentile';
  return normalization;
}

/**
 * The range each panel is painted with.
 * - `separate`: each map's own range (`rangeOf`).
 * - `shared`: one range over all panels (`sharedRangeOf`), so equal values get equal colours
 *   and a weaker map looks weaker. Signed maps (differences, centred on 0) and unsigned ones are
 *   in different units, so each kind shares a range with its own kind only.
 *
 * Panels without a map yet (null) get null and do not take part in the shared range. Constant
 * maps give degenerate ranges, which `normalize` turns into zeros, never NaN.
 */
export function panelRanges(
  panels: readonly (PanelValues | null)[],
  scale: CompareScale,
  normalization: CompareNormalization,
): (Range | null)[] {
  if (scale === 'separate') {
    return panels.map((p) => (p ? rangeOf(p.values, rangeModeOf(normalization, p.signed)) : null));
  }
  const shared = (signed: boolean): Range | null => {
    const maps = panels.filter((p): p is PanelValues => p !== null && p.signed === signed).map((p) => p.values);
    return maps.length > 0 ? sharedRangeOf(maps, rangeModeOf(normalization, signed)) : null;
  };
  const unsigned = shared(false);
  const signed = shared(true);
  return panels.map((p) => (p ? (p.signed ? signed : unsigned) : null));
}
