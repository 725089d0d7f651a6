/**
 * Orchestration on the main thread: loads the model, queues images and prompts for the worker,
 * and files results into the cache. Components call these functions; they never talk to the
 * worker themselves.
 */
import * as Comlink from 'comlink';
import { parseWorkerError, type ModelSource, type ModelVariant } from '../protocol';
import { parseClipConfig, type ClipShape } from '../model/config';
import { ClipTextTokenizer } from '../text/tokenizer';
import { clearResults, imageResults, promptResults } from '../state/results';
import { useLens, type ImageEntry } from '../state/store';
import { newRequestId, startWorker, type WorkerHandle } from './workerClient';

export const BUNDLED_MODEL_ID = 'clip-lens-shapes';

let worker: WorkerHandle | null = null;
let tokenizer: ClipTextTokenizer | null = null;
let shape: ClipShape | null = null;
/** Files as dropped, kept so that a model switch can re-run every image. */
const blobs = new Map<string, Blob>();
/** Request ids of queued image jobs, for cancellation. */
const pendingImages = new Map<string, number>();
let imageCounter = 0;
let loadRequest = 0;

function api(): WorkerHandle {
  worker ??= startWorker();
  return worker;
}

export function modelShape(): ClipShape | null {
  return shape;
}

export function bundledSource(variant: ModelVariant): ModelSource {
  return { kind: 'url', id: BUNDLED_MODEL_ID, baseUrl: new URL(`models/${BUNDLED_MODEL_ID}/`, document.baseURI).href, variant };
}

/** Loads a model; on success re-runs everything the user has added, on failure keeps it all. */
export async function loadModel(source: ModelSource): Promise<void> {
  const { setModel } = useLens.getState();
  if (loadRequest) void api().cancel(loadRequest);
  const requestId = newRequestId();
  loadRequest = requestId;
  setModel({ status: 'loading', id: source.id, variant: source.variant, progress: null, error: null });
  try {
    const info = await api().loadModel(source, requestId, Comlink.proxy((p) => {
      if (loadRequest === requestId) setModel({ progress: { file: p.file, loaded: p.loaded, total: p.total } });
    }));
    if (loadRequest !== requestId) return; // a newer load replaced this one
    shape = parseClipConfig(info.config, info.id);
    tokenizer = ClipTextTokenizer.fromJSON(info.tokenizerJson, info.tokenizerConfig);
    clearResults();
    setModel({
      status: 'ready', backend: info.backend, wasmThreads: info.wasmThreads, progress: null,
      vision: { layers: info.vision.layers, heads: info.vision.heads },
      text: { layers: info.text.layers, heads: info.text.heads },
    });
    useLens.getState().setView({ layer: -1, heads: [], queryPatch: null });
    useLens.getState().bumpResults();
    for (const im of useLens.getState().images) if (blobs.has(im.id)) queueImage(im.id);
    await refreshPrompts();
  } catch (e) {
    if (loadRequest !== requestId) return;
    const { code, message } = parseWorkerError(e);
    if (code === 'cancelled') return;
    setModel({ status: 'error', error: message, progress: null });
  } finally {
    if (loadRequest === requestId) loadRequest = 0;
  }
}

/** Adds files (images or not: each gets its own result or message). */
export function addFiles(files: Iterable<File | { name: string; blob: Blob }>): void {
  const entries: ImageEntry[] = [];
  for (const f of files) {
    const blob = f instanceof Blob ? f : f.blob;
    const id = `img${++imageCounter}`;
    blobs.set(id, blob);
    entries.push({ id, name: f.name, url: URL.createObjectURL(blob), status: 'queued' });
  }
  const lens = useLens.getState();
  lens.addImages(entries);
  if (!lens.view.focusImageId && entries[0]) lens.setView({ focusImageId: entries[0].id });
  if (lens.model.status === 'ready') for (const e of entries) queueImage(e.id);
}

export function removeImage(id: string): void {
  const requestId = pendingImages.get(id);
  if (requestId) void api().cancel(requestId);
  pendingImages.delete(id);
  blobs.delete(id);
  imageResults.delete(id);
  const entry = useLens.getState().images.find((im) => im.id === id);
  if (entry) URL.revokeObjectURL(entry.url);
  useLens.getState().removeImage(id);
}

function queueImage(id: string): void {
  const blob = blobs.get(id);
  if (!blob) return;
  const { updateImage } = useLens.getState();
  const requestId = newRequestId();
  pendingImages.set(id, requestId);
  updateImage(id, { status: 'queued' });
  imageResults.delete(id);
  api().encodeImage({ requestId, imageId: id, blob }).then((result) => {
    if (pendingImages.get(id) !== requestId) return; // stale: removed or re-queued
    imageResults.set(id, result);
    updateImage(id, { status: 'done' });
    useLens.getState().bumpResults();
  }, (e: unknown) => {
    if (pendingImages.get(id) !== requestId) return;
    const { code, message } = parseWorkerError(e);
    if (code !== 'cancelled') updateImage(id, { status: 'error', error: message });
  }).finally(() => {
    if (pendingImages.get(id) === requestId) pendingImages.delete(id);
  });
}

/** Tokenizes a prompt for display and for the encoder; null for an empty prompt. */
export function tokenize(text: string): { ids: number[]; tokens: string[]; truncated: boolean } | null {
  if (!tokenizer || text.trim() === '') return null;
  return tokenizer.encode(text);
}

/** Encodes every prompt that has no result yet (empty prompts are ignored). */
export async function refreshPrompts(): Promise<void> {
  if (useLens.getState().model.status !== 'ready') return;
  const jobs: Promise<void>[] = [];
  for (const p of useLens.getState().prompts) {
    const tok = tokenize(p.text);
    if (!tok) continue;
    const key = tok.ids.join(',');
    if (promptResults.has(key)) continue;
    jobs.push(api().encodeText({ requestId: newRequestId(), ids: tok.ids }).then((r) => {
      promptResults.set(key, { ...r, ...tok });
      useLens.getState().bumpResults();
    }));
  }
  await Promise.allSettled(jobs);
}

/** How often each encoder actually ran (tests use this to prove that the view never re-runs it). */
export async function runCounters(): Promise<{ imageRuns: number; textRuns: number }> {
  return api().counters();
}
