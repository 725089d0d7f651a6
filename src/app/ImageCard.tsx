/** One image: the picture, its heatmap, its status or error, and its scores per prompt. */
import { memo, useDeferredValue, useMemo } from 'react';
import { ATTENTION_KEPT_IMAGES, imageResults, imageSummaries } from '../state/results';
import { useLens, useResultsVersion, type ImageEntry } from '../state/store';
import { HeatmapCanvas } from './HeatmapCanvas';
import { fitSize } from '../render/geometry';
import { rangeOf } from '../render/normalize';
import { colormapFor, imageView } from './maps';
import type { OverlayStyle } from './paint';
import { reanalyse, removeImage } from './pipeline';
import { scoresFor } from './scores';

export const CARD_WIDTH = 220;
/** Scores a card lists: all of them up to this many prompts, else the most probable this many. */
export const CARD_SCORES = 10;

export const ImageCard = memo(function ImageCard({ entry, index }: { entry: ImageEntry; index: number }) {
  const view = useLens((s) => s.view);
  // Deferred: a paste of hundreds of prompts updates the list first, then this, interruptibly.
  const prompts = useDeferredValue(useLens((s) => s.prompts));
  const version = useResultsVersion(entry.id); // re-render when this image's results arrive
  const setView = useLens((s) => s.setView);
  const result = entry.status === 'done' ? imageResults.get(entry.id) : undefined;
  // Analysed, but its attention released to keep memory bounded: the picture and scores stay.
  const summary = entry.status === 'done' ? imageSummaries.get(entry.id) : undefined;
  const released = !result && summary !== undefined;
  // The result is read inside, not a dependency: React keeps the last dependencies of a card
  // (twice: its current and previous render) until it renders again, and a card whose attention
  // was released must not keep it alive that way (200 B/16 images held 1.5 GB, not 0.25 GB).
  // `version` changes whenever the image's result is set or released.
  const hasResult = result !== undefined;
  const shown = useMemo(() => {
    const current = hasResult ? imageResults.get(entry.id) : undefined;
    return current ? imageView(entry.id, current, view, prompts) : null;
  },
    // version: relevance results arrive asynchronously
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [hasResult, view, prompts, version, entry.id]);
  const map = shown?.map ?? null;
  const allScores = summary ? scoresFor(entry.id, prompts) : [];
  const scores = allScores.length > CARD_SCORES
    ? [...allScores].sort((a, b) => b.probability - a.probability).slice(0, CARD_SCORES)
    : allScores;
  const signed = shown?.signed ?? false;
  const colormap = colormapFor(view, signed);
  // Signed maps (a prompt difference) on a symmetric range: 0 is the colormap's neutral middle.
  const range = useMemo(() => (map && signed ? rangeOf(map.values, 'signed') : null), [map, signed]);
  const style = useMemo((): OverlayStyle => ({ colormap, opacity: view.opacity, range, smooth: true }),
    [colormap, view.opacity, range]);

  // At most twice as tall as wide, and never 0 high (an image of 65535 × 1). Until the worker has
  // decoded the file, an empty square.
  const { width, height } = summary ? fitSize(summary.width, summary.height, CARD_WIDTH, 2 * CARD_WIDTH) : { width: CARD_WIDTH, height: CARD_WIDTH };
  const focused = view.focusImageId === entry.id;

  return (
    <article
      className={`image-card status-${entry.status}${focused ? ' focused' : ''}`}
      data-testid={`image-${index}`}
      data-status={entry.status}
      data-released={released ? 'yes' : undefined}
      aria-label={`${entry.name}: ${entry.status}`}
    >
      <header>
        <button type="button" className="name" title={entry.name} onClick={() => setView({ focusImageId: entry.id })}>
          {entry.name}
        </button>
        <button type="button" aria-label={`Remove ${entry.name}`} onClick={() => removeImage(entry.id)}>×</button>
      </header>
      {entry.status !== 'error' && (
        <div className="stage" style={{ width, height }}>
          {/* The file goes to an <img> only once the worker has decoded it: a header may claim
              16384 × 16384 over 3 KB of data, and the browser's own decode of that held up every
              frame of the page for seconds (found by e2e/fuzz.spec.ts). */}
          {released && <img src={entry.url} alt={entry.name} width={width} height={height} />}
          {result && (
            <>
              <img src={entry.url} alt={entry.name} width={width} height={height} />
              <HeatmapCanvas map={map} width={width} height={height} cropBox={result.cropBox}
                imageWidth={result.width} imageHeight={result.height} style={style} testId={`heatmap-${index}`} />
            </>
          )}
        </div>
      )}
      {shown?.note && <p className="status" data-testid={`map-note-${index}`}>{shown.note}</p>}
      {released && (
        <p className="status" data-testid={`released-${index}`}>
          Map put away to save memory (the {ATTENTION_KEPT_IMAGES} most recent images keep theirs).{' '}
          <button type="button" onClick={() => reanalyse(entry.id)}>Show map</button>
        </p>
      )}
      {entry.status === 'queued' && <p className="status">Waiting…</p>}
      {entry.status === 'running' && <p className="status">Running…</p>}
      {entry.status === 'error' && <p className="error" role="alert" data-testid={`image-error-${index}`}>{entry.error}</p>}
      {scores.length > 0 && (
        <ul className="scores" aria-label="Prompt probabilities">
          {scores.map((s, i) => (
            <li key={s.promptId} data-testid={`score-${index}-${i}`} data-prompt={s.text} data-probability={s.probability.toFixed(4)} data-similarity={s.similarity}>
              <span className="bar" style={{ width: `${Math.round(s.probability * 100)}%` }} />
              <span className="label">{s.text}</span>
              <span className="value">{(s.probability * 100).toFixed(1)}% · cos {s.similarity.toFixed(3)}</span>
            </li>
          ))}
        </ul>
      )}
      {allScores.length > scores.length && (
        <p className="hint" data-testid={`scores-more-${index}`}>The {scores.length} most probable of {allScores.length} prompts.</p>
      )}
    </article>
  );
});
