/**
 * Gradient relevance on demand: the worker computes it per (image, prompt, start layers); the
 * results are kept here so that going back to a combination is instant. A computation in flight
 * reports its steps (for a progress line) and can be cancelled; a cancelled combination is not
 * restarted by the next render, only by `rerunRelevance`.
 */
import * as Comlink from 'comlink';
import { parseWorkerError, type DenseMapMode, type DenseMapResult, type RelevanceProgress, type RelevanceResult } from '../protocol';
import { useLens } from '../state/store';
import { tokenize, workerApi } from './pipeline';
import { newRequestId } from './workerClient';

export interface RelevanceKey {
  imageId: string;
  promptText: string;
  startLayerImage: number;
  startLayerText: number;
}

/** The worker's last reported step, or `queued` before it starts on the request. */
export type RelevanceStage = RelevanceProgress['stage'] | 'queued';

export type RelevanceEntry =
  | { status: 'running'; requestId: number; stage: RelevanceStage; step: number; steps: number }
  | { status: 'done'; result: RelevanceResult }
  | { status: 'error'; message: string }
  | { status: 'cancelled' };

/** Results and computations in flight. Entries are replaced, never mutated (snapshots stay valid). */
const entries = new Map<string, RelevanceEntry>();
/** Combinations the user cancelled: not in `entries`, and not restarted until asked to. */
const cancelledKeys = new Set<string>();
const CANCELLED: RelevanceEntry = { status: 'cancelled' };

/** Listeners of progress changes (steps, cancel), which do not bump `resultsVersion`. */
const listeners = new Set<() => void>();
let progressVersion = 0;

function notify(): void {
  progressVersion++;
  for (const l of listeners) l();
}

/** For `useSyncExternalStore`: subscribe to progress changes of any relevance computation. */
export function subscribeRelevance(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** For `useSyncExternalStore`: changes whenever a computation's progress or status changes. */
export function relevanceProgressVersion(): number {
  return progressVersion;
}

function keyOf(k: RelevanceKey, ids: number[]): string {
  return `${k.imageId}|${ids.join(',')}|${k.startLayerImage}|${k.startLayerText}`;
}

function cacheKey(k: RelevanceKey): string | null {
  const tok = tokenize(k.promptText);
  return tok ? keyOf(k, tok.ids) : null;
}

/** The cached entry for a combination, or null; never starts a computation. */
export function peekRelevance(k: RelevanceKey): RelevanceEntry | null {
  const key = cacheKey(k);
  if (key === null) return null;
  return entries.get(key) ?? (cancelledKeys.has(key) ? CANCELLED : null);
}

/** The cached entry for a combination, starting the computation when there is none. */
export function relevanceFor(k: RelevanceKey): RelevanceEntry | null {
  const tok = tokenize(k.promptText);
  if (!tok) return null;
  const key = keyOf(k, tok.ids);
  const known = entries.get(key);
  if (known) return known;
  if (cancelledKeys.has(key)) return CANCELLED;
  const requestId = newRequestId();
  const entry: RelevanceEntry = { status: 'running', requestId, stage: 'queued', step: 0, steps: 1 };
  entries.set(key, entry);
  // Only the request that owns the entry may write it: a cancelled or re-run one is stale.
  const current = () => {
    const e = entries.get(key);
    return e?.status === 'running' && e.requestId === requestId ? e : null;
  };
  workerApi()
    .relevance(
      { requestId, imageId: k.imageId, promptIds: tok.ids, startLayerImage: k.startLayerImage, startLayerText: k.startLayerText },
      Comlink.proxy((p: RelevanceProgress) => {
        const e = current();
        if (!e) return;
        entries.set(key, { ...e, stage: p.stage, step: p.step, steps: p.steps });
        notify();
      }),
    )
    .then(
      (result) => {
        if (current()) entries.set(key, { status: 'done', result });
      },
      (err: unknown) => {
        if (!current()) return;
        const { code, message } = parseWorkerError(err);
        if (code === 'cancelled') {
          entries.delete(key);
          cancelledKeys.add(key);
        } else {
          entries.set(key, { status: 'error', message });
        }
      },
    )
    .finally(() => {
      notify();
      useLens.getState().bumpResults(k.imageId);
    });
  return entry;
}

/**
 * Cancels a computation in flight: the worker drops it at its next step, the entry leaves the
 * cache (asking again recomputes) and the combination shows as cancelled until
 * `rerunRelevance`. No-op for finished combinations.
 */
export function cancelRelevance(k: RelevanceKey): void {
  const key = cacheKey(k);
  if (key === null) return;
  const e = entries.get(key);
  if (e?.status !== 'running') return;
  void workerApi().cancel(e.requestId);
  entries.delete(key);
  cancelledKeys.add(key);
  notify();
  useLens.getState().bumpResults(k.imageId);
}

/** Runs a cancelled (or failed) combination again. */
export function rerunRelevance(k: RelevanceKey): void {
  const key = cacheKey(k);
  if (key === null) return;
  cancelledKeys.delete(key);
  if (entries.get(key)?.status === 'error') entries.delete(key);
  relevanceFor(k);
  notify();
  useLens.getState().bumpResults(k.imageId);
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
  workerApi()
    .denseMap({ requestId: newRequestId(), imageId, promptIds: tok.ids, mode })
    .then(
      // Only while this request still owns the entry: a model switch or a lost worker cleared it.
      (result) => {
        if (denseEntries.get(key) === entry) denseEntries.set(key, { status: 'done', result });
      },
      (err: unknown) => {
        if (denseEntries.get(key) === entry) denseEntries.set(key, { status: 'error', message: parseWorkerError(err).message });
      },
    )
    .finally(() => useLens.getState().bumpResults(imageId));
  return entry;
}

// Results belong to one model: forget them when another starts loading.
useLens.subscribe((state, prev) => {
  if (state.model.status === 'loading' && prev.model.status !== 'loading') {
    entries.clear();
    cancelledKeys.clear();
    denseEntries.clear();
    notify();
  }
});
