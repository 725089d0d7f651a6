/**
 * Small multiples: one map per (row, column) — the focus view's layers × heads — drawn on ONE
 * canvas, with a transparent button over each cell to pick it. A canvas per cell (144 on a
 * ViT-B) made the first result a main-thread task of ~300 ms: each canvas is created, painted,
 * uploaded and composited on its own. Cells whose picture did not change are not repainted.
 */
import { memo, useEffect, useRef } from 'react';
import type { PatchMap } from '../explain/types';
import type { CropBox } from '../protocol';
import { gridPixels, gridSize, samePicture, type GridLayout, type OverlayPicture, type OverlayStyle } from './paint';

export interface HeatmapGridProps {
  /** `cells[row][column]`; null paints a transparent cell (its map is on its way). */
  cells: readonly (readonly (PatchMap | null)[])[];
  columns: number;
  cellWidth: number;
  cellHeight: number;
  /** The model's crop in the image's own pixels, and that image's size. */
  cropBox: CropBox;
  imageWidth: number;
  imageHeight: number;
  style: OverlayStyle;
  rowLabel: (row: number) => string;
  columnLabel: (column: number) => string;
  /** Accessible name of a cell's button. */
  cellLabel: (row: number, column: number) => string;
  selected: (row: number, column: number) => boolean;
  onPick: (row: number, column: number) => void;
  testId?: string;
}

const GAP = 2;

export const HeatmapGrid = memo(function HeatmapGrid(props: HeatmapGridProps) {
  const { cells, columns, cellWidth, cellHeight, cropBox, imageWidth, imageHeight, style } = props;
  const rows = cells.length;
  const layout: GridLayout = { rows, columns, width: cellWidth, height: cellHeight, gap: GAP };
  const size = gridSize(layout);
  const ref = useRef<HTMLCanvasElement>(null);
  /** What each cell shows now, and the canvas's pixels (kept, so a repaint touches changed cells only). */
  const painted = useRef<{ pictures: (OverlayPicture | null)[][]; image: ImageData | null }>({ pictures: [], image: null });

  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const sx = cellWidth / imageWidth;
    const sy = cellHeight / imageHeight;
    const box = { x: cropBox.x * sx, y: cropBox.y * sy, width: cropBox.width * sx, height: cropBox.height * sy };
    const wanted = cells.map((row) => Array.from({ length: columns }, (_, c): OverlayPicture =>
      ({ map: row[c] ?? null, box, style, width: cellWidth, height: cellHeight })));
    const state = painted.current;
    const resized = !state.image || state.image.width !== canvas.width || state.image.height !== canvas.height;
    const stale = (r: number, c: number) => {
      const before = resized ? null : state.pictures[r]?.[c];
      return !before || !samePicture(before, wanted[r]?.[c] as OverlayPicture);
    };
    if (!wanted.some((row, r) => row.some((_, c) => stale(r, c)))) return;
    const frame = requestAnimationFrame(() => {
      const image = resized || !state.image ? ctx.createImageData(canvas.width, canvas.height) : state.image;
      gridPixels(image, cells, layout, box, style, stale);
      ctx.putImageData(image, 0, 0);
      state.image = image;
      state.pictures = wanted;
    });
    return () => cancelAnimationFrame(frame);
    // layout is derived from the listed values
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cells, columns, cellWidth, cellHeight, cropBox, imageWidth, imageHeight, style]);

  const track = (n: number, px: number) => `repeat(${n}, ${px}px)`;
  return (
    <div className="heatmap-grid" role="group" data-testid={props.testId} data-rows={rows} data-columns={columns}
      style={{ gridTemplateColumns: `auto ${track(columns, cellWidth)}`, gridTemplateRows: `auto ${track(rows, cellHeight)}`, gap: GAP }}>
      {Array.from({ length: columns }, (_, c) => (
        <span key={`c${c}`} className="column-label" style={{ gridRow: 1, gridColumn: c + 2 }}>{props.columnLabel(c)}</span>
      ))}
      {cells.map((_, r) => (
        <span key={`r${r}`} className="row-label" style={{ gridRow: r + 2, gridColumn: 1 }}>{props.rowLabel(r)}</span>
      ))}
      <canvas ref={ref} width={size.width} height={size.height}
        style={{ gridRow: `2 / span ${Math.max(1, rows)}`, gridColumn: `2 / span ${columns}`, width: size.width, height: size.height }} />
      {cells.map((_, r) => Array.from({ length: columns }, (__, c) => {
        const selected = props.selected(r, c);
        return (
          <button key={`${r}.${c}`} type="button" className={selected ? 'cell selected' : 'cell'} aria-pressed={selected}
            aria-label={props.cellLabel(r, c)} style={{ gridRow: r + 2, gridColumn: c + 2 }}
            onClick={() => props.onPick(r, c)} />
        );
      }))}
    </div>
  );
});
