/**
 * The focused image, large: hover shows a patch's value, a click shows where that patch attends;
 * the colour bar; relevance progress; the Compare panel; every layer × head as small multiples;
 * the prompt's tokens.
 */
import { useDeferredValue, useEffect, useMemo, useState } from 'react';
import type { PatchMap } from '../explain/types';
import { fitSize } from '../render/geometry';
import { rangeOf } from '../render/normalize';
import { imageResults, isReleased, touchImageResult } from '../state/results';
import { resolvedHeads, resolvedLayer, useLens, useResultsVersion } from '../state/store';
import { ColorBar } from './ColorBar';
import { ComparePanel } from './ComparePanel';
import { ExportButtons } from './ExportButtons';
import { GridExportButton } from './ExportPngButton';
import { HeatmapCanvas } from './HeatmapCanvas';
import { colormapFor, extremes, imageView, layerHeadMaps, promptA, promptB, viewRows, type RelevanceComputed } from './maps';
import type { OverlayStyle } from './paint';
import { HeadRanking } from './HeadRanking';
import { HeatmapGrid } from './HeatmapGrid';
import { RelevanceStatus } from './RelevanceStatus';
import { TokenView } from './TokenView';
import { useElementWidth } from './useElementWidth';
import { reanalyse } from './pipeline';

/** The focused image's width before its panel is measured, and the most it grows to. */
const FOCUS_WIDTH = 448;
const FOCUS_MAX_WIDTH = 760;
/** Small multiples' cell width: as wide as fits the panel, within these; narrower panels scroll. */
const THUMB_WIDTH = 84;
const THUMB_MIN_WIDTH = 28;
/** Room for the grid's row labels ("layer 12") and the panel's padding. */
const GRID_LABELS_WIDTH = 64;

const TF_BACKEND_LABELS: Record<string, string> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WASM', cpu: 'CPU' };

/** "Relevance computed in 1.3 s with tfjs (WASM, 2 threads)." */
function relevanceComputedText(c: RelevanceComputed): string {
  const tfjs = `tfjs (${TF_BACKEND_LABELS[c.backend] ?? c.backend}${c.threads > 1 ? `, ${c.threads} threads` : ''})`;
  const how = c.visionBy === 'onnxruntime' ? `ONNX Runtime for the image and ${tfjs} for the prompt` : tfjs;
  return c.cached ? `Relevance from the worker's cache (computed with ${how}).` : `Relevance computed in ${(c.ms / 1000).toFixed(1)} s with ${how}.`;
}

export function FocusView() {
  const view = useLens((s) => s.view);
  const setView = useLens((s) => s.setView);
  const images = useLens((s) => s.images);
  const version = useResultsVersion(view.focusImageId);
  // Deferred: a paste of hundreds of prompts updates the list first, then this, interruptibly.
  const prompts = useDeferredValue(useLens((s) => s.prompts));
  const [hover, setHover] = useState<{ patch: number; value: number } | null>(null);
  const [panelRef, panelWidth] = useElementWidth<HTMLElement>();
  const entry = images.find((im) => im.id === view.focusImageId);
  const result = entry ? imageResults.get(entry.id) : undefined;
  // The image being looked at keeps its attention; a released one is analysed again.
  const entryId = entry?.status === 'done' ? entry.id : null;
  useEffect(() => {
    if (!entryId) return;
    if (isReleased(entryId)) reanalyse(entryId);
    else touchImageResult(entryId);
  }, [entryId, version]);
  const shown = useMemo(() => (entry && result ? imageView(entry.id, result, view, prompts) : null),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [entry, result, view, prompts, version]);
  const map = shown?.map ?? null;
  const signed = shown?.signed ?? false;
  // Signed maps (A − B) on a symmetric range, so 0 ("the same for both") is the neutral colour.
  const range = useMemo(() => (map ? rangeOf(map.values, signed ? 'signed' : 'minmax') : null), [map, signed]);
  const ext = useMemo(() => (map ? extremes(map.values) : null), [map]);
  const colormap = colormapFor(view, signed);
  const style = useMemo((): OverlayStyle => ({ colormap, opacity: view.opacity, range, smooth: true }),
    [colormap, view.opacity, range]);
  const thumbStyle = useMemo((): OverlayStyle => ({ colormap: view.colormap, opacity: 1, range: null, smooth: false }), [view.colormap]);
  // The small multiples depend on neither the selected layer nor the heads: picking one must not
  // recompute (or repaint) the whole grid. While a clicked patch's rows are on their way, the
  // grid stays in place with empty cells.
  const thumbs = useMemo((): (PatchMap | null)[][] | null => {
    if (!entry || !result || view.method !== 'attention') return null;
    const rows = viewRows(entry.id, result, view);
    const { layers, heads } = result.attention;
    if (rows.status !== 'done') return Array.from({ length: layers }, () => new Array<PatchMap | null>(heads).fill(null));
    return layerHeadMaps(result, { fusion: view.fusion, queryPatch: view.queryPatch }, rows.rows);
  },
  // version: a model switch replaces results under the same image id; fetched rows arrive
  // eslint-disable-next-line react-hooks/exhaustive-deps
  [entry?.id, result, view.method, view.fusion, view.queryPatch, version]);

  if (!entry || !result) {
    return <section className="focus" aria-label="Focused image" ref={panelRef}><p className="hint">Click an analysed image to look closer.</p></section>;
  }
  // At most twice as tall as wide: a 1 × 65535 image must not ask for a canvas of millions of pixels.
  // The panel's content width (its padding is 2 × 12 px); the stage fills it, up to FOCUS_MAX_WIDTH.
  const room = panelWidth === null ? FOCUS_WIDTH : Math.max(160, panelWidth - 24);
  const focusWidth = Math.min(FOCUS_MAX_WIDTH, room);
  const { width, height } = fitSize(result.width, result.height, focusWidth, Math.min(2 * focusWidth, FOCUS_MAX_WIDTH));
  const { layers, heads } = result.attention;
  const cellRoom = Math.floor((room - GRID_LABELS_WIDTH) / Math.max(1, heads)) - 2;
  const thumbMax = Math.max(THUMB_MIN_WIDTH, Math.min(THUMB_WIDTH, cellRoom));
  const { width: thumbW, height: thumbH } = fitSize(result.width, result.height, thumbMax, 2 * thumbMax);
  const layer = resolvedLayer(view, layers);
  const on = resolvedHeads(view, heads);
  const a = promptA(view, prompts);
  const b = view.method === 'difference' ? promptB(view, prompts) : null;
  const relevanceShown = (shown?.waiting.length ?? 0) + (shown?.cancelled.length ?? 0) > 0;

  return (
    <section className="focus" aria-label="Focused image" ref={panelRef}>
      <h2>{entry.name}</h2>
      <div className="stage" style={{ width, height }} data-testid="focus-stage" data-method={view.method}
        data-peak={ext?.peak ?? -1} data-trough={ext?.trough ?? -1} data-signed={signed ? 'yes' : 'no'}
        data-prompt={a?.text ?? ''} data-prompt-b={b?.text ?? ''}
        data-image={entry.name} data-ready={map ? 'yes' : 'no'}>
        <img src={entry.url} alt={entry.name} width={width} height={height} />
        <HeatmapCanvas
          map={map} width={width} height={height} cropBox={result.cropBox}
          imageWidth={result.width} imageHeight={result.height} style={style} testId="focus-heatmap"
          onHover={(patch, value) => setHover(patch === null || value === null ? null : { patch, value })}
          onPick={(patch) => setView({ queryPatch: patch === null || patch === view.queryPatch ? null : patch })}
        />
      </div>
      {shown?.note && !relevanceShown && <p className="status">{shown.note}</p>}
      {shown && <RelevanceStatus waiting={shown.waiting} cancelled={shown.cancelled} />}
      {shown?.computed && (
        <p className="hint" data-testid="relevance-computed" data-backend={shown.computed.backend} data-threads={shown.computed.threads}
          data-vision-by={shown.computed.visionBy}>
          {relevanceComputedText(shown.computed)}
        </p>
      )}
      {shown?.backendNote && <p className="note" data-testid="tf-backend-note">{shown.backendNote}</p>}
      <p className="hover-readout" data-testid="hover-value" aria-live="polite">
        {hover ? `patch ${hover.patch + 1} (row ${Math.floor(hover.patch / result.grid.width) + 1}, column ${(hover.patch % result.grid.width) + 1}): ${hover.value.toPrecision(3)}` : 'Hover the image to read a patch; click it to see where it attends.'}
      </p>
      {range && <ColorBar colormap={colormap} min={range.min} max={range.max} />}
      <ExportButtons entry={entry} result={result} map={map} range={range} colormap={colormap} computed={shown?.computed} />
      {signed && a && b && (
        <p className="hint" data-testid="difference-legend">
          Upper end: more “{a.text}” (A); lower end: more “{b.text}” (B); middle: the same for both.
        </p>
      )}
      <ComparePanel imageId={entry.id} imageName={entry.name} imageUrl={entry.url} result={result} />
      {thumbs && (
        <div className="grid-wrap">
          <h3 id="layer-grid-title">Layers × heads</h3>
          <p className="hint legend" id="layer-grid-legend" data-testid="layer-grid-legend">
            Row: layer (1–{layers}); column: head (1–{heads}). Each cell: that head's raw attention from
            {view.queryPatch === null ? ' the CLS token' : ` patch ${view.queryPatch + 1}`} over the image's patches,
            over a dimmed copy of the image, on <strong>its own scale</strong>: the cell's least-attended patch at the
            colour bar's left end, its most-attended at the right, so colours compare patches within a cell, not
            across cells. Click a cell to show that layer and head above.
          </p>
          <ColorBar colormap={view.colormap} labels={['lowest in its cell', '', 'highest in its cell']} testId="layer-grid-colorbar" />
          <GridExportButton entry={entry} result={result} cells={thumbs} colormap={view.colormap} />
          <HeatmapGrid
            cells={thumbs} columns={heads} cellWidth={thumbW} cellHeight={thumbH}
            cropBox={result.cropBox} imageWidth={result.width} imageHeight={result.height} style={thumbStyle}
            imageUrl={entry.url} describedBy="layer-grid-legend"
            rowLabel={(l) => `layer ${l + 1}`} columnLabel={(h) => (thumbW >= 48 ? `head ${h + 1}` : `${h + 1}`)}
            cellLabel={(l, h) => `Show layer ${l + 1}, head ${h + 1}`}
            selected={(l, h) => l === layer && on[h] === true && on.filter(Boolean).length === 1}
            onPick={(l, h) => setView({ layer: l, heads: Array.from({ length: heads }, (_, i) => i === h) })}
            testId="layer-grid"
          />
        </div>
      )}
      {view.method === 'relevance' && a && <HeadRanking imageId={entry.id} promptText={a.text} heads={heads} />}
      <TokenView />
    </section>
  );
}
