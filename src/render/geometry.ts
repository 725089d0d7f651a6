/**
 * Output pixels ↔ patches, for hover, click and outlining a picked patch. Uses the same rule as
 * `renderHeatmap` in nearest mode: position u = (x − box.x) / box.width · grid width in patch
 * units, patch = floor(u); so the patch under the pointer is the square painted there.
 */
import type { PatchMap } from '../explain/types';
import { checkCropBox, type CropBox } from './types';

export interface PatchHit {
  /** Column and row in the grid, from the top-left. */
  readonly col: number;
  readonly row: number;
  /** `row * map.width + col`: index into `map.values`; its token in the vision stack is index + 1. */
  readonly index: number;
  /** `map.values[index]`, in the map's own units. */
  readonly value: number;
}

/**
 * The patch under output position (x, y), or null outside the crop box.
 *
 * @param x, y  output pixel coordinates (e.g. pointer position scaled to the canvas); a pixel's
 *              centre is (px + ½, py + ½)
 * @param cropBox where the model's input lies, in the same coordinates
 */
export function patchAt(x: number, y: number, map: PatchMap, cropBox: CropBox): PatchHit | null {
  checkCropBox(cropBox);
  if (!(x >= cropBox.x && x < cropBox.x + cropBox.width && y >= cropBox.y && y < cropBox.y + cropBox.height)) {
    return null;
  }
  // min() guards against u rounding up to exactly width at the far edge.
  const col = Math.min(map.width - 1, Math.floor(((x - cropBox.x) / cropBox.width) * map.width));
  const row = Math.min(map.height - 1, Math.floor(((y - cropBox.y) / cropBox.height) * map.height));
  const index = row * map.width + col;
  const value = map.values[index];
  if (value === undefined) {
    throw new Error(`patch map has ${map.values.length} values but ${map.width}×${map.height} patches need ${map.width * map.height}`);
  }
  return { col, row, index, value };
}

/**
 * The output rectangle covered by patch `index` (fractional pixels), e.g. to outline the picked
 * patch. Inverse of `patchAt`: `patchAt` at any point inside returns `index`.
 */
export function patchRect(index: number, map: Pick<PatchMap, 'width' | 'height'>, cropBox: CropBox): CropBox {
  checkCropBox(cropBox);
  if (!Number.isInteger(index) || index < 0 || index >= map.width * map.height) {
    throw new Error(`patch ${index} is out of range: use 0..${map.width * map.height - 1}`);
  }
  const col = index % map.width;
  const row = (index - col) / map.width;
  const w = cropBox.width / map.width;
  const h = cropBox.height / map.height;
  return { x: cropBox.x + col * w, y: cropBox.y + row * h, width: w, height: h };
}

/**
 * The size to draw an image of `width × height` in a box of at most `maxWidth × maxHeight` CSS
 * pixels, keeping its aspect ratio: as wide as the box unless that makes it too tall, and never
 * under 1 × 1 (an image of 65535 × 1 still gets a 1-pixel-high canvas, not a zero-height one that
 * the canvas API refuses; a 1 × 65535 one is as tall as the box, not 29 million pixels).
 */
export function fitSize(width: number, height: number, maxWidth: number, maxHeight: number): { width: number; height: number } {
  const w = Math.max(1, width);
  const h = Math.max(1, height);
  const scale = Math.min(maxWidth / w, maxHeight / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}
