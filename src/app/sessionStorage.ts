/**
 * The session kept in this origin's IndexedDB: the images (as the files were dropped, with their
 * names) and the prompts, so that a reload brings them back. One manifest record says what is
 * kept, in order; each image's blob is its own record, written once, so that a change of prompt
 * rewrites a few hundred bytes and never the pictures.
 */
import { clear, createStore, del, get, getMany, set, type UseStore } from 'idb-keyval';

/** The newest images are kept up to these limits; older ones stay on the page but not in storage. */
export const SESSION_CAP = { images: 200, bytes: 500 * 1024 * 1024 } as const;

const MANIFEST = 'session';
const blobKey = (key: string): string => `blob:${key}`;

/** One kept image: `key` names its blob record (stable across reloads, unlike the page's ids). */
export interface StoredImage {
  key: string;
  name: string;
  blob: Blob;
}

export interface StoredSession {
  images: StoredImage[];
  prompts: string[];
  /** Index of prompt A in `prompts`, and of the focused image in `images`. */
  promptIndex: number | null;
  focus: number | null;
}

interface Manifest {
  version: 1;
  images: { key: string; name: string }[];
  prompts: string[];
  promptIndex: number | null;
  focus: number | null;
}

/**
 * The images within {@link SESSION_CAP}, newest (last) first when counting, returned in their
 * order; `dropped` is how many of the oldest did not fit.
 */
export function withinCap<T extends { blob: { size: number } }>(images: readonly T[], cap: { images: number; bytes: number } = SESSION_CAP): { kept: T[]; dropped: number } {
  let bytes = 0;
  let first = images.length;
  while (first > 0) {
    const next = images[first - 1];
    if (!next || images.length - first >= cap.images || bytes + next.blob.size > cap.bytes) break;
    bytes += next.blob.size;
    first--;
  }
  return { kept: images.slice(first), dropped: first };
}

let db: UseStore | null = null;
/** Opened on first use: `createStore` opens the database at once, and may throw in private modes. */
function store(): UseStore {
  if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available');
  db ??= createStore('clip-lens-session', 'session');
  return db;
}

/** Blob records known to be in storage, so that each is written once. */
const written = new Set<string>();

/** The stored session, or null when there is none; a blob gone missing drops its image. */
export async function readSession(): Promise<StoredSession | null> {
  const m: unknown = await get(MANIFEST, store());
  if (!isManifest(m)) return null;
  const blobs: unknown[] = await getMany(m.images.map((im) => blobKey(im.key)), store());
  const images: StoredImage[] = [];
  let focus: number | null = null;
  m.images.forEach((im, i) => {
    const blob = blobs[i];
    if (!(blob instanceof Blob)) return;
    written.add(im.key);
    if (i === m.focus) focus = images.length;
    images.push({ key: im.key, name: im.name, blob });
  });
  return { images, prompts: m.prompts, promptIndex: m.promptIndex, focus };
}

/**
 * Stores the session: new blobs first, then the manifest (so it never names a missing blob), then
 * deletes blobs no longer named. Images beyond {@link SESSION_CAP} are left out; resolves with
 * how many were.
 */
export async function writeSession(s: StoredSession): Promise<number> {
  const { kept, dropped } = withinCap(s.images);
  for (const im of kept) {
    if (written.has(im.key)) continue;
    await set(blobKey(im.key), im.blob, store());
    written.add(im.key);
  }
  const focusKey = s.focus === null ? null : s.images[s.focus]?.key;
  const keptFocus = kept.findIndex((im) => im.key === focusKey);
  const manifest: Manifest = {
    version: 1,
    images: kept.map(({ key, name }) => ({ key, name })),
    prompts: s.prompts,
    promptIndex: s.promptIndex,
    focus: keptFocus >= 0 ? keptFocus : null,
  };
  await set(MANIFEST, manifest, store());
  const keep = new Set(kept.map((im) => im.key));
  for (const key of [...written]) {
    if (keep.has(key)) continue;
    await del(blobKey(key), store());
    written.delete(key);
  }
  return dropped;
}

/** Empties the stored session. */
export async function clearStoredSession(): Promise<void> {
  await clear(store());
  written.clear();
}

function isManifest(m: unknown): m is Manifest {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  const index = (v: unknown) => v === null || (typeof v === 'number' && Number.isInteger(v) && v >= 0);
  return r['version'] === 1
    && Array.isArray(r['images']) && r['images'].every((im: unknown) => typeof im === 'object' && im !== null
      && typeof (im as Record<string, unknown>)['key'] === 'string' && typeof (im as Record<string, unknown>)['name'] === 'string')
    && Array.isArray(r['prompts']) && r['prompts'].every((p: unknown) => typeof p === 'string')
    && index(r['promptIndex']) && index(r['focus']);
}
