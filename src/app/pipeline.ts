/**
 * Orchestration on the main thread: loads the model, queues images and prompts for the worker,
 * and files results into the cache. Components call these functions; they never talk to the
 * worker themselves.
 */
import * as Comlink from 'comlink';
import { parseWorkerError, type ModelInfo, type ModelSource, type ModelVariant, type RunCounters } from '../protocol';
import { parseClipConfig, type ClipShape } from '../model/config';
import { choiceLabel, type ModelChoice } from '../model/hub';
import { ClipTextTokenizer } from '../text/tokenizer';
import { clearResults, forgetImage, imageResults, keepImageResult, promptResults, touchImageResult } from '../state/results';
import { useLens, type ImageEntry, type SizeOffer } from '../state/store';
import { ProgressMeter } from './progressMeter';
import { newRequestId, startWorker, type StartedWorker, type WorkerHandle } from './workerClient';

export const BUNDLED_MODEL_ID = 'clip-lens-shapes';

let worker: StartedWorker | null = null;
let tokenizer: ClipTextTokenizer | null = null;
let shape: ClipShape | null = null;
/** Files as dropped, kept so that a model switch can re-run every image. */
const blobs = new Map<string, Blob>();
/** Request ids of queued image jobs, for cancellation. */
const pendingImages = new Map<string, number>();
let imageCounter = 0;
let loadRequest = 0;

/** The model worker (started on first use). */
export function workerApi(): WorkerHandle {
  return api();
}

function api(): WorkerHandle {
  worker ??= startWorker(onWorkerLost);
  return worker.api;
}

/** Ends the worker abruptly, as a crash would, without telling the page (the crash test's hook). */
export function killWorker(): void {
  worker?.terminate();
}

/** The file of an image as it was added (null once removed): the worker decodes it again when needed. */
export function imageBlob(id: string): Blob | null {
  return blobs.get(id) ?? null;
}

export function modelShape(): ClipShape | null {
  return shape;
}

export function bundledSource(variant: ModelVariant): ModelSource {
  return { kind: 'url', id: BUNDLED_MODEL_ID, baseUrl: new URL(`models/${BUNDLED_MODEL_ID}/`, document.baseURI).href, variant };
}

/** How a load presents itself; see {@link loadModel}. */
export interface LoadOptions {
  /** What the picker shows as chosen; derived from the source when omitted. */
  choice?: ModelChoice;
  /** A note to show once the model is ready (e.g. why this model and not another). */
  note?: string;
  /** A choice that failed before this load, kept for the Retry button. */
  failed?: ModelChoice;
  /**
   * The same model again in a new worker (the last one died): the note shows while it loads and
   * after, and the view (layer, heads, clicked patch) stays as it was.
   */
  recovery?: string;
}

/**
 * The model the worker holds: what a failed or cancelled load falls back to. A load cancelled too
 * late (while ONNX Runtime was creating its sessions) still replaces the worker's model, so this
 * follows the worker, not the UI; `applied` is the one the page's tokenizer and results belong to.
 */
let loaded: { info: ModelInfo; choice: ModelChoice | null; source: ModelSource } | null = null;
let applied: ModelInfo | null = null;
/** The load in flight, if any: what a worker that dies meanwhile was asked for. */
let loading: { source: ModelSource; choice: ModelChoice | null } | null = null;

/** The picker's view of a source: bundled, a Hub repo, or a folder from disk. */
export function choiceOfSource(source: ModelSource): ModelChoice | null {
  if (source.kind === 'hub') return { kind: 'hub', repo: source.repo, revision: source.revision, variant: source.variant };
  if (source.kind === 'files') return { kind: 'folder', name: source.id, variant: source.variant };
  return source.id === BUNDLED_MODEL_ID ? { kind: 'bundled', variant: source.variant } : null;
}

/** Store updates for progress at most this often: a 600 MB download sends thousands of chunks. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Loads a model; on success re-runs everything the user has added. On failure (or cancel) the
 * previous model, if any, stays loaded and usable, and nothing the user did is lost.
 * Resolves true when this model is now loaded.
 */
export async function loadModel(source: ModelSource, options: LoadOptions = {}): Promise<boolean> {
  const { setModel } = useLens.getState();
  if (loadRequest) void api().cancel(loadRequest);
  const requestId = newRequestId();
  loadRequest = requestId;
  const choice = options.choice ?? choiceOfSource(source);
  loading = { source, choice };
  const note = options.recovery ?? null;
  setModel({ status: 'loading', id: source.id, variant: source.variant, progress: null, error: null, choice, failed: null, note, sizeOffer: null });
  const meter = new ProgressMeter();
  let lastShown = 0;
  try {
    const info = await api().loadModel(source, requestId, Comlink.proxy((p) => {
      if (loadRequest !== requestId) return;
      const now = performance.now();
      const reading = meter.update(p.file, p.loaded, p.total, now);
      if (now - lastShown < PROGRESS_INTERVAL_MS && p.loaded !== p.total) return;
      lastShown = now;
      setModel({ progress: reading });
    }));
    loaded = { info, choice, source };
    if (loadRequest !== requestId) {
      // Replaced by a newer load (which will replace this model too), or cancelled too late:
      // then the worker has this model, so the page adopts it rather than disagree with it.
      if (loadRequest !== 0) return false;
    }
    await applyModel(info, choice, { note: options.recovery ?? options.note ?? null, failed: options.failed ?? null, keepView: options.recovery !== undefined });
    return true;
  } catch (e) {
    if (loadRequest !== requestId) return false;
    const { code, message } = parseWorkerError(e);
    if (code === 'cancelled' || code === 'worker-lost') return false; // a lost worker: onWorkerLost takes over
    const what = choice ? choiceLabel(choice) : source.id;
    if (loaded) {
      // The worker keeps the previous sessions until the new ones exist: it still works.
      const still = loaded.choice ? choiceLabel(loaded.choice) : loaded.info.id;
      await restorePrevious({ failed: choice, error: `Could not load ${what}: ${explainLoadError(message)} (${still} is still loaded.)` });
    } else {
      setModel({ status: 'error', error: `Could not load ${what}: ${explainLoadError(message)}`, progress: null, failed: choice });
    }
    return false;
  } finally {
    if (loadRequest === requestId) {
      loadRequest = 0;
      loading = null;
    }
  }
}

/** When the worker died, most recently first: a worker that keeps dying is not restarted forever. */
const losses: number[] = [];
const MAX_LOSSES = 3;
const LOSS_WINDOW_MS = 120_000;

/**
 * The model worker died (out of memory, a crash, killed). Starts a new one and loads the model
 * again (from the cache), keeping every image, prompt and the view; everything is re-run. A
 * worker that died while loading another model brings back the one before, if there was one:
 * that load is what most likely broke it (too big for this device's memory).
 */
function onWorkerLost(): void {
  worker = null;
  pendingImages.clear(); // their answers can never come; the reload re-queues every image
  const now = performance.now();
  while (losses.length && now - (losses[losses.length - 1] ?? now) > LOSS_WINDOW_MS) losses.pop();
  losses.unshift(now);
  const inFlight = loading;
  const previous = loaded;
  loaded = null;
  applied = null;
  loadRequest = 0;
  loading = null;
  const { setModel } = useLens.getState();
  const label = (c: ModelChoice | null, source: ModelSource) => (c ? choiceLabel(c) : source.id);
  if (losses.length > MAX_LOSSES) {
    setModel({
      status: 'error', progress: null, failed: inFlight?.choice ?? previous?.choice ?? null, note: null,
      error: `The model worker stopped ${losses.length} times in two minutes (out of memory or a crash), so it was not restarted again. Try a smaller model or variant, or reload the page.`,
    });
    return;
  }
  if (inFlight && previous && inFlight.source !== previous.source) {
    const broke = label(inFlight.choice, inFlight.source);
    const back = label(previous.choice, previous.source);
    void loadModel(previous.source, {
      ...(previous.choice ? { choice: previous.choice } : {}),
      ...(inFlight.choice ? { failed: inFlight.choice } : {}),
      recovery: `Loading ${broke} stopped the model worker (most likely it needs more memory than this tab can have: try the q8 or q4 weights). A new worker has ${back} again; your images and prompts are kept.`,
    });
    return;
  }
  const again = inFlight ?? previous;
  if (!again) {
    setModel({ status: 'idle', progress: null, note: 'The model worker stopped; choose a model to start a new one.' });
    return;
  }
  void loadModel(again.source, {
    ...(again.choice ? { choice: again.choice } : {}),
    recovery: `The model worker stopped unexpectedly (out of memory or a crash): a new one was started and ${label(again.choice, again.source)} loaded again. Your images, prompts and view are kept; every image is analysed again.`,
  });
}

/** Makes `info` the page's model: tokenizer, shapes, status; re-runs every image and prompt. */
async function applyModel(info: ModelInfo, choice: ModelChoice | null, extra: { note: string | null; failed: ModelChoice | null; error?: string; keepView?: boolean }): Promise<void> {
  shape = parseClipConfig(info.config, info.id);
  tokenizer = ClipTextTokenizer.fromJSON(info.tokenizerJson, info.tokenizerConfig);
  tokenized.clear();
  applied = info;
  clearResults();
  useLens.getState().setModel({
    status: 'ready', id: info.id, variant: info.variant, choice, backend: info.backend, wasmThreads: info.wasmThreads, progress: null,
    vision: { layers: info.vision.layers, heads: info.vision.heads },
    text: { layers: info.text.layers, heads: info.text.heads },
    note: extra.note, failed: extra.failed, error: extra.error ?? null,
  });
  if (!extra.keepView) useLens.getState().setView({ layer: -1, heads: [], queryPatch: null });
  useLens.getState().bumpResults();
  // Prompts first: they are quick, and each image's card is then complete when its result comes.
  const prompts = refreshPrompts();
  for (const im of useLens.getState().images) if (blobs.has(im.id)) queueImage(im.id);
  await prompts;
}

/** After a failed or cancelled switch: the worker's model is the page's model again. */
async function restorePrevious(extra: { failed: ModelChoice | null; error: string | null; note?: string }): Promise<void> {
  if (!loaded) return;
  if (loaded.info !== applied) {
    await applyModel(loaded.info, loaded.choice, { note: extra.note ?? null, failed: extra.failed, ...(extra.error ? { error: extra.error } : {}) });
    return;
  }
  useLens.getState().setModel({
    status: 'ready', id: loaded.info.id, variant: loaded.info.variant, choice: loaded.choice, progress: null,
    failed: extra.failed, error: extra.error, note: extra.note ?? null,
  });
  // Images and prompts added while the switch was in flight were not sent: send them now.
  for (const im of useLens.getState().images) {
    if (im.status === 'queued' && blobs.has(im.id) && !pendingImages.has(im.id) && !imageResults.has(im.id)) queueImage(im.id);
  }
  await refreshPrompts();
}

/**
 * A load not started: the model is too big for this device (see ./modelChoice.ts). The model
 * loaded before, if any, is the page's model again (the picker had switched to "loading").
 */
export function holdLoad(offer: SizeOffer): void {
  const { setModel } = useLens.getState();
  if (loaded) {
    setModel({ status: 'ready', id: loaded.info.id, variant: loaded.info.variant, choice: loaded.choice, progress: null, note: null, error: null, sizeOffer: offer });
  } else {
    setModel({ status: 'idle', progress: null, note: null, error: null, sizeOffer: offer });
  }
}

/** Adds advice to errors whose cause a person cannot guess from ONNX Runtime's wording. */
function explainLoadError(message: string): string {
  // The worker's own memory messages already say what to pick.
  if (/out of memory|\boom\b|allocat|array buffer|bad_alloc|memory access out of bounds/i.test(message) && !/\bq8\b/.test(message)) {
    return `${message} The model is probably too big for the memory this tab can use: try the q8 or fp16 weights, or a smaller model.`;
  }
  if (/device (was )?lost|gpu.*lost/i.test(message)) return `${message} The GPU was lost: reload the page to use it again.`;
  return message;
}

/**
 * Stops the load in flight; what was loaded before stays. Resolves false when nothing is loaded
 * (the caller decides what to load instead).
 */
export async function cancelModelLoad(): Promise<boolean> {
  if (!loadRequest) return loaded !== null;
  void api().cancel(loadRequest);
  loadRequest = 0;
  if (loaded) {
    await restorePrevious({ failed: null, error: null, note: 'Loading was cancelled.' });
    return true;
  }
  useLens.getState().setModel({ status: 'idle', progress: null, error: null, note: 'Loading was cancelled.' });
  return false;
}

/** Adds files (images or not: each gets its own result or message); returns their image ids, in order. */
export function addFiles(files: Iterable<File | { name: string; blob: Blob }>): string[] {
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
  return entries.map((e) => e.id);
}

export function removeImage(id: string): void {
  const requestId = pendingImages.get(id);
  if (requestId) void api().cancel(requestId);
  pendingImages.delete(id);
  blobs.delete(id);
  forgetImage(id);
  const entry = useLens.getState().images.find((im) => im.id === id);
  if (entry) URL.revokeObjectURL(entry.url);
  useLens.getState().removeImage(id);
}

/**
 * Analyses an image again whose attention was released (see state/results.ts): it is being
 * viewed. No-op while it is queued or without its file.
 */
export function reanalyse(id: string): void {
  if (pendingImages.has(id) || useLens.getState().model.status !== 'ready') return;
  queueImage(id);
}

function queueImage(id: string): void {
  const blob = blobs.get(id);
  if (!blob) return;
  const { updateImage } = useLens.getState();
  const requestId = newRequestId();
  pendingImages.set(id, requestId);
  updateImage(id, { status: 'queued' });
  forgetImage(id);
  api().encodeImage({ requestId, imageId: id, blob }).then(({ display, ...result }) => {
    if (pendingImages.get(id) !== requestId) return; // stale: removed or re-queued
    // The image in the focus view keeps its attention; released cards show a button, and their scores stay.
    const focused = useLens.getState().view.focusImageId;
    if (focused) touchImageResult(focused);
    for (const released of keepImageResult(id, result)) useLens.getState().bumpResults(released);
    // A very large image is shown through the worker's smaller copy (the file stays in `blobs`).
    const shown = display ? { url: URL.createObjectURL(display) } : {};
    if (display) {
      const old = useLens.getState().images.find((im) => im.id === id)?.url;
      if (old) URL.revokeObjectURL(old);
    }
    updateImage(id, { status: 'done', ...shown });
    useLens.getState().bumpResults(id);
  }, (e: unknown) => {
    if (pendingImages.get(id) !== requestId) return;
    const { code, message } = parseWorkerError(e);
    // A lost worker's images stay queued: the new worker gets them once the model is back.
    if (code !== 'cancelled' && code !== 'worker-lost') updateImage(id, { status: 'error', error: message });
  }).finally(() => {
    if (pendingImages.get(id) === requestId) pendingImages.delete(id);
  });
}

type Tokenized = { ids: number[]; tokens: string[]; truncated: boolean };

/**
 * Tokenized prompts of the current tokenizer, by text: every render of the prompt list and of
 * each image card asks for every prompt's ids, and with hundreds of prompts that must not
 * mean hundreds of BPE runs per render.
 */
const tokenized = new Map<string, Tokenized | null>();
const TOKENIZED_KEPT = 4096;

/** Tokenizes a prompt for display and for the encoder; null for an empty prompt. */
export function tokenize(text: string): Tokenized | null {
  if (!tokenizer || text.trim() === '') return null;
  const known = tokenized.get(text);
  if (known !== undefined) return known;
  const result = tokenizer.encode(text);
  if (tokenized.size >= TOKENIZED_KEPT) tokenized.clear();
  tokenized.set(text, result);
  return result;
}

/** Prompts sent to the worker and not answered yet, by ids, per model: never sent twice. */
const encoding = new WeakMap<ModelInfo, Map<string, Promise<void>>>();

/**
 * Encodes every prompt that has no result yet (empty prompts are ignored); each distinct prompt
 * once, however often it is listed or this is called while it is on its way.
 */
export async function refreshPrompts(): Promise<void> {
  const model = applied;
  if (useLens.getState().model.status !== 'ready' || !model) return;
  let sent = encoding.get(model);
  if (!sent) encoding.set(model, (sent = new Map()));
  const jobs: Promise<void>[] = [];
  for (const p of useLens.getState().prompts) {
    const tok = tokenize(p.text);
    if (!tok) continue;
    const key = tok.ids.join(',');
    if (promptResults.has(key)) continue;
    const known = sent.get(key);
    if (known) {
      jobs.push(known);
      continue;
    }
    const inFlight = sent;
    const job = api().encodeText({ requestId: newRequestId(), ids: tok.ids }).then((r) => {
      if (applied !== model) return; // another model since: its ids and embeddings are not this one's
      promptResults.set(key, { ...r, ...tok });
      bumpSoon();
    }).finally(() => inFlight.delete(key));
    sent.set(key, job);
    jobs.push(job);
  }
  await Promise.allSettled(jobs);
}

let bumpTimer: ReturnType<typeof setTimeout> | null = null;
let bumpPending = false;

/**
 * Re-renders for a prompt result at once, then at most once per 100 ms while more arrive: 500
 * pasted prompts finish one by one, and each re-render scores every image against every prompt.
 */
function bumpSoon(): void {
  if (bumpTimer) {
    bumpPending = true;
    return;
  }
  useLens.getState().bumpResults();
  bumpTimer = setTimeout(function settle() {
    if (!bumpPending) {
      bumpTimer = null;
      return;
    }
    bumpPending = false;
    useLens.getState().bumpResults();
    bumpTimer = setTimeout(settle, 100);
  }, 100);
}

/**
 * How often each encoder actually ran (tests use this to prove that the view never re-runs it;
 * `queryRuns` counts the vision runs for a clicked patch's rows).
 */
export async function runCounters(): Promise<RunCounters> {
  return api().counters();
}
