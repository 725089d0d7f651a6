/**
 * The prompts: add, edit, remove, paste many lines at once. Empty prompts are ignored. Past
 * {@link PROMPTS_PER_PAGE} prompts the list shows one page of them at a time: 500 pasted lines
 * as 500 rows of inputs took the page 0.5–0.8 s to lay out in one task. A prompt holds at most
 * MAX_PROMPT_CHARS characters (the tokenizer reads no more): a 100,000-character paste is cut by
 * the field itself, since laying out that much text in one input takes the browser over a second.
 */
import { useEffect, useState } from 'react';
import { newPromptId, useLens, type PromptEntry } from '../state/store';
import { describeLogitScale, formatScale } from '../model/config';
import { MAX_PROMPT_CHARS } from '../text/tokenizer';
import { modelShape, refreshPrompts, tokenize } from './pipeline';

export const PROMPTS_PER_PAGE = 50;

export function PromptList() {
  const prompts = useLens((s) => s.prompts);
  const setPrompts = useLens((s) => s.setPrompts);
  const selected = useLens((s) => s.view.promptId);
  const setView = useLens((s) => s.setView);
  const ready = useLens((s) => s.model.status === 'ready');
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(prompts.length / PROMPTS_PER_PAGE));
  const shownPage = Math.min(page, pages - 1);
  const first = shownPage * PROMPTS_PER_PAGE;
  const shown = prompts.slice(first, first + PROMPTS_PER_PAGE);

  // Encode after typing settles.
  useEffect(() => {
    const t = setTimeout(() => void refreshPrompts(), 250);
    return () => clearTimeout(t);
  }, [prompts, ready]);

  const edit = (id: string, text: string) => setPrompts(prompts.map((p) => (p.id === id ? { ...p, text } : p)));
  const pasteLines = (at: PromptEntry, e: React.ClipboardEvent<HTMLInputElement>) => {
    const text = e.clipboardData.getData('text');
    if (!text.includes('\n')) return;
    e.preventDefault();
    const lines = text.split(/\r?\n/).map((l) => l.trim().slice(0, MAX_PROMPT_CHARS)).filter(Boolean);
    const i = prompts.findIndex((p) => p.id === at.id);
    const fresh = lines.map((l) => ({ id: newPromptId(), text: l }));
    const keep = at.text.trim() === '' ? prompts.filter((p) => p.id !== at.id) : prompts;
    const pos = at.text.trim() === '' ? i : i + 1;
    setPrompts([...keep.slice(0, pos), ...fresh, ...keep.slice(pos)]);
  };

  return (
    <section className="prompts" aria-label="Prompts">
      <h2>Prompts</h2>
      <ol>
        {shown.map((p, k) => {
          const i = first + k;
          const tok = ready ? tokenize(p.text) : null;
          return (
            <li key={p.id} className={p.id === selected ? 'selected' : ''}>
              <input
                type="radio"
                name="selected-prompt"
                aria-label={`Use prompt ${i + 1} for prompt-dependent views`}
                checked={p.id === selected}
                onChange={() => setView({ promptId: p.id })}
              />
              <input
                type="text"
                value={p.text}
                placeholder="a photo of …"
                aria-label={`Prompt ${i + 1}`}
                data-testid={`prompt-${i}`}
                maxLength={MAX_PROMPT_CHARS}
                onChange={(e) => edit(p.id, e.target.value)}
                onPaste={(e) => pasteLines(p, e)}
              />
              <button type="button" aria-label={`Remove prompt ${i + 1}`} onClick={() => setPrompts(prompts.filter((q) => q.id !== p.id))}>×</button>
              {tok?.truncated && <span className="note" role="note">Cut to {tok.ids.length} tokens (the model reads no more).</span>}
              {p.text.length >= MAX_PROMPT_CHARS && !tok?.truncated && (
                <span className="note" role="note">Cut to {MAX_PROMPT_CHARS} characters.</span>
              )}
            </li>
          );
        })}
      </ol>
      {pages > 1 && (
        <nav className="prompt-pages" aria-label="Prompt pages">
          <button type="button" aria-label="Previous prompts" disabled={shownPage === 0} onClick={() => setPage(shownPage - 1)}>‹</button>
          <span data-testid="prompt-page" data-count={prompts.length}>
            {first + 1}–{first + shown.length} of {prompts.length}
          </span>
          <button type="button" aria-label="Next prompts" disabled={shownPage === pages - 1} onClick={() => setPage(shownPage + 1)}>›</button>
        </nav>
      )}
      <button type="button" data-testid="add-prompt" onClick={() => {
        setPrompts([...prompts, { id: newPromptId(), text: '' }]);
        setPage(Math.floor(prompts.length / PROMPTS_PER_PAGE)); // the page of the new row
      }}>
        Add prompt
      </button>
      {ready && <TemperatureNote />}
    </section>
  );
}

/**
 * Which logit scale turns the cosines into the probabilities the image cards show: it differs
 * between models (and for Hub repos is CLIP's trained 100, not the config's initial value), and
 * it decides how peaked those probabilities are. The tooltip says where it came from.
 */
function TemperatureNote() {
  // The shape lives outside the store; re-read it whenever another model becomes ready.
  useLens((s) => s.model.id);
  const shape = modelShape();
  if (!shape) return null;
  return (
    <p className="temperature" data-testid="temperature" data-logit-scale={shape.logitScale} title={describeLogitScale(shape)}>
      probabilities: softmax of {formatScale(shape.logitScale)} × cosine
    </p>
  );
}
