/**
 * Model files kept in the browser's Cache Storage, keyed by their Hub URL. The worker reads and
 * writes entries (only complete, verified files: see src/worker/hub/); the page lists and deletes
 * them (the storage manager). Works in a window and in a worker; where Cache Storage does not
 * exist (an insecure context), everything behaves as an empty cache that cannot store.
 */
import type { ModelVariant } from '../protocol';
import { completeVariants } from './folder';
import { parseHubFileUrl, type HubRef } from './hub';

/** One cache for all model files; bump the version if the entry format ever changes. */
export const MODEL_CACHE = 'clip-lens-models-v1';

/** Header on stored entries with the verified size in bytes (read back to detect damage). */
const SIZE_HEADER = 'X-Clip-Lens-Size';
const STORED_HEADER = 'X-Clip-Lens-Stored';

function cacheStorage(): CacheStorage | null {
  return typeof caches === 'undefined' ? null : caches;
}

/**
 * A stored file's bytes, or null when it is not stored (or the entry does not have the size it
 * was stored with, in which case it is deleted so that it is downloaded again).
 */
export async function readCachedFile(url: string): Promise<Uint8Array<ArrayBuffer> | null> {
  const storage = cacheStorage();
  if (!storage) return null;
  const cache = await storage.open(MODEL_CACHE);
  const res = await cache.match(url);
  if (!res) return null;
  const bytes = new Uint8Array(await res.arrayBuffer());
  const size = res.headers.get(SIZE_HEADER);
  if (size === null || Number(size) !== bytes.byteLength) {
    await cache.delete(url);
    return null;
  }
  return bytes;
}

/** What happened to a file handed to {@link storeFile}. */
export type StoreOutcome = 'stored' | 'quota' | 'unavailable';

/**
 * Stores a complete, verified file. Never throws: a full disk (`quota`) or a browser without Cache
 * Storage (`unavailable`) only means the file will be downloaded again next time.
 */
export async function storeFile(url: string, bytes: Uint8Array<ArrayBuffer>, contentType: string): Promise<StoreOutcome> {
  const storage = cacheStorage();
  if (!storage) return 'unavailable';
  try {
    const cache = await storage.open(MODEL_CACHE);
    await cache.put(url, new Response(bytes, {
      headers: {
        'Content-Type': contentType || 'application/octet-stream',
        [SIZE_HEADER]: String(bytes.byteLength),
        [STORED_HEADER]: new Date().toISOString(),
      },
    }));
    return 'stored';
  } catch (e) {
    return isQuotaError(e) ? 'quota' : 'unavailable';
  }
}

/** True for the error a browser throws when a write exceeds the site's storage quota. */
export function isQuotaError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const name = (e as { name?: unknown }).name;
  const message = String((e as { message?: unknown }).message ?? '');
  return name === 'QuotaExceededError' || /quota/i.test(message);
}

/** One repository (at one revision) with files in the cache. */
export interface CachedModel extends HubRef {
  /** Stable key for the list and for {@link deleteCachedModel}: `host repo@revision`. */
  key: string;
  files: { file: string; bytes: number }[];
  /** Total bytes stored for this repository. */
  bytes: number;
  /** Variants whose every file is stored (these load without the network). */
  variants: ModelVariant[];
  /** When the most recent file was stored (ISO time), if known. */
  storedAt: string | null;
}

function modelKey(ref: HubRef): string {
  return `${ref.host} ${ref.repo}@${ref.revision}`;
}

/** Every cached repository, largest first. */
export async function listCachedModels(): Promise<CachedModel[]> {
  const storage = cacheStorage();
  if (!storage || !(await storage.has(MODEL_CACHE))) return [];
  const cache = await storage.open(MODEL_CACHE);
  const byKey = new Map<string, CachedModel>();
  for (const req of await cache.keys()) {
    const ref = parseHubFileUrl(req.url);
    if (!ref) continue;
    const res = await cache.match(req);
    const bytes = Number(res?.headers.get(SIZE_HEADER) ?? 0);
    const storedAt = res?.headers.get(STORED_HEADER) ?? null;
    const key = modelKey(ref);
    const m = byKey.get(key) ?? { key, host: ref.host, repo: ref.repo, revision: ref.revision, files: [], bytes: 0, variants: [], storedAt: null };
    m.files.push({ file: ref.file, bytes });
    m.bytes += bytes;
    if (storedAt && (!m.storedAt || storedAt > m.storedAt)) m.storedAt = storedAt;
    byKey.set(key, m);
  }
  const models = [...byKey.values()];
  for (const m of models) {
    m.variants = completeVariants(m.files.map((f) => f.file));
    m.files.sort((a, b) => a.file.localeCompare(b.file));
  }
  return models.sort((a, b) => b.bytes - a.bytes);
}

/** Variants of one repository that load entirely from the cache. */
export async function cachedVariants(ref: HubRef): Promise<ModelVariant[]> {
  const m = (await listCachedModels()).find((c) => c.key === modelKey(ref));
  return m?.variants ?? [];
}

/** Deletes every stored file of one repository (all variants). */
export async function deleteCachedModel(key: string): Promise<void> {
  const storage = cacheStorage();
  if (!storage) return;
  const cache = await storage.open(MODEL_CACHE);
  for (const req of await cache.keys()) {
    const ref = parseHubFileUrl(req.url);
    if (ref && modelKey(ref) === key) await cache.delete(req);
  }
}

/** Deletes every stored model file. */
export async function deleteAllCachedModels(): Promise<void> {
  await cacheStorage()?.delete(MODEL_CACHE);
}
