/**
 * Canvas glue for the pure renderer: heatmap + style -> pixels on a canvas.
 */
import type { PatchMap } from '../explain/types';
import type { CropBox } from '../protocol';
import { checkRegion, renderHeatmap, type Region } from '../render/heatmap';
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
export function overlayPixels(out: PixelBuffer, map: PatchMap | null, box: CropBox, style: OverlayStyle, region?: Region): void {
  if (!map) {
    if (!region) {
      out.data.fill(0);
      return;
    }
    checkRegion(out, region);
    for (let y = region.y; y < region.y + region.height; y++) {
      out.data.fill(0, (y * out.width + region.x) * 4, (y * out.width + region.x + region.width) * 4);
    }
    return;
  }
  const range = style.range ?? rangeOf(map.values, 'minmax');
  const values = normalize(map.values, range);
  renderHeatmap(out, { width: map.width, height: map.height, values }, {
    colormap: style.colormap, opacity: style.opacity, cropBox: box, smooth: style.smooth,
    // `values` are normalised already: [0, 1], or [-1, 1] for a signed range.
    range: range.signed ? SIGNED_UNIT_RANGE : UNIT_RANGE, ...(region ? { region } : {}),
  });
}

/** What one `paintOverlay` call drew: enough to tell whether another call would draw the same. */
export interface OverlayPicture {
  map: PatchMap | null;
  box: CropBox;
  style: OverlayStyle;
  width: number;
  height: number;
}

/**
 * True when `a` and `b` paint the same pixels: the same map values (compared by content — views
 * recompute their maps whenever any image's result arrives, mostly to identical values), crop
 * box, style and canvas size. Lets a canvas skip a repaint that would change nothing.
 */
export function samePicture(a: OverlayPicture, b: OverlayPicture): boolean {
  if (a.width !== b.width || a.height !== b.height) return false;
  if (a.box.x !== b.box.x || a.box.y !== b.box.y || a.box.width !== b.box.width || a.box.height !== b.box.height) return false;
  const sa = a.style;
  const sb = b.style;
  if (sa.colormap !== sb.colormap || sa.opacity !== sb.opacity || sa.smooth !== sb.smooth) return false;
  if (sa.range !== sb.range && (sa.range === null || sb.range === null || sa.range.min !== sb.range.min
    || sa.range.max !== sb.range.max || sa.range.signed !== sb.range.signed)) return false;
  if (a.map === b.map) return true;
  if (a.map === null || b.map === null) return false;
  if (a.map.width !== b.map.width || a.map.height !== b.map.height) return false;
  const va = a.map.values;
  const vb = b.map.values;
  if (va.length !== vb.length) return false;
  for (let i = 0; i < va.length; i++) if (!Object.is(va[i], vb[i])) return false;
  return true;
}

/**
 * Paints `map` on `canvas`. Pass the ImageData the previous call returned (`reuse`) to paint
 * into it again: a new one per paint (0.8 MB for the focus view) was a steady stream of garbage
 * while results arrive. Returns the ImageData painted, or null without a 2D context.
 */
export function paintOverlay(canvas: HTMLCanvasElement, map: PatchMap | null, box: CropBox, style: OverlayStyle,
  reuse: ImageData | null = null): ImageData | null {
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  const image = reuse && reuse.width === canvas.width && reuse.height === canvas.height
    ? reuse : ctx.createImageData(canvas.width, canvas.height);
  overlayPixels(image, map, box, style);
  ctx.putImageData(image, 0, 0);
  return image;
}

/** Geometry of small multiples drawn on one canvas: cells of `width × height`, `gap` apart. */
export interface GridLayout {
  rows: number;
  columns: number;
  width: number;
  height: number;
  gap: number;
}

/** Size of the canvas that holds a grid of cells. */
export function gridSize(g: GridLayout): { width: number; height: number } {
  return { width: g.columns * g.width + (g.columns - 1) * g.gap, height: g.rows * g.height + (g.rows - 1) * g.gap };
}

/** Where cell (row, column) lies on that canvas (a region for {@link overlayPixels}). */
export function gridCell(g: GridLayout, row: number, column: number): Region {
  return { x: column * (g.width + g.gap), y: row * (g.height + g.gap), width: g.width, height: g.height };
}
