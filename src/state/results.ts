/**
 * Non-reactive cache of model outputs, keyed by image id and by prompt token ids. Changing the
 * view (layer, heads, colormap …) reads from here and never runs the model again.
 */
import type { AttentionRows, ImageResult, TextResult } from '../protocol';
import { reducedBytes } from '../explain/reduce';

export interface PromptResult extends TextResult {
  ids: number[];
  tokens: string[];
  truncated: boolean;
}

/**
 * Per image: embeddings and the reduced vision attention (CLS rows, all-heads fusions), for the
 * {@link ATTENTION_KEPT_IMAGES} most recently analysed or viewed images (oldest first). Set them
 * with {@link keepImageResult}.
 */
export const imageResults = new Map<string, ImageResult>();

/** What stays of every analysed image, its attention released or not: size, grid, embedding (scores). */
export type ImageSummary = Omit<ImageResult, 'attention' | 'display'>;
export const imageSummaries = new Map<string, ImageSummary>();

/**
 * Images whose attention is kept (ViT-B/16: 7.8 MB each); the others keep their summary (scores
 * stay) and are analysed again when viewed. 200 images dropped at once then hold ~250 MB of
 * B/16 attention rather than 1.5 GB.
 */
export const ATTENTION_KEPT_IMAGES = 32;

/**
 * Files an analysed image's result and marks it the most recent; releases the attention of the
 * least recently used images beyond the cap. Returns the ids released.
 */
export function keepImageResult(imageId: string, result: ImageResult, cap = ATTENTION_KEPT_IMAGES): string[] {
  const { attention: _attention, display: _display, ...summary } = result;
  imageSummaries.set(imageId, summary);
  imageResults.delete(imageId);
  imageResults.set(imageId, result);
  const released: string[] = [];
  for (const id of imageResults.keys()) {
    if (imageResults.size <= cap) break;
    imageResults.delete(id);
    queryRowsResults.delete(id);
    released.push(id);
  }
  return released;
}

/** Marks an image's kept attention as the most recently used (it is being viewed). */
export function touchImageResult(imageId: string): void {
  const result = imageResults.get(imageId);
  if (!result) return;
  imageResults.delete(imageId);
  imageResults.set(imageId, result);
}

/** Whether an image was analysed but its attention released (see {@link keepImageResult}). */
export function isReleased(imageId: string): boolean {
  return imageSummaries.has(imageId) && !imageResults.has(imageId);
}
/** Keyed by `ids.join(',')`: the same prompt text in two rows is encoded once. */
export const promptResults = new Map<string, PromptResult>();

/**
 * Query patches' rows kept per image (fetched on demand, see app/queryRows.ts): the clicked one
 * and the one before, so that going back is instant. B/16: 113 KB each.
 */
export const QUERY_ROWS_PER_IMAGE = 2;

/** Per image, by query token, least recently used first. */
const queryRowsResults = new Map<string, Map<number, AttentionRows>>();

/** The kept rows of an image's query token (refreshes them as the most recently used). */
export function queryRowsOf(imageId: string, token: number): AttentionRows | undefined {
  const perImage = queryRowsResults.get(imageId);
  const rows = perImage?.get(token);
  if (perImage && rows) {
    perImage.delete(token);
    perImage.set(token, rows);
  }
  return rows;
}

/** Keeps a query token's rows, dropping the image's least recently used beyond {@link QUERY_ROWS_PER_IMAGE}. */
export function rememberQueryRows(imageId: string, rows: AttentionRows): void {
  let perImage = queryRowsResults.get(imageId);
  if (!perImage) queryRowsResults.set(imageId, (perImage = new Map()));
  perImage.delete(rows.token);
  perImage.set(rows.token, rows);
  for (const token of perImage.keys()) {
    if (perImage.size <= QUERY_ROWS_PER_IMAGE) break;
    perImage.delete(token);
  }
}

/** Forgets one image's results (it was removed). */
export function forgetImage(imageId: string): void {
  imageResults.delete(imageId);
  imageSummaries.delete(imageId);
  queryRowsResults.delete(imageId);
}

/**
 * Bytes of vision attention kept for an image: its reduced attention and its kept query rows
 * (0 for an unknown image). The benchmark reads it through `clipLensDebug.attentionBytes`.
 */
export function attentionBytesOf(imageId: string): number {
  const result = imageResults.get(imageId);
  if (!result) return 0;
  let bytes = reducedBytes(result.attention);
  for (const rows of queryRowsResults.get(imageId)?.values() ?? []) bytes += rows.data.byteLength;
  return bytes;
}

export function clearResults(): void {
  imageResults.clear();
  imageSummaries.clear();
  promptResults.clear();
  queryRowsResults.clear();
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
