/**
 * Non-reactive cache of model outputs, keyed by image id and by prompt token ids. Changing the
 * view (layer, heads, colormap …) reads from here and never runs the model again.
 */
import type { ImageResult, TextResult } from '../protocol';

export interface PromptResult extends TextResult {
  ids: number[];
  tokens: string[];
  truncated: boolean;
}

export const imageResults = new Map<string, ImageResult>();
/** Keyed by `ids.join(',')`: the same prompt text in two rows is encoded once. */
export const promptResults = new Map<string, PromptResult>();

export function clearResults(): void {
  imageResults.clear();
  promptResults.clear();
}

/** Cosine similarity of two embeddings. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb + 1e-12);
}

/** Softmax of scale·similarities over prompts (CLIP's zero-shot probabilities). */
export function zeroShot(similarities: number[], logitScale: number): number[] {
  const logits = similarities.map((s) => s * logitScale);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
