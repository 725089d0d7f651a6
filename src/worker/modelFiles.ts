/**
 * Reading the files of a model folder (Hugging Face layout) from a URL, from the Hub (through
 * Cache Storage, see ./hub/) or from picked files, with byte progress.
 */
import { formatWorkerError, type ModelSource } from '../protocol';
import { encoderFile, MODEL_JSON_FILES } from '../model/folder';
import { readHubFile } from './hub/hubFiles';
import type { RetryPolicy } from './hub/download';

export type Progress = (file: string, loaded: number, total: number | null) => void;

export const JSON_FILES = MODEL_JSON_FILES;

export function onnxPath(encoder: 'vision' | 'text', source: ModelSource): string {
  return encoderFile(encoder, source.variant);
}

function fetchError(file: string, why: string): Error {
  return new Error(formatWorkerError('model-fetch', `Could not load ${file}: ${why}`));
}

/**
 * One abort per load, shared by all its files: when one Hub file fails for good, the others stop
 * downloading instead of finishing hundreds of MB nobody will use.
 */
const siblings = new WeakMap<AbortSignal, AbortController>();

function sharedAbort(signal: AbortSignal): AbortController {
  let c = siblings.get(signal);
  if (!c) {
    const controller = new AbortController();
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', () => controller.abort(), { once: true });
    siblings.set(signal, controller);
    c = controller;
  }
  return c;
}

/** Reads a response body chunk by chunk so that progress can be shown. */
async function readBody(res: Response, file: string, onProgress: Progress, signal: AbortSignal): Promise<Uint8Array> {
  const header = res.headers.get('Content-Length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress(file, 0, total);
  for (;;) {
    if (signal.aborted) {
      await reader.cancel();
      throw new Error(formatWorkerError('cancelled', 'Loading was cancelled.'));
    }
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress(file, loaded, total);
  }
  if (total !== null && loaded !== total) throw fetchError(file, `the download stopped at ${loaded} of ${total} bytes.`);
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * One file of the model folder as bytes. `policy` governs Hub downloads (retries, the stall
 * timeout); a Hub file listed with a size (`source.sizes`) may not bring more bytes than that.
 */
export async function readModelFile(source: ModelSource, path: string, onProgress: Progress,
  signal: AbortSignal, policy?: RetryPolicy): Promise<Uint8Array> {
  if (source.kind === 'files') {
    const blob = source.files[path];
    if (!blob) throw fetchError(path, 'the chosen folder has no such file.');
    onProgress(path, blob.size, blob.size);
    return new Uint8Array(await blob.arrayBuffer());
  }
  if (source.kind === 'hub') {
    const shared = sharedAbort(signal);
    try {
      const expectedSize = source.sizes?.[path] ?? null;
      const { bytes } = await readHubFile(source, path, (loaded, total) => onProgress(path, loaded, total), shared.signal,
        { expectedSize, ...(policy ? { policy } : {}) });
      return bytes;
    } catch (e) {
      shared.abort();
      throw e;
    }
  }
  const url = new URL(path, source.baseUrl).href;
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    if (signal.aborted) throw new Error(formatWorkerError('cancelled', 'Loading was cancelled.'));
    throw fetchError(path, `the network request failed (${e instanceof Error ? e.message : String(e)}).`);
  }
  if (!res.ok) throw fetchError(path, `the server answered ${res.status} ${res.statusText}.`.trim());
  const type = res.headers.get('Content-Type') ?? '';
  if (type.includes('text/html')) {
    throw new Error(formatWorkerError('model-format', `${path} came back as an HTML page, not the model file: check the model address.`));
  }
  return readBody(res, path, onProgress, signal);
}

export async function readModelJson(source: ModelSource, path: string, signal: AbortSignal, policy?: RetryPolicy): Promise<unknown> {
  const bytes = await readModelFile(source, path, () => {}, signal, policy);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    throw new Error(formatWorkerError('model-format', `${path} is not valid JSON.`));
  }
}
