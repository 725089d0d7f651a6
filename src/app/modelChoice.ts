/**
 * Which model to load: the picker's choices turned into worker sources, the remembered choice,
 * the first-visit default (ViT-B/32 from the Hub when it answers, else the bundled model), and
 * model folders from the user's disk. Loading itself is `loadModel` in ./pipeline.ts.
 */
import type { Backend, ModelSource, ModelVariant } from '../protocol';
import { catalogVariants, DEFAULT_HUB_REPO, formatBytes } from '../model/catalog';
import { CLASSIC_VARIANTS, encoderFile, isVariant, modelFolderFiles, VARIANTS, type ModelFolder, type PickedFile } from '../model/folder';
import {
  addressVariant, choiceFromAddress, choiceLabel, DEFAULT_REVISION, hubFileUrl, parseStoredChoice, PUBLIC_HUB_HOST, resolveHubHost,
  type ModelChoice,
} from '../model/hub';
import { cachedVariants } from '../model/modelCache';
import { modelBudgetBytes, tooBig } from '../model/memoryBudget';
import { BACKEND_PREFERENCE, defaultVariant, listRepoVariants, type RepoVariant } from '../model/variants';
import { useLens, type SizeOffer } from '../state/store';
import { bundledSource, cancelModelLoad, holdLoad, loadModel } from './pipeline';

const STORAGE_KEY = 'clip-lens.model';
/** The weights variant the person last picked in the Weights menu: it wins over the default. */
const VARIANT_KEY = 'clip-lens.variant';
/** How long the picker waits for a repository's file listing before offering the usual variants. */
const LISTING_TIMEOUT_MS = 5000;
/** A HEAD of one small file; a Hub that takes longer than this is treated as unreachable. */
const PROBE_TIMEOUT_MS = 3000;

/** The Hub host for this page: `?hub=` in the address, else the build's `VITE_HUB_HOST`, else huggingface.co. */
export function hubHost(): string {
  const fromBuild: unknown = import.meta.env['VITE_HUB_HOST'];
  return resolveHubHost(new URLSearchParams(location.search).get('hub'), typeof fromBuild === 'string' ? fromBuild : undefined);
}

/** True when downloads go somewhere other than the public Hub (shown in the picker). */
export function isCustomHub(): boolean {
  return hubHost() !== PUBLIC_HUB_HOST;
}

/** The folder picked last; kept so that switching its variant or retrying works without re-picking. */
let folder: ModelFolder | null = null;

/** Variants the picked folder has, with their sizes on disk (none when no folder is picked). */
export function folderVariants(): RepoVariant[] {
  if (!folder) return [];
  const files = folder.files;
  return folder.variants.map((variant) => {
    const size = (e: 'vision' | 'text') => files[encoderFile(e, variant)]?.size ?? 0;
    return { variant, bytes: size('vision') + size('text') };
  });
}

// ---------------------------------------------------------------------------------------------
// Which weights: what the model has, the person's last pick, the backend's default

/** The variant the person picked last in the Weights menu, if any. */
export function pinnedVariant(): ModelVariant | null {
  try {
    const v = localStorage.getItem(VARIANT_KEY);
    return isVariant(v) ? v : null;
  } catch {
    return null; // storage disabled
  }
}

/** Remembers a pick from the Weights menu: later models open with it where they have it. */
export function pinVariant(v: ModelVariant): void {
  try {
    localStorage.setItem(VARIANT_KEY, v);
  } catch {
    // Storage full or disabled: the pick holds for this visit only.
  }
}

/**
 * The backend the worker will run on: the one it runs on now, else `?backend=`, else WebGPU when
 * the browser offers an adapter (the worker's own rule; its fallback to WASM is rare).
 */
export async function expectedBackend(): Promise<Backend> {
  const known = useLens.getState().model.backend;
  if (known) return known;
  const forced = new URLSearchParams(location.search).get('backend');
  if (forced === 'wasm' || forced === 'webgpu') return forced;
  // The page's types leave WebGPU out (only the worker uses it); this is all the page needs of it.
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  try {
    return (await gpu?.requestAdapter()) ? 'webgpu' : 'wasm';
  } catch {
    return 'wasm';
  }
}

/** Listings asked for in this visit, by `host repo@revision` (a failed one is asked again). */
const listings = new Map<string, Promise<RepoVariant[] | null>>();

/**
 * The variants a Hub repository has, with sizes: the Hub's listing, plus what Cache Storage holds
 * (a stored variant loads even when the Hub cannot be asked). Without a listing, a catalog repo
 * offers its catalog's variants; any other repo is unknown (null).
 */
export async function hubVariants(repo: string, revision: string): Promise<RepoVariant[] | null> {
  const ref = { host: hubHost(), repo, revision };
  const key = `${ref.host} ${repo}@${revision}`;
  let listing = listings.get(key);
  if (!listing) {
    listing = listRepoVariants(ref, { signal: AbortSignal.timeout(LISTING_TIMEOUT_MS) }).catch(() => null);
    listings.set(key, listing);
  }
  const listed = await listing;
  if (listed === null) listings.delete(key);
  const stored = await cachedVariants(ref).catch((): ModelVariant[] => []);
  const known = listed ?? catalogVariants(repo) ?? (stored.length > 0 ? [] : null);
  if (known === null) return null;
  const all = [...known, ...stored.filter((v) => !known.some((k) => k.variant === v)).map((variant) => ({ variant, bytes: null }))];
  return all.sort((a, b) => VARIANTS.indexOf(a.variant) - VARIANTS.indexOf(b.variant));
}

/**
 * Loads a Hub repo picked in the menu or typed in: first its listing (which weights it has), then
 * the variant {@link hubChoice} decides. The status says "loading" from the start, so the
 * listing's wait (up to {@link LISTING_TIMEOUT_MS}) reads as part of the load.
 */
export async function loadHubRepo(repo: string, revision: string): Promise<boolean> {
  useLens.getState().setModel({ status: 'loading', error: null, note: `Looking at the files of ${repo}…` });
  return loadChoice(await hubChoice(repo, revision));
}

/** The variants of a choice, for the picker: the bundled model's three, a folder's, a repo's. */
export async function choiceVariants(choice: ModelChoice): Promise<RepoVariant[] | null> {
  switch (choice.kind) {
    case 'bundled':
      return CLASSIC_VARIANTS.map((variant) => ({ variant, bytes: null }));
    case 'folder':
      return folderVariants();
    case 'hub':
      return hubVariants(choice.repo, choice.revision);
  }
}

/**
 * A Hub choice with its weights decided: `given` when the person named one, else their last pick
 * when the repo has it, else the backend's default among what the repo has (q8 on WASM).
 */
export async function hubChoice(repo: string, revision: string, given: ModelVariant | null = null): Promise<ModelChoice> {
  if (given) return { kind: 'hub', repo, revision, variant: given };
  const [available, backend] = await Promise.all([hubVariants(repo, revision), expectedBackend()]);
  const variant = defaultVariant(backend, available?.map((a) => a.variant) ?? null, pinnedVariant());
  return { kind: 'hub', repo, revision, variant };
}

/** The worker source for a choice; null for a folder choice when no folder is held. */
export function sourceFor(choice: ModelChoice): ModelSource | null {
  switch (choice.kind) {
    case 'bundled':
      return bundledSource(choice.variant);
    case 'hub':
      return { kind: 'hub', id: choice.repo, host: hubHost(), repo: choice.repo, revision: choice.revision, variant: choice.variant };
    case 'folder':
      return folder && folder.name === choice.name ? { kind: 'files', id: folder.name, files: folder.files, variant: choice.variant } : null;
  }
}

/** `navigator.deviceMemory` in GB, where the browser tells (Chromium only). */
function deviceMemoryGB(): number | null {
  const gb = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  return typeof gb === 'number' && gb > 0 ? gb : null;
}

/**
 * Before downloading a Hub variant: its listed size against what this device can hold
 * (../model/memoryBudget.ts). Returns the listing's file sizes for the worker (a download that
 * brings more is stopped), or an offer when the variant is too big. A stored variant downloads
 * nothing and is not checked.
 */
async function checkHubSize(choice: ModelChoice & { kind: 'hub' }): Promise<{ sizes?: Readonly<Record<string, number>>; offer?: SizeOffer }> {
  const [variants, stored, backend] = await Promise.all([
    hubVariants(choice.repo, choice.revision),
    cachedVariants({ host: hubHost(), repo: choice.repo, revision: choice.revision }).catch((): ModelVariant[] => []),
    expectedBackend(),
  ]);
  const listed = variants?.find((v) => v.variant === choice.variant);
  const sizes = listed?.files ? { sizes: listed.files } : {};
  if (!variants || stored.includes(choice.variant)) return sizes;
  const memory = deviceMemoryGB();
  const big = tooBig(variants, choice.variant, modelBudgetBytes(memory), BACKEND_PREFERENCE[backend]);
  if (!big) return sizes;
  const smaller = big.smaller && big.smaller.bytes !== null ? { choice: { ...choice, variant: big.smaller.variant }, bytes: big.smaller.bytes } : null;
  return { ...sizes, offer: { choice, bytes: big.bytes, budget: big.budget, deviceMemoryGB: memory, smaller } };
}

/**
 * Loads a choice from the picker; on success remembers it for the next visit (folders cannot be
 * re-opened without the person, so they are not remembered). A Hub variant too big for this
 * device is not downloaded: the bar offers a smaller one, or to go on anyway (`anyway`).
 */
export async function loadChoice(choice: ModelChoice, options: { remember?: boolean; note?: string; failed?: ModelChoice; anyway?: boolean } = {}): Promise<boolean> {
  let source = sourceFor(choice);
  if (!source) {
    useLens.getState().setModel({ error: 'Pick the model folder again: the browser does not keep access to it.' });
    return false;
  }
  if (choice.kind === 'hub' && source.kind === 'hub') {
    // "Loading" from the start: the check reads the listing and the cache first.
    useLens.getState().setModel({ status: 'loading', choice, variant: choice.variant, error: null, sizeOffer: null });
    const { sizes, offer } = await checkHubSize(choice);
    if (offer && !options.anyway) {
      holdLoad(offer);
      return false;
    }
    if (sizes) source = { ...source, sizes };
  }
  const ok = await loadModel(source, {
    choice, ...(options.note !== undefined ? { note: options.note } : {}), ...(options.failed ? { failed: options.failed } : {}),
  });
  if (ok && options.remember !== false && choice.kind !== 'folder') remember(choice);
  if (ok && choice.kind === 'hub') await checkStored(choice);
  return ok;
}

/**
 * After a Hub model loaded: were its files kept? If the browser refused (storage full), say so,
 * since the next visit would download it again.
 */
async function checkStored(choice: ModelChoice & { kind: 'hub' }): Promise<void> {
  if (typeof caches === 'undefined') return;
  const stored = await cachedVariants({ host: hubHost(), repo: choice.repo, revision: choice.revision }).catch(() => null);
  if (!stored || stored.includes(choice.variant)) return;
  const est = await navigator.storage?.estimate?.().catch(() => null);
  const room = est?.quota ? ` (this site may use ${formatBytes(est.quota)}, ${formatBytes(est.usage ?? 0)} in use)` : '';
  const { model, setModel } = useLens.getState();
  if (model.status !== 'ready' || model.id !== choice.repo) return;
  setModel({
    note: `The browser's storage is full${room}: this model works now but could not be kept, so the next visit downloads it again. Free space under “Stored models”.`,
  });
}

/** Loads the folder a person picked or dropped; says what is missing when it is not a model. */
export async function loadModelFolder(picked: readonly PickedFile[]): Promise<boolean> {
  const f = modelFolderFiles(picked);
  if (f.variants.length === 0) {
    const name = picked.length === 0 ? 'The chosen folder is empty' : `“${f.name}” is not a model folder`;
    useLens.getState().setModel({ error: `${name}: it has no ${f.missing.join(', ')}. Pick the folder that holds config.json and onnx/.` });
    return false;
  }
  folder = f;
  const variant = defaultVariant(await expectedBackend(), f.variants, pinnedVariant());
  return loadChoice({ kind: 'folder', name: f.name, variant });
}

/** Retry button: the failed choice again, or the current one. */
export async function retryModel(): Promise<boolean> {
  const { failed, choice } = useLens.getState().model;
  const again = failed ?? choice;
  return again ? loadChoice(again) : loadChoice({ kind: 'bundled', variant: 'fp32' });
}

/** Cancel button: stop the download; with nothing loaded before, fall back to the bundled model. */
export async function cancelLoad(): Promise<void> {
  const { choice } = useLens.getState().model;
  if (await cancelModelLoad()) return;
  await loadChoice({ kind: 'bundled', variant: 'fp32' }, {
    remember: false,
    note: 'Loading was cancelled: using the small bundled model.',
    ...(choice && choice.kind !== 'bundled' ? { failed: choice } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Remembered choice and first visit

/** The choice saved by {@link remember}, if it is still well formed. */
export function rememberedChoice(): ModelChoice | null {
  try {
    return parseStoredChoice(localStorage.getItem(STORAGE_KEY));
  } catch {
    return null; // storage disabled
  }
}

function remember(choice: ModelChoice): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(choice));
  } catch {
    // Storage full or disabled: the choice is simply not remembered.
  }
}

/** Does the Hub answer? A HEAD of the default model's config.json, with a short timeout. */
async function hubReachable(host: string): Promise<boolean> {
  if (navigator.onLine === false) return false;
  try {
    const url = hubFileUrl({ host, repo: DEFAULT_HUB_REPO, revision: DEFAULT_REVISION }, 'config.json');
    const res = await fetch(url, { method: 'HEAD', cache: 'no-store', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * The first load of a visit: the model in the address, else the remembered one, else ViT-B/32
 * from the Hub when it answers (or is already stored), else the bundled model with a note.
 * A Hub model that fails at start-up falls back to the bundled model, with Retry offered.
 */
export async function startModel(): Promise<void> {
  const { setModel } = useLens.getState();
  const host = hubHost();
  setModel({ hubHost: host });
  const fromAddress = choiceFromAddress(location.search);
  if (fromAddress && 'error' in fromAddress) {
    await loadChoice({ kind: 'bundled', variant: 'fp32' }, { remember: false, note: `${fromAddress.error} Using the small bundled model.` });
    return;
  }
  if (fromAddress?.kind === 'hub' && addressVariant(location.search) === null) {
    await startWith(await hubChoice(fromAddress.repo, fromAddress.revision));
    return;
  }
  const chosen = fromAddress ?? rememberedChoice();
  if (chosen) {
    await startWith(chosen);
    return;
  }
  setModel({ status: 'loading', note: 'Looking for the Hugging Face Hub…' });
  // A stored variant of the default model starts without the network; else ask the Hub.
  const stored = await cachedVariants({ host, repo: DEFAULT_HUB_REPO, revision: DEFAULT_REVISION }).catch((): ModelVariant[] => []);
  const backend = await expectedBackend();
  const storedPick = stored.length > 0 ? defaultVariant(backend, stored, pinnedVariant()) : null;
  const reachable = storedPick !== null || (await hubReachable(host));
  // The person may have picked a model (or pressed Cancel) while the Hub was being asked.
  if (useLens.getState().model.choice !== null) return;
  if (reachable) {
    const preferred = storedPick !== null
      ? { kind: 'hub' as const, repo: DEFAULT_HUB_REPO, revision: DEFAULT_REVISION, variant: storedPick }
      : await hubChoice(DEFAULT_HUB_REPO, DEFAULT_REVISION);
    if (useLens.getState().model.choice !== null) return;
    await startWith(preferred);
    return;
  }
  await loadChoice({ kind: 'bundled', variant: 'fp32' }, {
    remember: false,
    note: 'Offline: using the small bundled model (the Hugging Face Hub did not answer). Pick OpenAI CLIP when you are online.',
  });
}

async function startWith(choice: ModelChoice): Promise<void> {
  if (await loadChoice(choice, { remember: false })) return;
  const { model } = useLens.getState();
  // Only when nothing else is loaded or loading (the person may already have picked another).
  if (choice.kind === 'bundled' || model.status !== 'error') return;
  await loadChoice({ kind: 'bundled', variant: 'fp32' }, {
    remember: false,
    note: `${model.error ?? `Could not load ${choiceLabel(choice)}.`} Using the small bundled model instead.`,
    failed: choice,
  });
}
