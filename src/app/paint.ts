/**
 * Canvas glue for the pure renderer: heatmap + style -> pixels on a canvas.
 */
import type { PatchMap } from '../explain/types';
import type { CropBox } from '../protocol';
import { renderHeatmap } from '../render/heatmap';
import type { ColormapId } from '../render/colormap';
import { normalize, rangeOf, type Range } from '../render/normalize';

export interface OverlayStyle {
  colormap: ColormapId;
  opacity: number;
  /** Value range mapped to the colormap's ends; null = the map's own min–max. */
  range: Range | null;
  smooth: boolean;
}

export function paintOverlay(canvas: HTMLCanvasElement, map: PatchMap | null, box: CropBox, style: OverlayStyle): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  const image = ctx.createImageData(width, height);
  if (map) {
    const range = style.range ?? rangeOf(map.values, 'minmax');
    const values = normalize(map.values, range);
    renderHeatmap(image, { width: map.width, height: map.height, values }, {
      colormap: style.colormap, opacity: style.opacity, cropBox: box, smooth: style.smooth,
    });
  }
  ctx.putImageData(image, 0, 0);
}
