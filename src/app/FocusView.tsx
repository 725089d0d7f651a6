/**
 * The focused image, large: hover shows a patch's value, a click shows where that patch attends;
 * the colour bar; every layer × head as small multiples; the prompt's tokens.
 */
import { useMemo, useState } from 'react';
import { imageResults } from '../state/results';
import { resolvedHeads, resolvedLayer, useLens } from '../state/store';
import { ColorBar } from './ColorBar';
import { HeatmapCanvas } from './HeatmapCanvas';
import { imageMap, imageView } from './maps';
import { HeadRanking } from './HeadRanking';
import { TokenView } from './TokenView';

const FOCUS_WIDTH = 448;
const THUMB_WIDTH = 84;

export function FocusView() {
  const view = useLens((s) => s.view);
  const setView = useLens((s) => s.setView);
  const images = useLens((s) => s.images);
  const version = useLens((s) => s.resultsVersion);
  const prompts = useLens((s) => s.prompts);
  const [hover, setHover] = useState<{ patch: number; value: number } | null>(null);
  const entry = images.find((im) => im.id === view.focusImageId);
  const result = entry ? imageResults.get(entry.id) : undefined;
  const shown = useMemo(() => (entry && result ? imageView(entry.id, result, view, prompts) : null),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [entry, result, view, prompts, version]);
  const map = shown?.map ?? null;
  const style = useMemo(() => ({ colormap: view.colormap, opacity: view.opacity, range: null, smooth: true }),
    [view.colormap, view.opacity]);
  const thumbStyle = useMemo(() => ({ colormap: view.colormap, opacity: 1, range: null, smooth: false }), [view.colormap]);

  if (!entry || !result) {
    return <section className="focus" aria-label="Focused image"><p className="hint">Click an analysed image to look closer.</p></section>;
  }
  const height = Math.round((FOCUS_WIDTH * result.height) / result.width);
  const thumbH = Math.round((THUMB_WIDTH * result.height) / result.width);
  const { layers, heads } = result.attentions;
  const layer = resolvedLayer(view, layers);
  const on = resolvedHeads(view, heads);
  let min = Infinity;
  let max = -Infinity;
  let peak = -1;
  if (map) {
    map.values.forEach((v, i) => {
      if (v > max) peak = i;
      min = Math.min(min, v);
      max = Math.max(max, v);
    });
  }

  return (
    <section className="focus" aria-label="Focused image">
      <h2>{entry.name}</h2>
      <div className="stage" style={{ width: FOCUS_WIDTH, height }} data-testid="focus-stage" data-peak={peak} data-method={view.method}
        data-image={entry.name} data-ready={map ? 'yes' : 'no'}>
        <img src={entry.url} alt={entry.name} width={FOCUS_WIDTH} height={height} />
        <HeatmapCanvas
          map={map} width={FOCUS_WIDTH} height={height} cropBox={result.cropBox}
          imageWidth={result.width} imageHeight={result.height} style={style} testId="focus-heatmap"
          onHover={(patch, value) => setHover(patch === null || value === null ? null : { patch, value })}
          onPick={(patch) => setView({ queryPatch: patch === null || patch === view.queryPatch ? null : patch })}
        />
      </div>
      {shown?.note && <p className="status">{shown.note}</p>}
      <p className="hover-readout" data-testid="hover-value" aria-live="polite">
        {hover ? `patch ${hover.patch + 1} (row ${Math.floor(hover.patch / result.grid.width) + 1}, column ${(hover.patch % result.grid.width) + 1}): ${hover.value.toPrecision(3)}` : 'Hover the image to read a patch; click it to see where it attends.'}
      </p>
      {map && <ColorBar colormap={view.colormap} min={min} max={max} />}
      {view.method === 'attention' && (
        <div className="grid-wrap">
          <h3>Layers × heads</h3>
          <table className="layer-grid" data-testid="layer-grid">
            <thead>
              <tr><th scope="col">layer</th>{Array.from({ length: heads }, (_, h) => <th key={h} scope="col">head {h + 1}</th>)}</tr>
            </thead>
            <tbody>
              {Array.from({ length: layers }, (_, l) => (
                <tr key={l}>
                  <th scope="row">{l + 1}</th>
                  {Array.from({ length: heads }, (_, h) => {
                    const selected = l === layer && on[h] && on.filter(Boolean).length === 1;
                    return (
                      <td key={h} className={selected ? 'selected' : ''}>
                        <button type="button" aria-label={`Show layer ${l + 1}, head ${h + 1}`}
                          onClick={() => setView({ layer: l, heads: Array.from({ length: heads }, (_, i) => i === h) })}>
                          <HeatmapCanvas
                            map={imageMap(result, view, l, h)} width={THUMB_WIDTH} height={thumbH}
                            cropBox={result.cropBox} imageWidth={result.width} imageHeight={result.height} style={thumbStyle}
                          />
                        </button>
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {view.method === 'relevance' && (() => {
        const prompt = prompts.find((p) => p.id === view.promptId);
        return prompt && prompt.text.trim() !== '' ? <HeadRanking imageId={entry.id} promptText={prompt.text} heads={heads} /> : null;
      })()}
      <TokenView />
    </section>
  );
}
