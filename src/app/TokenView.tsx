/** The selected prompt's tokens, shaded by the end-of-text token's attention at a text layer. */
import { useState } from 'react';
import { promptResults } from '../state/results';
import { useLens } from '../state/store';
import { tokenWeights } from './maps';
import { tokenize } from './pipeline';

export function TokenView() {
  const view = useLens((s) => s.view);
  const prompts = useLens((s) => s.prompts);
  const text = useLens((s) => s.model.text);
  useLens((s) => s.resultsVersion);
  const [layer, setLayer] = useState(-1);
  const prompt = prompts.find((p) => p.id === view.promptId);
  const tok = prompt ? tokenize(prompt.text) : null;
  const result = tok ? promptResults.get(tok.ids.join(',')) : undefined;
  if (!text || !prompt || !result) return null;
  const l = layer < 0 || layer >= text.layers ? text.layers - 1 : layer;
  const weights = tokenWeights(result, l, view.fusion);
  // The end-of-text row always puts much weight on itself and the start token: shade the words
  // by their share among the words.
  const words = Array.from(weights.slice(1, -1));
  const top = Math.max(1e-9, ...words);
  return (
    <div className="token-view" data-testid="token-view">
      <h3>
        Prompt attention (end-of-text token), text layer{' '}
        <select aria-label="Text layer" value={l} onChange={(e) => setLayer(Number(e.target.value))}>
          {Array.from({ length: text.layers }, (_, i) => <option key={i} value={i}>{i + 1}</option>)}
        </select>
      </h3>
      <p>
        {result.tokens.slice(1, -1).map((t, i) => {
          const w = words[i] ?? 0;
          return (
            <span key={i} className="token" data-weight={w.toFixed(4)} title={w.toPrecision(3)}
              style={{ background: `rgba(255, 140, 0, ${(w / top).toFixed(3)})` }}>{t}</span>
          );
        })}
      </p>
    </div>
  );
}
