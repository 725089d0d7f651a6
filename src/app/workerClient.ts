/**
 * Main-thread handle on the model worker: one worker, wrapped with comlink, request ids.
 */
import * as Comlink from 'comlink';
import { formatWorkerError, type Backend, type LensWorkerApi } from '../protocol';

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

/** A started worker: its API, and a way to end it abruptly (the debug hook's crash test). */
export interface StartedWorker {
  api: WorkerHandle;
  terminate(): void;
}

const TF_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;

/** What a call to a worker that has died rejects with. */
export const WORKER_LOST = formatWorkerError('worker-lost', 'the model worker stopped before it answered');

/**
 * Every method of `remote` races `lost`: once the worker is gone, calls in flight and new ones
 * reject with {@link WORKER_LOST} instead of waiting forever for an answer that cannot come.
 */
export function guardCalls<T extends object>(remote: T, lost: Promise<never>): T {
  return new Proxy(remote, {
    get(target, prop) {
      if (prop === 'then') return undefined; // not a thenable: `await handle` must not call the worker
      const method = Reflect.get(target, prop) as (...args: unknown[]) => Promise<unknown>;
      return (...args: unknown[]) => Promise.race([method(...args), lost]);
    },
  });
}

/**
 * Starts the model worker. `onLost` runs once if it dies (out of memory, a crash, terminated):
 * the worker holds a Web Lock for its whole life, and the page asks for the same lock, which it
 * is granted only when the worker's global is gone. Unlike a heartbeat, this cannot mistake a
 * worker busy in a long synchronous run for a dead one.
 */
export function startWorker(onLost: () => void): StartedWorker {
  const worker = new Worker(new URL('../worker/lens.worker.ts', import.meta.url), { type: 'module', name: 'clip-lens-model' });
  const remote = Comlink.wrap<LensWorkerApi>(worker);
  let markLost: (reason: Error) => void = () => undefined;
  const lost = new Promise<never>((_, reject) => (markLost = reject));
  lost.catch(() => undefined); // only calls in flight care
  let gone = false;
  const declareLost = (): void => {
    if (gone) return;
    gone = true;
    markLost(new Error(WORKER_LOST));
    onLost();
  };
  const api = guardCalls(remote, lost);
  const params = new URLSearchParams(location.search);
  const threads = wasmThreads(params.get('threads'), self.crossOriginIsolated, navigator.hardwareConcurrency);
  // Gradient relevance: one thread unless `?gradthreads=N` asks (see WorkerInit.gradThreads).
  const gradThreads = wasmThreads(params.get('gradthreads'), self.crossOriginIsolated, 1);
  // A shorter stall timeout for Hub downloads (`?stallsec=N`): tests of a stalled server use it.
  const stall = Number(params.get('stallsec'));
  const stallSeconds = Number.isFinite(stall) && stall > 0 ? { stallSeconds: stall } : {};
  // tfjs's first choice for relevance (`?tfbackend=webgpu`, software adapters included): tests.
  const tf = TF_BACKENDS.find((b) => b === params.get('tfbackend'));
  const tfBackend = tf ? { tfBackend: tf } : {};
  void api.init({ ortBase: new URL('ort/', document.baseURI).href, backend: backendFromUrl(), threads, gradThreads, ...stallSeconds, ...tfBackend }).catch(() => undefined);
  if ('locks' in navigator) {
    const lockName = `clip-lens-worker-${crypto.randomUUID()}`;
    api.holdLifeLock(lockName).then(
      () => navigator.locks.request(lockName, declareLost),
      () => undefined, // lost before it took the lock: already declared, or never will be
    );
  }
  return {
    api,
    terminate: () => worker.terminate(),
  };
}
