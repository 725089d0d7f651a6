/**
 * Taking the result home: the view lives in the address (see viewAddress.ts), and the images and
 * prompts survive a reload (see sessionStorage.ts). At start the address wins for the view
 * settings; the stored session brings the images, and the prompts when the address has none.
 */
import { create } from 'zustand';
import { defaultPrompts, newPromptId, useLens, type LensState, type ViewOptions } from '../state/store';
import { IMAGE_METHODS } from './maps';
import { addFiles, imageBlob, refreshPrompts, removeImage } from './pipeline';
import { clearStoredSession, readSession, SESSION_CAP, writeSession, type StoredImage } from './sessionStorage';
import { decodeViewHash, encodeViewHash, type AddressView } from './viewAddress';

/** What the session has to tell the person (shown by SessionControls). */
export interface SessionNotes {
  /** The file the link focuses that is not on this page (the person can drop it). */
  missingImage: string | null;
  /** Storage is unavailable or full, or the cap left the oldest images out. */
  storage: string | null;
  /** How many images storage holds after the last read or write (null: not known yet). */
  stored: number | null;
}

export const useSessionNotes = create<SessionNotes>()(() => ({ missingImage: null, storage: null, stored: null }));

/** The address is rewritten at most this often (a slider drag is one entry, never one per step). */
const ADDRESS_INTERVAL_MS = 300;
/** The session is stored this long after the last change. */
const STORE_DELAY_MS = 400;

/** Layer and heads from the link, held until the model (whose load resets them) is ready. */
let pendingShape: Pick<AddressView, 'layer' | 'heads'> | null = null;
/** Page image id → its record in storage (stable across reloads). */
const storageKeys = new Map<string, string>();
/** Storage writes, one after another. */
let writes: Promise<unknown> = Promise.resolve();
let storageBroken = false;
let started = false;

/** Reads the address and the stored session into the page, then keeps both up to date. Once. */
export async function startSession(): Promise<void> {
  if (started) return;
  started = true;
  const address = decodeViewHash(location.hash, IMAGE_METHODS.map((m) => m.id));
  applyAddress(address);
  watchForLinkedImage();
  keepAddress();
  const stored = await readSession().catch((e: unknown) => {
    brokenStorage(e);
    return null;
  });
  useSessionNotes.setState({ stored: stored?.images.length ?? (storageBroken ? null : 0) });
  if (stored) {
    const lens = useLens.getState();
    if (!address.prompts && stored.prompts.length > 0) {
      lens.setPrompts(stored.prompts.map((text) => ({ id: newPromptId(), text })));
      const a = address.promptIndex ?? stored.promptIndex;
      selectPrompts(a ?? undefined, address.promptBIndex);
      void refreshPrompts();
    }
    const ids = addFiles(stored.images.map((im) => ({ name: im.name, blob: im.blob })));
    ids.forEach((id, i) => { const im = stored.images[i]; if (im) storageKeys.set(id, im.key); });
    // The image the link names wins over the stored focus.
    const named = address.image === undefined ? -1 : stored.images.findIndex((im) => im.name === address.image);
    const focus = named >= 0 ? ids[named] : stored.focus === null ? undefined : ids[stored.focus];
    if (focus) lens.setView({ focusImageId: focus });
  }
  // Whatever the link names and the session did not bring, the person can drop.
  const wanted = address.image;
  if (wanted !== undefined && !useLens.getState().images.some((im) => im.name === wanted)) useSessionNotes.setState({ missingImage: wanted });
  keepSession();
  // A link pasted into this tab that differs only in its hash does not reload the page
  // (replaceState fires no hashchange: this is always someone else's address).
  window.addEventListener('hashchange', () => {
    const next = decodeViewHash(location.hash, IMAGE_METHODS.map((m) => m.id));
    applyAddress(next);
    focusNamed(next.image);
  });
}

/** Empties the stored session and the page: no images, the default prompts. */
export async function clearSession(): Promise<void> {
  for (const im of useLens.getState().images) removeImage(im.id);
  storageKeys.clear();
  const lens = useLens.getState();
  const prompts = defaultPrompts();
  lens.setPrompts(prompts);
  lens.setView({ promptId: prompts[0]?.id ?? null, promptBId: null, focusImageId: null });
  useSessionNotes.setState({ missingImage: null, storage: storageBroken ? useSessionNotes.getState().storage : null });
  void refreshPrompts();
  if (storageBroken) return;
  await queueWrite(async () => {
    await clearStoredSession();
    useSessionNotes.setState({ stored: 0 });
  });
}

// ---------------------------------------------------------------------------------------------
// The address

/** The address form of the page's view. */
export function addressOf(s: Pick<LensState, 'view' | 'prompts' | 'images' | 'compare'>, missingImage: string | null): AddressView {
  const v = s.view;
  const a = s.prompts.findIndex((p) => p.id === v.promptId);
  const b = s.prompts.findIndex((p) => p.id === v.promptBId);
  const on = v.heads.flatMap((h, i) => (h ? [i] : []));
  const image = s.images.find((im) => im.id === v.focusImageId)?.name ?? missingImage ?? undefined;
  return {
    method: v.method, layer: pendingShape?.layer ?? v.layer, heads: pendingShape?.heads ?? (on.length === v.heads.length ? [] : on),
    fusion: v.fusion, colormap: v.colormap, divergingColormap: v.divergingColormap, opacity: v.opacity,
    rolloutDiscard: v.rolloutDiscard, relevanceStart: v.relevanceStart, differenceBase: v.differenceBase, contributionLayers: v.contributionLayers,
    prompts: s.prompts.map((p) => p.text),
    ...(a >= 0 ? { promptIndex: a } : {}), ...(b >= 0 && b !== a ? { promptBIndex: b } : {}),
    ...(image !== undefined ? { image } : {}),
    compareOpen: s.compare.open,
  };
}

function applyAddress(address: AddressView): void {
  const lens = useLens.getState();
  if (address.prompts) {
    lens.setPrompts(address.prompts.map((text) => ({ id: newPromptId(), text })));
    void refreshPrompts();
  }
  selectPrompts(address.promptIndex, address.promptBIndex);
  const patch: Partial<ViewOptions> = {};
  if (address.method !== undefined) patch.method = address.method;
  if (address.fusion !== undefined) patch.fusion = address.fusion;
  if (address.colormap !== undefined) patch.colormap = address.colormap;
  if (address.divergingColormap !== undefined) patch.divergingColormap = address.divergingColormap;
  if (address.opacity !== undefined) patch.opacity = address.opacity;
  if (address.rolloutDiscard !== undefined) patch.rolloutDiscard = address.rolloutDiscard;
  if (address.relevanceStart !== undefined) patch.relevanceStart = address.relevanceStart;
  if (address.differenceBase !== undefined) patch.differenceBase = address.differenceBase;
  if (address.contributionLayers !== undefined) patch.contributionLayers = address.contributionLayers;
  lens.setView(patch);
  if (address.compareOpen !== undefined) lens.setCompare({ open: address.compareOpen });
  if (address.layer === undefined && address.heads === undefined) return;
  pendingShape = { ...(address.layer !== undefined ? { layer: address.layer } : {}), ...(address.heads ? { heads: address.heads } : {}) };
  const { model } = useLens.getState();
  if (model.status === 'ready' && model.vision) {
    applyShape(model.vision);
    return;
  }
  // A model load resets layer and heads; these apply once the first model is ready, when the
  // model says how many there are (indices it does not have are ignored).
  const stop = useLens.subscribe((s) => {
    const vision = s.model.status === 'ready' ? s.model.vision : null;
    if (!vision) return;
    stop();
    queueMicrotask(() => applyShape(vision));
  });
}

function applyShape(vision: { layers: number; heads: number }): void {
  const shape = pendingShape;
  pendingShape = null;
  if (!shape) return;
  const p: Partial<ViewOptions> = {};
  if (shape.layer !== undefined && shape.layer < vision.layers) p.layer = shape.layer;
  if (shape.heads && shape.heads.every((h) => h < vision.heads)) {
    p.heads = Array.from({ length: vision.heads }, (_, h) => shape.heads?.includes(h) ?? false);
  }
  useLens.getState().setView(p);
}

/** Focuses the image a link names, or says to drop it when the page does not have it. */
function focusNamed(name: string | undefined): void {
  if (name === undefined) return;
  const found = useLens.getState().images.find((im) => im.name === name);
  if (found) useLens.getState().setView({ focusImageId: found.id });
  useSessionNotes.setState({ missingImage: found ? null : name });
}

function selectPrompts(a: number | undefined, b: number | undefined): void {
  const { prompts, setView } = useLens.getState();
  const patch: Partial<ViewOptions> = {};
  const pa = a === undefined ? undefined : prompts[a];
  const pb = b === undefined ? undefined : prompts[b];
  if (pa) patch.promptId = pa.id;
  if (pb) patch.promptBId = pb.id;
  setView(patch);
}

/** Rewrites the address (replaceState, throttled) as the view, prompts, focus or model change. */
function keepAddress(): void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const write = () => {
    timer = null;
    const s = useLens.getState();
    const url = new URL(location.href);
    const choice = s.model.status === 'ready' ? s.model.choice : null;
    // The model keeps its `?model=…&variant=…` form (modelChoice.ts reads it at start).
    if (choice?.kind === 'bundled') url.searchParams.set('model', 'bundled');
    if (choice?.kind === 'hub') url.searchParams.set('model', choice.revision === 'main' ? choice.repo : `${choice.repo}@${choice.revision}`);
    if (choice && choice.kind !== 'folder') url.searchParams.set('variant', choice.variant);
    url.hash = encodeViewHash(addressOf(s, useSessionNotes.getState().missingImage));
    if (url.href !== location.href) history.replaceState(history.state, '', url.href);
  };
  const schedule = () => { timer ??= setTimeout(write, ADDRESS_INTERVAL_MS); };
  useLens.subscribe((s, prev) => {
    if (s.view !== prev.view || s.prompts !== prev.prompts || s.images !== prev.images || s.compare !== prev.compare || s.model.choice !== prev.model.choice || s.model.status !== prev.model.status) schedule();
  });
  useSessionNotes.subscribe(schedule);
  schedule();
}

/** When the file a link names is dropped, it is focused and the note goes. */
function watchForLinkedImage(): void {
  useLens.subscribe((s, prev) => {
    const wanted = useSessionNotes.getState().missingImage;
    if (wanted === null || s.images === prev.images) return;
    const found = s.images.find((im) => im.name === wanted);
    if (!found) return;
    useSessionNotes.setState({ missingImage: null });
    // After addFiles has focused the first of the files dropped with it.
    queueMicrotask(() => useLens.getState().setView({ focusImageId: found.id }));
  });
}

// ---------------------------------------------------------------------------------------------
// The stored session

function keepSession(): void {
  if (storageBroken) return;
  let timer: ReturnType<typeof setTimeout> | null = null;
  useLens.subscribe((s, prev) => {
    if (s.images === prev.images && s.prompts === prev.prompts && s.view.focusImageId === prev.view.focusImageId && s.view.promptId === prev.view.promptId) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; if (!storageBroken) void queueWrite(store); }, STORE_DELAY_MS);
  });
}

async function store(): Promise<void> {
  const { images, prompts, view } = useLens.getState();
  const kept: StoredImage[] = [];
  for (const im of images) {
    const blob = imageBlob(im.id);
    if (!blob) continue;
    let key = storageKeys.get(im.id);
    if (!key) {
      key = crypto.randomUUID();
      storageKeys.set(im.id, key);
    }
    kept.push({ key, name: im.name, blob });
  }
  const a = prompts.findIndex((p) => p.id === view.promptId);
  const focus = kept.findIndex((im) => im.key === (view.focusImageId ? storageKeys.get(view.focusImageId) : undefined));
  const dropped = await writeSession({ images: kept, prompts: prompts.map((p) => p.text), promptIndex: a >= 0 ? a : null, focus: focus >= 0 ? focus : null });
  useSessionNotes.setState({
    stored: kept.length - dropped,
    storage: dropped > 0
      ? `The ${dropped} oldest image${dropped > 1 ? 's are' : ' is'} not kept for the next visit (the session keeps at most ${SESSION_CAP.images} images, ${SESSION_CAP.bytes / 1024 / 1024} MB).`
      : null,
  });
}

function queueWrite(job: () => Promise<unknown>): Promise<void> {
  const next = writes.then(job).then(() => undefined, brokenStorage);
  writes = next;
  return next;
}

function brokenStorage(e: unknown): void {
  storageBroken = true;
  const why = e instanceof Error && /quota/i.test(`${e.name} ${e.message}`) ? 'its storage is full' : 'it does not let this page store data (private mode?)';
  useSessionNotes.setState({ storage: `Images and prompts will not come back after a reload: ${why}. Everything else works.` });
}
