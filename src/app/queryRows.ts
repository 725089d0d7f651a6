/**
 * A clicked patch's attention rows, fetched on demand. An image keeps only its CLS rows and the
 * all-heads fusions (src/explain/reduce.ts); the raw-attention view of another query token
 * needs that token's rows for every layer and head, which the worker computes by running the
 * vision encoder again. Kept rows live in state/results.ts (a few per image).
 *
 * One request at a time goes to the worker, the focused image's first: a click on a patch asks
 * for every image shown, and the large view should not wait behind the gallery. Requests not yet
 * sent for a patch that is no longer selected are dropped.
 */
import { parseWorkerError } from '../protocol';
import { imageResults, queryRowsOf, rememberQueryRows } from '../state/results';
import { useLens } from '../state/store';
import type { TokenRows } from '../explain/types';
import { imageBlob, workerApi } from './pipeline';
import { newRequestId } from './workerClient';

export type QueryRowsEntry =
  | { status: 'running' }
  | { status: 'done'; rows: TokenRows }
  | { status: 'error'; message: string };

const RUNNING: QueryRowsEntry = { status: 'running' };

interface Wanted {
  imageId: string;
  token: number;
}

const keyOf = (w: Wanted): string => `${w.imageId}|${w.token}`;

/** Wanted but not sent yet, in order of asking. */
const waiting = new Map<string, Wanted>();
/** The request at the worker, and the generation it was sent in. */
let inFlight: (Wanted & { key: string; generation: number }) | null = null;
const errors = new Map<string, string>();
/** Bumped when results are thrown away (model switch): answers to older requests are dropped. */
let generation = 0;
let scheduled = false;

/**
 * The rows of patch `patch` (row-major over the grid) of an image, or its fetch status;
 * asks the worker when they are neither kept nor on their way.
 */
export function queryRowsFor(imageId: string, patch: number): QueryRowsEntry {
  const token = patch + 1;
  const rows = queryRowsOf(imageId, token);
  if (rows) return { status: 'done', rows };
  const want = { imageId, token };
  const key = keyOf(want);
  const error = errors.get(key);
  if (error !== undefined) return { status: 'error', message: error };
  const sent = inFlight?.key === key && inFlight.generation === generation;
  if (!sent && !waiting.has(key)) {
    waiting.set(key, want);
    // After the render that asked: every image of it has asked by then, so the focused one
    // can go first.
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(sendNext);
    }
  }
  return RUNNING;
}

/** The next request: the focused image's first; those for another patch than the selected one are dropped. */
function pickNext(): (Wanted & { key: string }) | null {
  const { view } = useLens.getState();
  const token = view.queryPatch === null ? -1 : view.queryPatch + 1;
  let next: (Wanted & { key: string }) | null = null;
  for (const [key, w] of waiting) {
    if (w.token !== token || !imageResults.has(w.imageId)) {
      waiting.delete(key);
      continue;
    }
    if (!next || w.imageId === view.focusImageId) next = { ...w, key };
    if (w.imageId === view.focusImageId) break;
  }
  if (next) waiting.delete(next.key);
  return next;
}

function sendNext(): void {
  scheduled = false;
  if (inFlight) return;
  const next = pickNext();
  if (!next) return;
  const gen = generation;
  const current = { ...next, generation: gen };
  inFlight = current;
  const blob = imageBlob(next.imageId);
  workerApi()
    .queryRows({ requestId: newRequestId(), imageId: next.imageId, token: next.token, ...(blob ? { blob } : {}) })
    .then(
      (result) => {
        const image = imageResults.get(next.imageId)?.attention;
        const { rows } = result;
        // Rows of another model (or an image replaced meanwhile) do not fit: drop them.
        if (gen !== generation || !image || rows.layers !== image.layers || rows.heads !== image.heads || rows.seq !== image.seq) return;
        rememberQueryRows(next.imageId, rows);
      },
      (err: unknown) => {
        const { code, message } = parseWorkerError(err);
        if (gen === generation && code !== 'cancelled') errors.set(next.key, message);
      },
    )
    .finally(() => {
      if (inFlight === current) inFlight = null;
      sendNext();
      // Also after a dropped answer: the views that waited for it ask again.
      useLens.getState().bumpResults(next.imageId);
    });
}

// Rows belong to one model: forget errors and waiting requests when another starts loading, and
// drop answers still on their way (the kept rows go with the other results, see clearResults).
useLens.subscribe((state, prev) => {
  if (state.model.status === 'loading' && prev.model.status !== 'loading') {
    generation++;
    waiting.clear();
    errors.clear();
  }
});
