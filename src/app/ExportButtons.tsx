/**
 * "Export PNG" and "Export numbers" for the focused view: gathers what is painted and hands it to
 * exportView.ts (the numbers) and exportFigure.ts (the picture).
 */
import { useState } from 'react';
import type { PatchMap } from '../explain/types';
import type { ImageResult } from '../protocol';
import type { ColormapId } from '../render/colormap';
import type { Range } from '../render/normalize';
import { useLens, type ImageEntry, type PromptEntry } from '../state/store';
import { downloadBlob, figurePng } from './exportFigure';
import { exportFileName, mapExport, type ExportInput, type ExportPrompt } from './exportView';
import { promptA, promptB, type RelevanceComputed } from './maps';
import { imageBlob, tokenize } from './pipeline';
import { scoresFor } from './scores';

export interface ExportButtonsProps {
  entry: ImageEntry;
  result: ImageResult;
  /** The map, range, colormap and opacity the focus view paints; null while there is no map. */
  map: PatchMap | null;
  range: Range | null;
  colormap: ColormapId;
  computed: RelevanceComputed | undefined;
}

const exportPrompt = (p: PromptEntry | null): ExportPrompt | null => (p ? { text: p.text, ids: tokenize(p.text)?.ids ?? null } : null);

export function ExportButtons({ entry, result, map, range, colormap, computed }: ExportButtonsProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Read at click time, not subscribed: the buttons need not re-render on every store change.
  const gather = (): ExportInput | null => {
    const { model, view, prompts } = useLens.getState();
    if (!map || !range || !model.vision) return null;
    return {
      image: { name: entry.name, width: result.width, height: result.height },
      cropBox: result.cropBox, map, range, colormap, opacity: view.opacity,
      model: { id: model.id, variant: model.variant, backend: model.backend },
      view, vision: model.vision,
      prompt: exportPrompt(promptA(view, prompts)),
      promptB: exportPrompt(promptB(view, prompts)),
      scores: scoresFor(entry.id, prompts).map((s) => ({ prompt: s.text, cosine: s.similarity, probability: s.probability })),
      relevance: computed && { backend: computed.backend, threads: computed.threads, visionBy: computed.visionBy },
      exportedAt: new Date(),
    };
  };

  const exportJson = () => {
    const input = gather();
    if (!input) return;
    const text = JSON.stringify(mapExport(input), null, 1);
    downloadBlob(new Blob([text], { type: 'application/json' }), exportFileName(entry.name, input.view.method, 'json'));
  };

  const exportPng = async () => {
    const input = gather();
    if (!input) return;
    setBusy(true);
    setError(null);
    let bitmap: ImageBitmap | null = null;
    try {
      // The file itself: the figure is at the image's own resolution, and `entry.url` may be a smaller copy.
      bitmap = await createImageBitmap(imageBlob(entry.id) ?? await (await fetch(entry.url)).blob());
      downloadBlob(await figurePng(bitmap, input), exportFileName(entry.name, input.view.method, 'png'));
    } catch (e) {
      setError(`Could not draw the figure: ${e instanceof Error ? e.message : String(e)}. “Export numbers” still works.`);
    } finally {
      bitmap?.close();
      setBusy(false);
    }
  };

  const ready = map !== null && range !== null;
  return (
    <div className="export" role="group" aria-label="Export the focused view">
      <button type="button" data-testid="export-png" disabled={!ready || busy} onClick={() => void exportPng()}>
        {busy ? 'Drawing…' : 'Export PNG'}
      </button>
      <button type="button" data-testid="export-json" disabled={!ready} onClick={exportJson}>Export numbers</button>
      {error && <p className="error" role="alert">{error}</p>}
    </div>
  );
}
