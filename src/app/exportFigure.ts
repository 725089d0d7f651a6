/**
 * Canvas glue for the exported figure: the pure pieces (exportView.ts's layout and caption,
 * render/'s overlay and colour-bar pixels) composed on an OffscreenCanvas and encoded as PNG.
 */
import { colorbarPixels } from '../render/colorbar';
import type { ColormapId } from '../render/colormap';
import { barLabels, captionText, figureFontSize, figureLayout, wrapText, type BarLabel, type ExportInput, type Rect } from './exportView';
import { overlayPixels } from './paint';

export const FONT_FAMILY = 'system-ui, sans-serif';
export const TEXT_COLOUR = '#1d1d1f';

export function context2d(canvas: OffscreenCanvas): OffscreenCanvasRenderingContext2D {
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('This browser gives no 2D canvas to draw the figure on; export the numbers instead.');
  return ctx;
}

/**
 * The figure as a PNG: `image` at the decoded image's resolution (`input.image.width × height`)
 * with the overlay painted as the page paints it (same renderer, crop box in the image's own
 * pixels, the dim grey outside it), then the colour bar with its range labels and the caption.
 *
 * @param image the original picture, oriented as the worker decoded it (an `ImageBitmap` of the
 *              file honours EXIF orientation by default)
 */
export async function figurePng(image: CanvasImageSource, input: ExportInput): Promise<Blob> {
  const { width, height } = input.image;
  const fontSize = figureFontSize(width);
  const font = `${fontSize}px ${FONT_FAMILY}`;
  // The caption's line count decides the figure's height: measure before allocating it.
  const measure = context2d(new OffscreenCanvas(1, 1));
  measure.font = font;
  const margin = figureLayout(width, height, 1).margin;
  const lines = wrapText(captionText(input), width - 2 * margin, (s) => measure.measureText(s).width);
  const layout = figureLayout(width, height, lines.length);

  const canvas = new OffscreenCanvas(layout.width, layout.height);
  const ctx = context2d(canvas);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, layout.width, layout.height);
  ctx.drawImage(image, 0, 0, width, height);

  // The overlay goes through a canvas of its own and drawImage, which blends it over the picture
  // as the page's stacked canvas is; putImageData would replace the picture's pixels instead.
  const overlay = new OffscreenCanvas(width, height);
  const overlayCtx = context2d(overlay);
  const pixels = overlayCtx.createImageData(width, height);
  overlayPixels(pixels, input.map, input.cropBox, { colormap: input.colormap, opacity: input.opacity, range: input.range, smooth: true });
  overlayCtx.putImageData(pixels, 0, 0);
  ctx.drawImage(overlay, 0, 0);

  ctx.font = font;
  drawColorBar(ctx, layout.bar, input.colormap, barLabels(input.range), layout.labelTop);
  lines.forEach((line, i) => ctx.fillText(line, layout.margin, layout.captionTop + i * layout.lineHeight));
  return canvas.convertToBlob({ type: 'image/png' });
}

/**
 * Draws a colour bar of `colormap` in `bar` and its `labels` (text, position along the bar,
 * alignment) with their tops at `labelTop`, in the context's current font.
 */
export function drawColorBar(ctx: OffscreenCanvasRenderingContext2D, bar: Rect, colormap: ColormapId, labels: readonly BarLabel[], labelTop: number): void {
  const barPixels = ctx.createImageData(bar.width, bar.height);
  colorbarPixels(barPixels, colormap);
  ctx.putImageData(barPixels, bar.x, bar.y);
  ctx.fillStyle = TEXT_COLOUR;
  ctx.textBaseline = 'top';
  for (const label of labels) {
    ctx.textAlign = label.align;
    ctx.fillText(label.text, bar.x + label.position * bar.width, labelTop);
  }
  ctx.textAlign = 'left';
}

/**
 * Saves `blob` as `name` through an `<a download>` and a blob URL, revoked once the download has
 * had time to start (revoking at once can cancel it in some browsers).
 */
export function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
