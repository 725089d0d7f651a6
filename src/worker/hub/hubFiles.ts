/**
 * One file of a Hub model, the way real visitors get it: from Cache Storage when a complete,
 * verified copy is there (no request at all), else downloaded (streamed, resumable, retried),
 * verified, and only then stored.
 */
import { formatWorkerError } from '../../protocol';
import { hubFileUrl, type HubRef } from '../../model/hub';
import { readCachedFile, storeFile, type StoreOutcome } from '../../model/modelCache';
import { DownloadError, downloadFile, type DownloadOptions } from './download';
import { VerifyError, verifyFile } from './verify';

/** Where the bytes came from and whether they could be kept; for notes in the UI and for tests. */
export interface HubFileResult {
  bytes: Uint8Array<ArrayBuffer>;
  from: 'cache' | 'network';
  stored: StoreOutcome | null;
}

/**
 * Reads `file` of the repository `ref`.
 *
 * @throws Error whose message is `[code] text` (see `formatWorkerError`): `cancelled`,
 *   `model-fetch` (HTTP, network, memory) or `model-format` (the file is not what it should be).
 */
export async function readHubFile(ref: HubRef, file: string, onProgress: (loaded: number, total: number | null) => void,
  signal: AbortSignal, options: Pick<DownloadOptions, 'fetch' | 'policy' | 'sleep' | 'expectedSize'> = {}): Promise<HubFileResult> {
  const url = hubFileUrl(ref, file);
  const cached = await readCachedFile(url).catch(() => null);
  if (cached) {
    onProgress(cached.byteLength, cached.byteLength);
    return { bytes: cached, from: 'cache', stored: null };
  }
  let bytes: Uint8Array<ArrayBuffer>;
  let total: number | null;
  let contentType: string;
  try {
    ({ bytes, total, contentType } = await downloadFile(url, file, { ...options, signal, onProgress }));
    verifyFile(file, bytes, total);
  } catch (e) {
    if (e instanceof DownloadError) {
      throw new Error(formatWorkerError(e.kind === 'cancelled' ? 'cancelled' : e.kind === 'html' ? 'model-format' : 'model-fetch', e.message));
    }
    if (e instanceof VerifyError) throw new Error(formatWorkerError('model-format', e.message));
    throw e;
  }
  if (signal.aborted) throw new Error(formatWorkerError('cancelled', 'Loading was cancelled.'));
  const stored = await storeFile(url, bytes, contentType);
  return { bytes, from: 'network', stored };
}
