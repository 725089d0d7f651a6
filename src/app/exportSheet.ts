/**
 * Layout and captions of the two multi-map figures: the layers × heads grid and the Compare
 * panels side by side. Pure (no DOM): exportSheetFigure.ts draws what these place.
 */
import type { ModelVariant } from '../protocol';
import type { CompareNormalization, CompareScale, ViewOptions } from '../state/store';
import type { Rect } from './exportView';
import { gridSize } from './paint';

/** Grid cells are drawn at most this wide (twice as high at most), whatever the screen shows. */
export const GRID_EXPORT_CELL = 112;
/** Compare panels are drawn at most this wide (twice as high at most). */
export const COMPARE_EXPORT_PANEL = 320;
/** Gap between grid cells, px (the page's grid uses the same). */
export const GRID_EXPORT_GAP = 2;

/** Text size of a figure whose unit (cell or panel) is `unitWidth` px wide: ~1/18 of it, 12 … 18 px. */
export function sheetFontSize(unitWidth: number): number {
  return Math.max(12, Math.min(18, Math.round(unitWidth / 18)));
}

function checkPositive(what: string, ...values: number[]): void {
  if (!values.every((v) => Number.isInteger(v) && v > 0)) throw new Error(`${what} must be positive whole numbers, got ${values.join(', ')}`);
}

/** Shared text metrics: margin, line height and the small spacing between blocks. */
function metrics(fontSize: number) {
  return { margin: Math.round(fontSize * 0.75), lineHeight: Math.round(fontSize * 1.35), pad: Math.round(fontSize * 0.25) };
}

/** Where the grid figure's parts go, figure pixels. */
export interface GridFigureLayout {
  width: number;
  height: number;
  fontSize: number;
  margin: number;
  lineHeight: number;
  /** Top-left corner of cell (0, 0); cell (r, c) is at `cells + gridCell(grid, r, c)`. */
  cells: { x: number; y: number };
  grid: { rows: number; columns: number; width: number; height: number; gap: number };
  /** Top of the column labels (one line above the cells); row labels end `rowLabelRight`, right-aligned. */
  columnLabelTop: number;
  rowLabelRight: number;
  bar: Rect;
  labelTop: number;
  captionTop: number;
}

/**
 * The grid figure: column labels on top, row labels (`rowLabelWidth` px of text, measured by the
 * caller) on the left, `rows × columns` cells of `cellWidth × cellHeight`, then the colour bar
 * under the cells, its labels and `captionLines` caption lines.
 */
export function gridFigureLayout(g: { rows: number; columns: number; cellWidth: number; cellHeight: number; rowLabelWidth: number; captionLines: number }): GridFigureLayout {
  checkPositive('grid rows, columns and cell size', g.rows, g.columns, g.cellWidth, g.cellHeight);
  const fontSize = sheetFontSize(g.cellWidth);
  const { margin, lineHeight, pad } = metrics(fontSize);
  const grid = { rows: g.rows, columns: g.columns, width: g.cellWidth, height: g.cellHeight, gap: GRID_EXPORT_GAP };
  const block = gridSize(grid);
  const rowLabelRight = margin + Math.ceil(Math.max(0, g.rowLabelWidth));
  const cells = { x: rowLabelRight + 2 * pad, y: margin + lineHeight };
  const bar: Rect = { x: cells.x, y: cells.y + block.height + margin, width: block.width, height: Math.round(fontSize * 0.9) };
  const labelTop = bar.y + bar.height + pad;
  const captionTop = labelTop + lineHeight + pad;
  return {
    width: cells.x + block.width + margin, height: captionTop + Math.max(1, g.captionLines) * lineHeight + margin,
    fontSize, margin, lineHeight, cells, grid, columnLabelTop: margin, rowLabelRight, bar, labelTop, captionTop,
  };
}

/** One Compare panel in the figure: title lines from `titleTop`, the map, its bar and range labels. */
export interface ComparePanelLayout {
  x: number;
  titleTop: number;
  image: Rect;
  bar: Rect;
  labelTop: number;
}

export interface CompareFigureLayout {
  width: number;
  height: number;
  fontSize: number;
  margin: number;
  lineHeight: number;
  panels: ComparePanelLayout[];
  captionTop: number;
}

/**
 * The Compare figure: `panels` columns `panelWidth` wide, side by side; each has `titleLines`
 * lines of title (the most any panel needs, so the maps line up), its map `panelHeight` high and
 * its own colour bar; the caption runs under them all.
 */
export function compareFigureLayout(c: { panels: number; panelWidth: number; panelHeight: number; titleLines: number; captionLines: number }): CompareFigureLayout {
  checkPositive('panel count and panel size', c.panels, c.panelWidth, c.panelHeight);
  const fontSize = sheetFontSize(c.panelWidth);
  const { margin, lineHeight, pad } = metrics(fontSize);
  const gap = 2 * margin;
  const imageTop = margin + Math.max(1, c.titleLines) * lineHeight + pad;
  const barTop = imageTop + c.panelHeight + 2 * pad;
  const barHeight = Math.round(fontSize * 0.9);
  const labelTop = barTop + barHeight + pad;
  const panels = Array.from({ length: c.panels }, (_, i): ComparePanelLayout => {
    const x = margin + i * (c.panelWidth + gap);
    return { x, titleTop: margin, image: { x, y: imageTop, width: c.panelWidth, height: c.panelHeight }, bar: { x, y: barTop, width: c.panelWidth, height: barHeight }, labelTop };
  });
  const captionTop = labelTop + lineHeight + margin;
  return {
    width: 2 * margin + c.panels * c.panelWidth + (c.panels - 1) * gap,
    height: captionTop + Math.max(1, c.captionLines) * lineHeight + margin,
    fontSize, margin, lineHeight, panels, captionTop,
  };
}

type ModelLabel = { id: string; variant: ModelVariant };

/** The grid's caption: model, what each cell is (raw attention of one layer's head), fusion and query, 1-based. */
export function gridCaption(model: ModelLabel, view: Pick<ViewOptions, 'fusion' | 'queryPatch'>, layers: number, heads: number): string {
  const query = view.queryPatch === null ? 'CLS query' : `query patch ${view.queryPatch + 1}`;
  return [`${model.id} (${model.variant})`, `Raw attention, ${layers} layers × ${heads} heads`, `fusion ${view.fusion}`, query, 'each cell on its own min–max scale'].join(' · ');
}

/** The Compare figure's caption: the image, model and how the panels' scales were set. */
export function compareCaption(imageName: string, model: ModelLabel, scale: CompareScale, normalization: CompareNormalization): string {
  const scaleText = scale === 'shared' ? 'one shared scale' : 'separate scales';
  const norm = normalization === 'minmax' ? 'min–max' : '1st–99th percentile';
  return [imageName, `${model.id} (${model.variant})`, `${scaleText}, ${norm}`].join(' · ');
}

/** Column and row labels as the page writes them: 1-based; short column labels in narrow cells. */
export const gridRowLabel = (layer: number): string => `layer ${layer + 1}`;
export const gridColumnLabel = (head: number, cellWidth: number): string => (cellWidth >= 48 ? `head ${head + 1}` : `${head + 1}`);
