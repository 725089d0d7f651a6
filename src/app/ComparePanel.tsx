/**
 * Compare: the focused image under two or more methods (or one method for two prompts), side by
 * side, each on its own canvas, on one shared colour scale or each on its own.
 */
import { useDeferredValue, useMemo } from 'react';
import { fitSize } from '../render/geometry';
import type { ImageResult } from '../protocol';
import type { Range } from '../render/normalize';
import { newPanelId, useLens, useResultsVersion, type CompareNormalization, type ComparePanelSpec, type ViewOptions } from '../state/store';
import { ColorBar } from './ColorBar';
import { panelRanges } from './compare';
import { COMPARE_EXPORT_PANEL, compareCaption } from './exportSheet';
import { comparePng, type ComparePanelFigure } from './exportSheetFigure';
import { exportFileName } from './exportView';
import { ExportPngButton } from './ExportPngButton';
import { HeatmapCanvas } from './HeatmapCanvas';
import { colormapFor, IMAGE_METHODS, imageView, isPromptMethod, methodLabel, promptB, type ImageView } from './maps';
import type { OverlayStyle } from './paint';
import { rerunRelevance } from './relevance';

const PANEL_WIDTH = 212;
const MAX_PANELS = 4;

interface Panel {
  spec: ComparePanelSpec;
  label: string;
  shown: ImageView;
}

/** The view a panel shows: the current view with the panel's method and prompt. */
function panelView(view: ViewOptions, spec: ComparePanelSpec): ViewOptions {
  return { ...view, method: spec.method, promptId: spec.promptId ?? view.promptId };
}

export function ComparePanel({ imageId, imageName, imageUrl, result }: { imageId: string; imageName: string; imageUrl: string; result: ImageResult }) {
  const compare = useLens((s) => s.compare);
  const setCompare = useLens((s) => s.setCompare);
  const view = useLens((s) => s.view);
  // Deferred: a paste of hundreds of prompts updates the list first, then this, interruptibly.
  const prompts = useDeferredValue(useLens((s) => s.prompts));
  const version = useResultsVersion(imageId);

  const panels = useMemo((): Panel[] => {
    if (!compare.open) return [];
    return compare.panels.map((spec) => {
      const v = panelView(view, spec);
      const a = prompts.find((p) => p.id === v.promptId)?.text ?? '';
      let label = methodLabel(spec.method);
      if (spec.method === 'difference') label += `: “${a}” − “${promptB(v, prompts)?.text ?? '?'}”`;
      else if (isPromptMethod(spec.method)) label += `: “${a}”`;
      return { spec, label, shown: imageView(imageId, result, v, prompts) };
    });
    // version: worker results arrive asynchronously
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [compare.open, compare.panels, view, prompts, imageId, result, version]);

  const ranges = useMemo(
    () => panelRanges(panels.map((p) => (p.shown.map ? { values: p.shown.map.values, signed: p.shown.signed } : null)), compare.scale, compare.normalization),
    [panels, compare.scale, compare.normalization],
  );

  const styles = useMemo(() => panels.map((p, i): OverlayStyle => ({
    colormap: colormapFor(view, p.shown.signed), opacity: view.opacity, range: ranges[i] ?? null, smooth: true,
  })), [panels, ranges, view]);

  const toggle = (
    <button type="button" aria-expanded={compare.open} data-testid="compare-toggle" onClick={() => setCompare({ open: !compare.open })}>
      {compare.open ? 'Hide comparison' : 'Compare methods side by side'}
    </button>
  );
  if (!compare.open) return <div className="compare">{toggle}</div>;

  const setPanel = (id: string, patch: Partial<ComparePanelSpec>) =>
    setCompare({ panels: compare.panels.map((p) => (p.id === id ? { ...p, ...patch } : p)) });
  // At most twice as tall as wide, never 0 high (see fitSize).
  const { width, height } = fitSize(result.width, result.height, PANEL_WIDTH, 2 * PANEL_WIDTH);
  const exportSize = fitSize(result.width, result.height, COMPARE_EXPORT_PANEL, 2 * COMPARE_EXPORT_PANEL);
  // Every panel as painted: title, map, style and range; null until all have their maps.
  const figures = panels.map((p, i): ComparePanelFigure | null => {
    const range = ranges[i];
    const style = styles[i];
    return p.shown.map && range && style ? { title: p.label, map: p.shown.map, style, range } : null;
  });
  const drawFigure = async (source: CanvasImageSource) => {
    const { model } = useLens.getState();
    const blob = await comparePng({ source, width: result.width, height: result.height, cropBox: result.cropBox }, {
      panels: figures.filter((f) => f !== null), panelWidth: exportSize.width, panelHeight: exportSize.height,
      caption: compareCaption(imageName, model, compare.scale, compare.normalization),
    });
    return { blob, name: exportFileName(imageName, 'compare', 'png') };
  };

  return (
    <div className="compare" data-testid="compare">
      <h3>Compare {toggle}</h3>
      <div className="compare-options">
        <label>
          <input type="checkbox" data-testid="compare-shared" checked={compare.scale === 'shared'}
            onChange={(e) => setCompare({ scale: e.target.checked ? 'shared' : 'separate' })} />
          {' '}Shared scale (off: separate scales)
        </label>
        <label>
          Normalise by{' '}
          <select aria-label="Compare normalisation" data-testid="compare-normalization" value={compare.normalization}
            onChange={(e) => setCompare({ normalization: e.target.value as CompareNormalization })}>
            <option value="minmax">min–max</option>
            <option value="percentile">1st–99th percentile</option>
          </select>
        </label>
      </div>
      <div className="compare-panels">
        {panels.map((p, i) => {
          const range: Range | null = ranges[i] ?? null;
          const style = styles[i];
          return (
            <figure key={p.spec.id} className="compare-panel" data-testid={`compare-panel-${i}`} data-ready={p.shown.map ? 'yes' : 'no'}
              data-method={p.spec.method} data-range-min={range?.min ?? ''} data-range-max={range?.max ?? ''}>
              <div className="stage" style={{ width, height }}>
                <img src={imageUrl} alt="" width={width} height={height} />
                {style && (
                  <HeatmapCanvas map={p.shown.map} width={width} height={height} cropBox={result.cropBox}
                    imageWidth={result.width} imageHeight={result.height} style={style} testId={`compare-canvas-${i}`} />
                )}
              </div>
              <figcaption data-testid={`compare-label-${i}`}>{p.label}</figcaption>
              {range && style && <ColorBar colormap={style.colormap} min={range.min} max={range.max} />}
              {!p.shown.map && (
                <p className="status" data-testid={`compare-status-${i}`}>
                  {p.shown.cancelled.length > 0 ? (
                    <>Cancelled. <button type="button" onClick={() => p.shown.cancelled.forEach((k) => rerunRelevance(k))}>Run again</button></>
                  ) : p.shown.pending ? 'Computing…' : p.shown.note}
                </p>
              )}
              <div className="compare-panel-controls">
                <select aria-label={`Method of panel ${i + 1}`} data-testid={`compare-method-${i}`} value={p.spec.method}
                  onChange={(e) => setPanel(p.spec.id, { method: e.target.value })}>
                  {IMAGE_METHODS.map((m) => <option key={m.id} value={m.id}>{m.label}</option>)}
                </select>
                {isPromptMethod(p.spec.method) && (
                  <select aria-label={`Prompt of panel ${i + 1}`} data-testid={`compare-prompt-${i}`} value={p.spec.promptId ?? ''}
                    onChange={(e) => setPanel(p.spec.id, { promptId: e.target.value === '' ? null : e.target.value })}>
                    <option value="">selected prompt (A)</option>
                    {prompts.filter((q) => q.text.trim() !== '').map((q) => <option key={q.id} value={q.id}>{q.text}</option>)}
                  </select>
                )}
                <button type="button" aria-label={`Remove panel ${i + 1}`} disabled={compare.panels.length <= 2}
                  onClick={() => setCompare({ panels: compare.panels.filter((q) => q.id !== p.spec.id) })}>×</button>
              </div>
            </figure>
          );
        })}
      </div>
      <button type="button" data-testid="compare-add" disabled={compare.panels.length >= MAX_PANELS}
        onClick={() => setCompare({ panels: [...compare.panels, { id: newPanelId(), method: view.method, promptId: null }] })}>
        Add panel
      </button>
      <ExportPngButton testId="export-compare-png" label="Export comparison as PNG" imageUrl={imageUrl}
        ready={figures.every((f) => f !== null)} draw={drawFigure}
        data={{ 'panel-width': exportSize.width, 'panel-height': exportSize.height, panels: panels.length }} />
    </div>
  );
}
