/**
 * Small multiples: one map per (row, column) — the focus view's layers × heads — drawn on ONE
 * canvas, with a transparent button over each cell to pick it. A canvas per cell (144 on a
 * ViT-B) made the first result a main-thread task of ~300 ms: each canvas is created, painted,
 * uploaded and composited on its own. Cells whose picture did not change are not repainted.
 */
import { useEffect, useRef } from 'react';
import type { PatchMap } from '../explain/types';
import type { CropBox } from '../protocol';
import { gridCell, gridSize, overlayPixels, samePicture, type GridLayout, type OverlayPicture, type OverlayStyle } from './paint';

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
  /** The image, shown dimmed under every cell (the map is drawn over it, see app.css). */
  imageUrl?: string;
  rowLabel: (row: number) => string;
  columnLabel: (column: number) => string;
  /** Accessible name of a cell's button. */
  cellLabel: (row: number, column: number) => string;
  selected: (row: number, column: number) => boolean;
  onPick: (row: number, column: number) => void;
  testId?: string;
  /** Id of the element that says what the cells and their colours mean. */
  describedBy?: string;
}

const GAP = 2;
/**
 * Main-thread time per animation frame for painting cells; the rest wait for the next frame. A
 * ViT-B's 144 cells take ~3 ms once the JIT has warmed up but ~50–100 ms the first time, and that
 * first time is when the first result arrives.
 */
const PAINT_BUDGET_MS = 6;

export function HeatmapGrid(props: HeatmapGridProps) {
  const { cells, columns, cellWidth, cellHeight, cropBox, imageWidth, imageHeight, style } = props;
  const rows = cells.length;
  const layout: GridLayout = { rows, columns, width: cellWidth, height: cellHeight, gap: GAP };
  const size = gridSize(layout);
  const ref = useRef<HTMLCanvasElement>(null);
  /** What each cell shows now, and the canvas's pixels (kept, so a repaint touches changed cells only). */
  const painted = useRef<{ pictures: OverlayPicture[][]; image: ImageData | null }>({ pictures: [], image: null });

  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const sx = cellWidth / imageWidth;
    const sy = cellHeight / imageHeight;
    const box = { x: cropBox.x * sx, y: cropBox.y * sy, width: cropBox.width * sx, height: cropBox.height * sy };
    const state = painted.current;
    if (!state.image || state.image.width !== canvas.width || state.image.height !== canvas.height) {
      state.image = ctx.createImageData(canvas.width, canvas.height);
      state.pictures = [];
    }
    const image = state.image;
    // The cells whose picture changed, painted a few per frame (see PAINT_BUDGET_MS).
    const queue: { r: number; c: number; picture: OverlayPicture }[] = [];
    cells.forEach((row, r) => {
      for (let c = 0; c < columns; c++) {
        const picture: OverlayPicture = { map: row[c] ?? null, box, style, width: cellWidth, height: cellHeight };
        const before = state.pictures[r]?.[c];
        if (!before || !samePicture(before, picture)) queue.push({ r, c, picture });
      }
    });
    canvas.dataset['pending'] = String(queue.length);
    if (queue.length === 0) return;
    let frame = 0;
    const step = () => {
      const start = performance.now();
      let top = Infinity;
      let bottom = 0;
      let done = 0;
      while (done < queue.length && (done === 0 || performance.now() - start < PAINT_BUDGET_MS)) {
        const { r, c, picture } = queue[done] as (typeof queue)[number];
        const region = gridCell(layout, r, c);
        overlayPixels(image, picture.map, box, style, region);
        (state.pictures[r] ??= [])[c] = picture;
        top = Math.min(top, region.y);
        bottom = Math.max(bottom, region.y + region.height);
        done++;
      }
      ctx.putImageData(image, 0, 0, 0, top, image.width, bottom - top);
      queue.splice(0, done);
      canvas.dataset['pending'] = String(queue.length);
      if (queue.length > 0) frame = requestAnimationFrame(step);
    };
    frame = requestAnimationFrame(step);
    return () => cancelAnimationFrame(frame);
    // layout is derived from the listed values
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cells, columns, cellWidth, cellHeight, cropBox, imageWidth, imageHeight, style]);

  const track = (n: number, px: number) => `repeat(${n}, ${px}px)`;
  return (
    <div className="heatmap-grid" role="group" aria-label="Layers × heads" aria-describedby={props.describedBy} data-testid={props.testId} data-rows={rows} data-columns={columns}
      style={{ gridTemplateColumns: `auto ${track(columns, cellWidth)}`, gridTemplateRows: `auto ${track(rows, cellHeight)}`, gap: GAP }}>
      {Array.from({ length: columns }, (_, c) => (
        <span key={`c${c}`} className="column-label" style={{ gridRow: 1, gridColumn: c + 2 }}>{props.columnLabel(c)}</span>
      ))}
      {cells.map((_, r) => (
        <span key={`r${r}`} className="row-label" style={{ gridRow: r + 2, gridColumn: 1 }}>{props.rowLabel(r)}</span>
      ))}
      {props.imageUrl && cells.map((_, r) => Array.from({ length: columns }, (__, c) => (
        <span key={`i${r}.${c}`} className="cell-image" aria-hidden="true"
          style={{ gridRow: r + 2, gridColumn: c + 2, backgroundImage: `url("${props.imageUrl}")` }} />
      )))}
      <canvas ref={ref} aria-hidden="true" width={size.width} height={size.height}
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
}
