/**
 * Canvas glue for the multi-map figures: the layers × heads grid and the Compare panels, placed
 * by exportSheet.ts and painted with the page's renderer (overlayPixels), encoded as PNG.
 */
import type { PatchMap } from '../explain/types';
import type { CropBox } from '../protocol';
import type { ColormapId } from '../render/colormap';
import type { Range } from '../render/normalize';
import { context2d, drawColorBar, FONT_FAMILY, TEXT_COLOUR } from './exportFigure';
import { compareFigureLayout, gridColumnLabel, gridFigureLayout, gridRowLabel } from './exportSheet';
import { barLabels, wrapText, type Rect } from './exportView';
import { gridCell, gridSize, overlayPixels, type OverlayStyle } from './paint';

/** The page's dimmed cell background (app.css `.heatmap-grid .cell-image`). */
const CELL_DIM_FILTER = 'brightness(0.55) saturate(0.6)';

/** The picture, its size and the model's crop in its own pixels. */
export interface SheetImage {
  source: CanvasImageSource;
  width: number;
  height: number;
  cropBox: CropBox;
}

/** The crop box in the pixels of a `width × height` copy of the image. */
function scaledBox(image: SheetImage, width: number, height: number): CropBox {
  const sx = width / image.width;
  const sy = height / image.height;
  const b = image.cropBox;
  return { x: b.x * sx, y: b.y * sy, width: b.width * sx, height: b.height * sy };
}

function measurer(font: string): (s: string) => number {
  const ctx = context2d(new OffscreenCanvas(1, 1));
  ctx.font = font;
  return (s) => ctx.measureText(s).width;
}

/** The image dimmed as the grid's cells show it: over black, darker and less saturated. */
function drawDimmed(ctx: OffscreenCanvasRenderingContext2D, image: CanvasImageSource, r: Rect): void {
  ctx.save();
  ctx.fillStyle = '#000';
  ctx.fillRect(r.x, r.y, r.width, r.height);
  ctx.filter = CELL_DIM_FILTER;
  const filtered = ctx.filter === CELL_DIM_FILTER;
  ctx.drawImage(image, r.x, r.y, r.width, r.height);
  ctx.restore();
  // Without canvas filters, about the same darkening by a translucent black.
  if (!filtered) {
    ctx.fillStyle = 'rgba(0, 0, 0, 0.45)';
    ctx.fillRect(r.x, r.y, r.width, r.height);
  }
}

export interface GridFigureInput {
  /** `cells[layer][head]`, every one present. */
  cells: readonly (readonly PatchMap[])[];
  cellWidth: number;
  cellHeight: number;
  colormap: ColormapId;
  caption: string;
}

/**
 * The layers × heads grid as a PNG: each cell the dimmed image with its map on its own min–max
 * scale blended over it as the page does (`screen`), 1-based labels, the colour bar and caption.
 */
export async function gridPng(image: SheetImage, input: GridFigureInput): Promise<Blob> {
  const rows = input.cells.length;
  const columns = input.cells[0]?.length ?? 0;
  const { cellWidth, cellHeight } = input;
  const base = { rows, columns, cellWidth, cellHeight, rowLabelWidth: 0, captionLines: 1 };
  const font = `${gridFigureLayout(base).fontSize}px ${FONT_FAMILY}`;
  const measure = measurer(font);
  const rowLabelWidth = Math.max(0, ...Array.from({ length: rows }, (_, r) => measure(gridRowLabel(r))));
  const first = gridFigureLayout({ ...base, rowLabelWidth });
  const lines = wrapText(input.caption, first.width - 2 * first.margin, measure);
  const layout = gridFigureLayout({ ...base, rowLabelWidth, captionLines: lines.length });

  const canvas = new OffscreenCanvas(layout.width, layout.height);
  const ctx = context2d(canvas);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, layout.width, layout.height);

  const box = scaledBox(image, cellWidth, cellHeight);
  const style: OverlayStyle = { colormap: input.colormap, opacity: 1, range: null, smooth: false };
  const block = gridSize(layout.grid);
  const overlay = new OffscreenCanvas(block.width, block.height);
  const overlayCtx = context2d(overlay);
  const pixels = overlayCtx.createImageData(block.width, block.height);
  input.cells.forEach((row, r) => row.forEach((map, c) => {
    const cell = gridCell(layout.grid, r, c);
    drawDimmed(ctx, image.source, { ...cell, x: layout.cells.x + cell.x, y: layout.cells.y + cell.y });
    overlayPixels(pixels, map, box, style, cell);
  }));
  overlayCtx.putImageData(pixels, 0, 0);
  // The page's grid canvas has `mix-blend-mode: screen` over the dimmed pictures.
  ctx.globalCompositeOperation = 'screen';
  ctx.drawImage(overlay, layout.cells.x, layout.cells.y);
  ctx.globalCompositeOperation = 'source-over';

  ctx.font = font;
  ctx.fillStyle = TEXT_COLOUR;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'center';
  for (let c = 0; c < columns; c++) {
    const cell = gridCell(layout.grid, 0, c);
    ctx.fillText(gridColumnLabel(c, cellWidth), layout.cells.x + cell.x + cell.width / 2, layout.columnLabelTop);
  }
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let r = 0; r < rows; r++) {
    const cell = gridCell(layout.grid, r, 0);
    ctx.fillText(gridRowLabel(r), layout.rowLabelRight, layout.cells.y + cell.y + cell.height / 2);
  }
  drawColorBar(ctx, layout.bar, input.colormap, [
    { text: 'lowest in its cell', position: 0, align: 'left' },
    { text: 'highest in its cell', position: 1, align: 'right' },
  ], layout.labelTop);
  lines.forEach((line, i) => ctx.fillText(line, layout.margin, layout.captionTop + i * layout.lineHeight));
  return canvas.convertToBlob({ type: 'image/png' });
}

/** One Compare panel as painted: its title, map, style and the range its colour bar shows. */
export interface ComparePanelFigure {
  title: string;
  map: PatchMap;
  style: OverlayStyle;
  range: Range;
}

export interface CompareFigureInput {
  panels: readonly ComparePanelFigure[];
  panelWidth: number;
  panelHeight: number;
  caption: string;
}

/** The Compare panels side by side as a PNG: each title, map over the image and colour bar with its range. */
export async function comparePng(image: SheetImage, input: CompareFigureInput): Promise<Blob> {
  const { panelWidth, panelHeight } = input;
  const base = { panels: input.panels.length, panelWidth, panelHeight, titleLines: 1, captionLines: 1 };
  const font = `${compareFigureLayout(base).fontSize}px ${FONT_FAMILY}`;
  const measure = measurer(font);
  const titles = input.panels.map((p) => wrapText(p.title, panelWidth, measure));
  const first = compareFigureLayout(base);
  const lines = wrapText(input.caption, first.width - 2 * first.margin, measure);
  const layout = compareFigureLayout({ ...base, titleLines: Math.max(1, ...titles.map((t) => t.length)), captionLines: lines.length });

  const canvas = new OffscreenCanvas(layout.width, layout.height);
  const ctx = context2d(canvas);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, layout.width, layout.height);
  const box = scaledBox(image, panelWidth, panelHeight);
  const overlay = new OffscreenCanvas(panelWidth, panelHeight);
  const overlayCtx = context2d(overlay);
  const pixels = overlayCtx.createImageData(panelWidth, panelHeight);
  ctx.font = font;
  input.panels.forEach((panel, i) => {
    const place = layout.panels[i];
    if (!place) return;
    const { image: r } = place;
    ctx.drawImage(image.source, r.x, r.y, r.width, r.height);
    // As on the page (a canvas stacked over the picture): blended over it, not replacing it.
    overlayPixels(pixels, panel.map, box, panel.style);
    overlayCtx.putImageData(pixels, 0, 0);
    ctx.drawImage(overlay, r.x, r.y);
    ctx.fillStyle = TEXT_COLOUR;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    (titles[i] ?? []).forEach((line, k) => ctx.fillText(line, place.x, place.titleTop + k * layout.lineHeight));
    drawColorBar(ctx, place.bar, panel.style.colormap, barLabels(panel.range), place.labelTop);
  });
  lines.forEach((line, i) => ctx.fillText(line, layout.margin, layout.captionTop + i * layout.lineHeight));
  return canvas.convertToBlob({ type: 'image/png' });
}
