/**
 * Which weights variants a Hub repository has, with their sizes, and which one to load by default.
 * Pure except for {@link listRepoVariants}, which asks the Hub (the main thread's picker uses it;
 * unit-tested in variants.test.ts with a fake fetch).
 *
 * The Hub's tree API lists a folder with every file's size:
 * `GET {host}/api/models/{repo}/tree/{revision}/onnx` → `[{ type, path, size, lfs?: { size } }]`.
 * Mirrors and static hosts may lack the API; then each encoder file is probed with a HEAD request
 * (`X-Linked-Size` or `Content-Length`: the Hub answers a HEAD of an LFS file with a redirect to
 * its CDN, which fetch follows).
 */
import type { Backend, ModelVariant } from '../protocol';
import { encoderFile, VARIANTS } from './folder';
import { hubFileUrl, type HubRef } from './hub';

/** One variant a repository has: the bytes of its two encoder files, when the server said. */
export interface RepoVariant {
  variant: ModelVariant;
  /** vision + text `.onnx` bytes; null when a size was not given. */
  bytes: number | null;
  /** True when `bytes` is a catalog's rounded figure, not the server's. */
  approximate?: boolean;
  /**
   * The two encoder files' sizes by repo-relative path, when the server gave both: the worker
   * stops a download that brings more than this (../worker/hub/download.ts `expectedSize`).
   */
  files?: Readonly<Record<string, number>>;
}

/** A file of a listing: its repo-relative path and size in bytes (null when not given). */
export interface ListedFile {
  path: string;
  size: number | null;
}

/** Variants whose vision and text files are both listed, in {@link VARIANTS} order. */
export function variantsOfFiles(files: readonly ListedFile[]): RepoVariant[] {
  const size = new Map(files.map((f) => [f.path, f.size]));
  const out: RepoVariant[] = [];
  for (const variant of VARIANTS) {
    const vision = size.get(encoderFile('vision', variant));
    const text = size.get(encoderFile('text', variant));
    if (vision === undefined || text === undefined) continue;
    if (vision === null || text === null) out.push({ variant, bytes: null });
    else out.push({ variant, bytes: vision + text, files: { [encoderFile('vision', variant)]: vision, [encoderFile('text', variant)]: text } });
  }
  return out;
}

/** `{host}/api/models/{repo}/tree/{revision}/onnx`: the Hub's listing of a repository's onnx/ folder. */
export function treeUrl(ref: HubRef): string {
  const repo = ref.repo.split('/').map(encodeURIComponent).join('/');
  return `${ref.host.replace(/\/+$/, '')}/api/models/${repo}/tree/${encodeURIComponent(ref.revision)}/onnx`;
}

/**
 * Reads a tree API answer; null when it is not one (an HTML page, an error object). An LFS file's
 * own size is `lfs.size` (`size` is the same on the Hub; some mirrors give the pointer's).
 */
export function parseTreeListing(json: unknown): ListedFile[] | null {
  if (!Array.isArray(json)) return null;
  const files: ListedFile[] = [];
  for (const entry of json as unknown[]) {
    if (typeof entry !== 'object' || entry === null) return null;
    const e = entry as Record<string, unknown>;
    if (typeof e['path'] !== 'string') return null;
    if (e['type'] !== undefined && e['type'] !== 'file') continue;
    const lfs = typeof e['lfs'] === 'object' && e['lfs'] !== null ? (e['lfs'] as Record<string, unknown>)['size'] : undefined;
    const size = typeof lfs === 'number' ? lfs : e['size'];
    files.push({ path: e['path'], size: typeof size === 'number' && Number.isFinite(size) && size >= 0 ? size : null });
  }
  return files;
}

type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/** The size a HEAD answer gives for a file, if any. */
function headSize(res: Response): number | null {
  for (const name of ['X-Linked-Size', 'Content-Length']) {
    const v = res.headers.get(name);
    if (v !== null && /^\d+$/.test(v)) return Number(v);
  }
  return null;
}

/**
 * The variants a repository has, with sizes: from the tree API, else by probing each encoder
 * file. Null when the repository could not be asked at all (offline, or every request failed), so
 * that the caller offers the usual variants and lets the load say what is missing.
 */
export async function listRepoVariants(ref: HubRef, options: { fetch?: Fetch; signal?: AbortSignal } = {}): Promise<RepoVariant[] | null> {
  const get: Fetch = options.fetch ?? ((url, init) => fetch(url, init));
  const init = (method: string): RequestInit => ({ method, cache: 'no-store', ...(options.signal ? { signal: options.signal } : {}) });
  try {
    const res = await get(treeUrl(ref), init('GET'));
    if (res.ok) {
      const listed = parseTreeListing(await res.json());
      if (listed) return variantsOfFiles(listed);
    }
  } catch (e) {
    if (options.signal?.aborted) throw e;
    // No API (a mirror, a static host): probe the files instead.
  }
  const paths = VARIANTS.flatMap((v) => [encoderFile('vision', v), encoderFile('text', v)]);
  let answered = false;
  const probed = await Promise.all(paths.map(async (path): Promise<ListedFile | null> => {
    try {
      const res = await get(hubFileUrl(ref, path), init('HEAD'));
      answered = true;
      return res.ok ? { path, size: headSize(res) } : null;
    } catch (e) {
      if (options.signal?.aborted) throw e;
      return null;
    }
  }));
  return answered ? variantsOfFiles(probed.filter((f): f is ListedFile => f !== null)) : null;
}

/**
 * Variants in the order a backend prefers them, as transformers.js defaults: on WASM the 8-bit
 * file (a quarter of the download, and ONNX Runtime's integer kernels are fast there), on WebGPU
 * full precision (its shaders run float; the 8-bit integer ops fall back to the CPU).
 */
export const BACKEND_PREFERENCE: Readonly<Record<Backend, readonly ModelVariant[]>> = {
  wasm: ['q8', 'uint8', 'int8', 'q4', 'bnb4', 'fp32', 'fp16', 'q4f16'],
  webgpu: ['fp32', 'fp16', 'q4f16', 'q4', 'q8', 'uint8', 'int8', 'bnb4'],
};

/**
 * The variant to load: the one the person chose last (`pinned`) when the repository has it, else
 * the backend's first preference that it has. `available` null means unknown (offer, and try, the
 * preference as it is).
 */
export function defaultVariant(backend: Backend, available: readonly ModelVariant[] | null, pinned: ModelVariant | null): ModelVariant {
  const has = (v: ModelVariant) => available === null || available.includes(v);
  if (pinned && has(pinned)) return pinned;
  const order = BACKEND_PREFERENCE[backend];
  return order.find(has) ?? available?.[0] ?? order[0] ?? 'fp32';
}
