/**
 * A button that draws a figure from the image and saves it as PNG, with its busy state and a
 * message when drawing fails; and the layers × heads grid's button built on it.
 */
import { useState } from 'react';
import type { PatchMap } from '../explain/types';
import type { ImageResult } from '../protocol';
import type { ColormapId } from '../render/colormap';
import { fitSize } from '../render/geometry';
import { useLens, type ImageEntry } from '../state/store';
import { downloadBlob } from './exportFigure';
import { GRID_EXPORT_CELL, gridCaption } from './exportSheet';
import { gridPng, type SheetImage } from './exportSheetFigure';
import { exportFileName } from './exportView';

export interface ExportPngButtonProps {
  testId: string;
  label: string;
  imageUrl: string;
  /** False while something the figure needs is missing. */
  ready: boolean;
  /** Draws the figure over `image` (decoded from `imageUrl`): its PNG and file name. */
  draw: (image: CanvasImageSource) => Promise<{ blob: Blob; name: string }>;
  /** `data-*` attributes for tests (e.g. the drawn cell size). */
  data?: Record<string, string | number>;
}

export function ExportPngButton({ testId, label, imageUrl, ready, draw, data = {} }: ExportPngButtonProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    let bitmap: ImageBitmap | null = null;
    try {
      bitmap = await createImageBitmap(await (await fetch(imageUrl)).blob());
      const { blob, name } = await draw(bitmap);
      downloadBlob(blob, name);
    } catch (e) {
      setError(`Could not draw the figure: ${e instanceof Error ? e.message : String(e)}.`);
    } finally {
      bitmap?.close();
      setBusy(false);
    }
  };
  const attrs = Object.fromEntries(Object.entries(data).map(([k, v]) => [`data-${k}`, String(v)]));
  return (
    <span className="export">
      <button type="button" data-testid={testId} disabled={!ready || busy} onClick={() => void run()} {...attrs}>
        {busy ? 'Drawing…' : label}
      </button>
      {error && <span className="error" role="alert">{error}</span>}
    </span>
  );
}

/** The layers × heads grid's export: every cell at up to GRID_EXPORT_CELL px, once every cell has its map. */
export function GridExportButton({ entry, result, cells, colormap }: { entry: ImageEntry; result: ImageResult; cells: readonly (readonly (PatchMap | null)[])[]; colormap: ColormapId }) {
  const { width, height } = fitSize(result.width, result.height, GRID_EXPORT_CELL, 2 * GRID_EXPORT_CELL);
  const complete = cells.length > 0 && cells.every((row) => row.every((m) => m !== null));
  const draw = async (source: CanvasImageSource) => {
    const { model, view } = useLens.getState();
    const image: SheetImage = { source, width: result.width, height: result.height, cropBox: result.cropBox };
    const caption = gridCaption(model, view, result.attention.layers, result.attention.heads);
    const full = cells.map((row) => row.map((m) => m as PatchMap)); // checked by `complete`
    const blob = await gridPng(image, { cells: full, cellWidth: width, cellHeight: height, colormap, caption });
    return { blob, name: exportFileName(entry.name, 'layers-heads', 'png') };
  };
  return (
    <ExportPngButton testId="export-grid-png" label="Export grid as PNG" imageUrl={entry.url}
      ready={complete} draw={draw} data={{ 'cell-width': width, 'cell-height': height, rows: cells.length, columns: result.attention.heads }} />
  );
}
