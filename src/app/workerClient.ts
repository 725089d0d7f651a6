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

/**
 * ONNX Runtime's WASM threads: one per core up to 4, or `?threads=N` from the address (1 leaves
 * the other cores to the page, e.g. to keep the UI smooth on a 2-core machine). One thread when
 * the page is not cross-origin isolated: multi-threaded WASM needs SharedArrayBuffer (COOP/COEP).
 */
export function wasmThreads(param: string | null, isolated: boolean, cores: number): number {
  if (!isolated) return 1;
  const asked = param === null ? NaN : Number(param);
  if (Number.isInteger(asked) && asked >= 1) return Math.min(asked, 16);
  return Math.max(1, Math.min(4, cores || 1));
}

export function startWorker(): WorkerHandle {
  const worker = new Worker(new URL('../worker/lens.worker.ts', import.meta.url), { type: 'module', name: 'clip-lens-model' });
  const api = Comlink.wrap<LensWorkerApi>(worker);
  const params = new URLSearchParams(location.search);
  const threads = wasmThreads(params.get('threads'), self.crossOriginIsolated, navigator.hardwareConcurrency);
  // Gradient relevance: one thread unless `?gradthreads=N` asks (see WorkerInit.gradThreads).
  const gradThreads = wasmThreads(params.get('gradthreads'), self.crossOriginIsolated, 1);
  // A shorter stall timeout for Hub downloads (`?stallsec=N`): tests of a stalled server use it.
  const stall = Number(params.get('stallsec'));
  const stallSeconds = Number.isFinite(stall) && stall > 0 ? { stallSeconds: stall } : {};
  void api.init({ ortBase: new URL('ort/', document.baseURI).href, backend: backendFromUrl(), threads, gradThreads, ...stallSeconds });
  return api;
}
