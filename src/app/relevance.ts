/**
 * Gradient relevance on demand: the worker computes it per (image, prompt, start layers); the
 * results are kept here so that going back to a combination is instant.
 */
import * as Comlink from 'comlink';
import { parseWorkerError, type DenseMapMode, type DenseMapResult, type RelevanceProgress, type RelevanceResult } from '../protocol';
import { useLens } from '../state/store';
import { tokenize, workerApi } from './pipeline';

export interface RelevanceKey {
  imageId: string;
  promptText: string;
  startLayerImage: number;
  startLayerText: number;
}

type Entry =
  | { status: 'running'; stage: string }
  | { status: 'done'; result: RelevanceResult }
  | { status: 'error'; message: string };

const entries = new Map<string, Entry>();

function keyOf(k: RelevanceKey, ids: number[]): string {
  return `${k.imageId}|${ids.join(',')}|${k.startLayerImage}|${k.startLayerText}`;
}

/** The cached entry for a combination, starting the computation when there is none. */
export function relevanceFor(k: RelevanceKey): Entry | null {
  const tok = tokenize(k.promptText);
  if (!tok) return null;
  const key = keyOf(k, tok.ids);
  const known = entries.get(key);
  if (known) return known;
  const entry: Entry = { status: 'running', stage: 'queued' };
  entries.set(key, entry);
  const requestId = Date.now() * 1000 + Math.floor(Math.random() * 1000);
  workerApi()
    .relevance(
      { requestId, imageId: k.imageId, promptIds: tok.ids, startLayerImage: k.startLayerImage, startLayerText: k.startLayerText },
      Comlink.proxy((p: RelevanceProgress) => {
        const e = entries.get(key);
        if (e?.status === 'running') e.stage = p.stage;
      }),
    )
    .then(
      (result) => entries.set(key, { status: 'done', result }),
      (err: unknown) => entries.set(key, { status: 'error', message: parseWorkerError(err).message }),
    )
    .finally(() => useLens.getState().bumpResults());
  return entry;
}

type DenseEntry =
  | { status: 'running' }
  | { status: 'done'; result: DenseMapResult }
  | { status: 'error'; message: string };

const denseEntries = new Map<string, DenseEntry>();

/** A gradient-free dense prompt map (ClearCLIP or MaskCLIP), computed once per combination. */
export function denseMapFor(imageId: string, promptText: string, mode: DenseMapMode): DenseEntry | null {
  const tok = tokenize(promptText);
  if (!tok) return null;
  const key = `${imageId}|${tok.ids.join(',')}|${mode}`;
  const known = denseEntries.get(key);
  if (known) return known;
  const entry: DenseEntry = { status: 'running' };
  denseEntries.set(key, entry);
  const requestId = Date.now() * 1000 + Math.floor(Math.random() * 1000);
  workerApi()
    .denseMap({ requestId, imageId, promptIds: tok.ids, mode })
    .then(
      (result) => denseEntries.set(key, { status: 'done', result }),
      (err: unknown) => denseEntries.set(key, { status: 'error', message: parseWorkerError(err).message }),
    )
    .finally(() => useLens.getState().bumpResults());
  return entry;
}

// Results belong to one model: forget them when another starts loading.
useLens.subscribe((state, prev) => {
  if (state.model.status === 'loading' && prev.model.status !== 'loading') {
    entries.clear();
    denseEntries.clear();
  }
});
