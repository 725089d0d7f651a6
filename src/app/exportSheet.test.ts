import { describe, expect, it } from 'vitest';
import {
  compareCaption, compareFigureLayout, COMPARE_EXPORT_PANEL, GRID_EXPORT_GAP, gridCaption, gridColumnLabel, gridFigureLayout, gridRowLabel, sheetFontSize,
} from './exportSheet';
import { gridCell } from './paint';

const model = { id: 'clip-lens-shapes', variant: 'fp32' as const };

describe('gridFigureLayout: labels, cells, bar and caption without overlaps', () => {
  const g = { rows: 4, columns: 3, cellWidth: 112, cellHeight: 84, rowLabelWidth: 40, captionLines: 2 };
  const l = gridFigureLayout(g);
  it('holds every cell at the requested size, gap apart, right of the row labels and below the column labels', () => {
    const last = gridCell(l.grid, g.rows - 1, g.columns - 1);
    expect(l.grid).toEqual({ rows: 4, columns: 3, width: 112, height: 84, gap: GRID_EXPORT_GAP });
    expect(l.cells.x).toBeGreaterThan(l.rowLabelRight);
    expect(l.rowLabelRight).toBeGreaterThanOrEqual(l.margin + g.rowLabelWidth);
    expect(l.cells.y).toBeGreaterThanOrEqual(l.columnLabelTop + l.fontSize);
    expect(l.cells.x + last.x + last.width + l.margin).toBe(l.width);
    expect(l.width).toBeGreaterThanOrEqual(g.columns * g.cellWidth);
    expect(l.height).toBeGreaterThanOrEqual(g.rows * g.cellHeight);
  });
  it('puts the bar under the cells, as wide as them, then its labels, then the caption lines', () => {
    const last = gridCell(l.grid, g.rows - 1, 0);
    expect(l.bar.x).toBe(l.cells.x);
    expect(l.bar.width).toBe(3 * 112 + 2 * GRID_EXPORT_GAP);
    expect(l.bar.y).toBeGreaterThan(l.cells.y + last.y + last.height);
    expect(l.labelTop).toBeGreaterThanOrEqual(l.bar.y + l.bar.height);
    expect(l.captionTop).toBeGreaterThanOrEqual(l.labelTop + l.lineHeight);
    expect(l.height).toBe(l.captionTop + 2 * l.lineHeight + l.margin);
  });
  it('rejects an empty grid or fractional cells with the sizes it got', () => {
    expect(() => gridFigureLayout({ ...g, rows: 0 })).toThrow(/positive whole numbers, got 0, 3, 112, 84/);
    expect(() => gridFigureLayout({ ...g, cellWidth: 1.5 })).toThrow(/positive whole/);
  });
});

describe('compareFigureLayout: panels side by side, maps lined up', () => {
  const c = { panels: 3, panelWidth: COMPARE_EXPORT_PANEL, panelHeight: 240, titleLines: 2, captionLines: 1 };
  const l = compareFigureLayout(c);
  it('places each panel right of the previous one, none overlapping, all within the figure', () => {
    expect(l.panels).toHaveLength(3);
    l.panels.forEach((p, i) => {
      expect(p.image).toMatchObject({ x: p.x, width: 320, height: 240 });
      expect(p.bar).toMatchObject({ x: p.x, width: 320 });
      if (i > 0) expect(p.x).toBeGreaterThan((l.panels[i - 1]?.x ?? 0) + 320);
    });
    const lastPanel = l.panels[2];
    expect((lastPanel?.x ?? 0) + 320 + l.margin).toBe(l.width);
    expect(l.width).toBeGreaterThanOrEqual(3 * 320);
  });
  it('leaves room for the longest title above every map, the bar and labels below, the caption last', () => {
    for (const p of l.panels) {
      expect(p.image.y).toBeGreaterThanOrEqual(p.titleTop + 2 * l.lineHeight);
      expect(p.bar.y).toBeGreaterThan(p.image.y + p.image.height);
      expect(p.labelTop).toBeGreaterThanOrEqual(p.bar.y + p.bar.height);
      expect(l.captionTop).toBeGreaterThanOrEqual(p.labelTop + l.lineHeight);
    }
    expect(l.height).toBe(l.captionTop + l.lineHeight + l.margin);
    expect(new Set(l.panels.map((p) => p.image.y)).size).toBe(1);
  });
  it('rejects no panels', () => {
    expect(() => compareFigureLayout({ ...c, panels: 0 })).toThrow(/panel count and panel size must be positive/);
  });
});

describe('captions and labels, 1-based as on the page', () => {
  it('grid: model, raw attention of layers × heads, fusion, CLS or the clicked patch', () => {
    expect(gridCaption(model, { fusion: 'mean', queryPatch: null }, 4, 3))
      .toBe('clip-lens-shapes (fp32) · Raw attention, 4 layers × 3 heads · fusion mean · CLS query · each cell on its own min–max scale');
    expect(gridCaption(model, { fusion: 'max', queryPatch: 0 }, 4, 3)).toContain('fusion max · query patch 1 ·');
  });
  it('compare: image, model and the scale the panels were painted on', () => {
    expect(compareCaption('a.png', model, 'shared', 'minmax')).toBe('a.png · clip-lens-shapes (fp32) · one shared scale, min–max');
    expect(compareCaption('a.png', model, 'separate', 'percentile')).toContain('separate scales, 1st–99th percentile');
  });
  it('rows "layer n", columns "head n" or just n in narrow cells; text 12 … 18 px', () => {
    expect(gridRowLabel(0)).toBe('layer 1');
    expect(gridColumnLabel(2, 112)).toBe('head 3');
    expect(gridColumnLabel(2, 40)).toBe('3');
    expect(sheetFontSize(28)).toBe(12);
    expect(sheetFontSize(320)).toBe(18);
  });
});
