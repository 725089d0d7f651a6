/**
 * The selected prompt's tokens, shaded by the end-of-text token's attention at a text layer, or —
 * with gradient relevance — by each token's relevance for the focused image.
 */
import { useDeferredValue, useState } from 'react';
import { promptResults } from '../state/results';
import { useLens, useResultsVersion } from '../state/store';
import { tokenWeights } from './maps';
import { tokenize } from './pipeline';
import { relevanceFor } from './relevance';

export function TokenView() {
  const view = useLens((s) => s.view);
  // Deferred: a paste of hundreds of prompts updates the list first, then this, interruptibly.
  const prompts = useDeferredValue(useLens((s) => s.prompts));
  const text = useLens((s) => s.model.text);
  useResultsVersion(view.focusImageId);
  const [layer, setLayer] = useState(-1);
  const prompt = prompts.find((p) => p.id === view.promptId);
  const tok = prompt ? tokenize(prompt.text) : null;
  const result = tok ? promptResults.get(tok.ids.join(',')) : undefined;
  if (!text || !prompt || !result) return null;
  const l = layer < 0 || layer >= text.layers ? text.layers - 1 : layer;
  const byRelevance = view.method === 'relevance' && view.focusImageId !== null;
  let words: number[];
  let heading: React.ReactNode;
  if (byRelevance && view.focusImageId) {
    const rel = relevanceFor({ imageId: view.focusImageId, promptText: prompt.text, startLayerImage: view.relevanceStart, startLayerText: view.relevanceStart });
    if (rel?.status !== 'done') return null;
    words = Array.from(rel.result.textMap);
    heading = 'Prompt relevance for this image (gradient-weighted)';
  } else {
    // The end-of-text row puts much weight on itself and on the start token: shade the words
    // by their share among the words.
    words = Array.from(tokenWeights(result, l, view.fusion).slice(1, -1));
    heading = (
      <>
        Prompt attention (end-of-text token), text layer{' '}
        <select aria-label="Text layer" value={l} onChange={(e) => setLayer(Number(e.target.value))}>
          {Array.from({ length: text.layers }, (_, i) => <option key={i} value={i}>{i + 1}</option>)}
        </select>
      </>
    );
  }
  const top = Math.max(1e-12, ...words);
  const topIndex = words.indexOf(Math.max(...words));
  return (
    <div className="token-view" data-testid="token-view" data-top-token={result.tokens[topIndex + 1] ?? ''} data-mode={byRelevance ? 'relevance' : 'attention'}>
      <h3>{heading}</h3>
      <p>
        {result.tokens.slice(1, -1).map((t, i) => {
          const w = words[i] ?? 0;
          return (
            <span key={i} className="token" data-weight={w.toFixed(6)} title={w.toPrecision(3)}
              style={{ background: `linear-gradient(rgba(255, 140, 0, ${Math.max(0, w / top).toFixed(3)}), rgba(255, 140, 0, ${Math.max(0, w / top).toFixed(3)})) #fff` }}>{t}</span>
          );
        })}
      </p>
    </div>
  );
}
