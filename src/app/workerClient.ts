/**
 * Main-thread handle on the model worker: one worker, wrapped with comlink, request ids.
 */
import * as Comlink from 'comlink';
import type { Backend, LensWorkerApi } from '../protocol';

export type WorkerHandle = Comlink.Remote<LensWorkerApi>;

let nextRequestId = 1;
export const newRequestId = (): number => nextRequestId++;

/** Backend override from the address (`?backend=wasm` or `?backend=webgpu`), for tests and debugging. */
function backendFromUrl(): 'auto' | Backend {
  const b = new URLSearchParams(location.search).get('backend');
  return b === 'wasm' || b === 'webgpu' ? b : 'auto';
}

export function startWorker(): WorkerHandle {
  const worker = new Worker(new URL('../worker/lens.worker.ts', import.meta.url), { type: 'module', name: 'clip-lens-model' });
  const api = Comlink.wrap<LensWorkerApi>(worker);
  // Multi-threaded WASM needs SharedArrayBuffer, i.e. a cross-origin isolated page (COOP/COEP).
  const threads = self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  void api.init({ ortBase: new URL('ort/', document.baseURI).href, backend: backendFromUrl(), threads });
  return api;
}
