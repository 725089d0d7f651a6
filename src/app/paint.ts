/**
 * Canvas glue for the pure renderer: heatmap + style -> pixels on a canvas.
 */
import type { PatchMap } from '../explain/types';
import type { CropBox } from '../protocol';
import { renderHeatmap } from '../render/heatmap';
import type { ColormapId } from '../render/colormap';
import { normalize, rangeOf, SIGNED_UNIT_RANGE, UNIT_RANGE, type Range } from '../render/normalize';
import type { PixelBuffer } from '../render/types';

export interface OverlayStyle {
  colormap: ColormapId;
  opacity: number;
  /**
   * Value range mapped to the colormap's ends; null = the map's own min–max. A signed range
   * (`rangeOf(values, 'signed')`) puts 0 at the colormap's middle, for difference maps.
   */
  range: Range | null;
  smooth: boolean;
}

/**
 * Paints `map` (or nothing: all transparent) into `out` with the style. Pure: no DOM, so it runs
 * in unit tests. Normalisation goes through `normalize`, so a constant map (a degenerate range)
 * paints the bottom of the colormap — or its neutral middle for a signed range — never NaN.
 */
export function overlayPixels(out: PixelBuffer, map: PatchMap | null, box: CropBox, style: OverlayStyle): void {
  if (!map) {
    out.data.fill(0);
    return;
  }
  const range = style.range ?? rangeOf(map.values, 'minmax');
  const values = normalize(map.values, range);
  renderHeatmap(out, { width: map.width, height: map.height, values }, {
    colormap: style.colormap, opacity: style.opacity, cropBox: box, smooth: style.smooth,
    // `values` are normalised already: [0, 1], or [-1, 1] for a signed range.
    range: range.signed ? SIGNED_UNIT_RANGE : UNIT_RANGE,
  });
}

export function paintOverlay(canvas: HTMLCanvasElement, map: PatchMap | null, box: CropBox, style: OverlayStyle): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const image = ctx.createImageData(canvas.width, canvas.height);
  overlayPixels(image, map, box, style);
  ctx.putImageData(image, 0, 0);
}
