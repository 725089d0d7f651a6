/** Image–prompt similarities and zero-shot probabilities, from cached embeddings. */
import { imageSummaries, promptResults, cosine, zeroShot } from '../state/results';
import type { PromptEntry } from '../state/store';
import { modelShape, tokenize } from './pipeline';

export interface PromptScore {
  promptId: string;
  text: string;
  similarity: number;
  probability: number;
}

/** Scores of one image against every encoded, non-empty prompt (softmax over those prompts). */
export function scoresFor(imageId: string, prompts: PromptEntry[]): PromptScore[] {
  const image = imageSummaries.get(imageId); // kept when the attention is released
  const shape = modelShape();
  if (!image || !shape) return [];
  const rows: { p: PromptEntry; sim: number }[] = [];
  for (const p of prompts) {
    const tok = tokenize(p.text);
    const r = tok && promptResults.get(tok.ids.join(','));
    if (r) rows.push({ p, sim: cosine(image.embeds, r.embeds) });
  }
  const probs = zeroShot(rows.map((r) => r.sim), shape.logitScale);
  return rows.map((r, i) => ({ promptId: r.p.id, text: r.p.text, similarity: r.sim, probability: probs[i] ?? 0 }));
}
