/**
 * tfjs's WASM backend, with its binaries served from our origin by Vite (`?url` imports give
 * each file a hashed URL in the build). Imported lazily by ./backend.ts.
 *
 * Multi-threaded when asked (`?gradthreads=N`) and the page is cross-origin isolated: XNNPACK
 * then splits each MatMul over `threads` pthreads (all-layers relevance on ViT-B/32 is ~70 %
 * batched MatMul). Not the default: on a 2-core machine two threads made relevance slower
 * (ViT-B/32 all layers 1.5 → 2.4 s; docs/benchmarks.md). Two things in tfjs 4.x stood in the
 * way of threads at all, and both are handled here:
 *
 * 1. Its pthread workers are Blob workers whose script is `factory.toString()` — the source of
 *    the Emscripten factory function. After bundling and minification that function refers to
 *    names outside itself (the bundler's CommonJS wrapper), so every pthread worker dies with a
 *    ReferenceError and the backend waits for them forever. {@link standaloneFactorySource}
 *    gives the factory the self-contained source it was published with (imported `?raw`).
 * 2. Its C side caps the threads at half of `navigator.hardwareConcurrency` (it assumes two
 *    hardware threads per core), i.e. one thread on a 2-core machine. {@link withCoreCount}
 *    shows it a core count that lets `threads` through, for the moment the backend starts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import plain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import threadedFactory from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
import threadedSource from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js?raw';

/** tfjs's pthread pool (its `PTHREAD_POOL_SIZE`): more threads than this are never used. */
const MAX_THREADS = 8;

/**
 * A threaded start that has not finished by then never will (its pthreads failed to start):
 * the caller moves on to the next backend. A healthy start takes well under a second.
 */
const THREADED_START_TIMEOUT_MS = 20_000;

const DECLARATION = 'var WasmBackendModuleThreadedSimd = ';

/**
 * From the published `tfjs-backend-wasm-threaded-simd.js` (a UMD file: `var … = (() => { … })();`
 * then the module exports), the expression that evaluates to the factory with everything it
 * needs inside: what tfjs puts after `var WasmBackendModuleThreadedSimd = ` in the pthread
 * workers' script. Null when the file does not have that layout (another tfjs version).
 */
export function standaloneFactorySource(source: string): string | null {
  const start = source.indexOf(DECLARATION);
  if (start < 0) return null;
  const from = start + DECLARATION.length;
  const end = source.indexOf('\nif (typeof exports', from);
  if (end < 0) return null;
  const expression = source.slice(from, end).trim().replace(/;$/, '');
  return expression.startsWith('(') && expression.endsWith(')') ? expression : null;
}

/**
 * Runs `start` with `navigator.hardwareConcurrency` reading at least 2 × `threads` (see the
 * module comment), then restores the real value.
 */
async function withCoreCount<T>(threads: number, start: () => Promise<T>): Promise<T> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  const real = nav?.hardwareConcurrency ?? 1;
  if (!nav || real >= 2 * threads) return start();
  Object.defineProperty(nav, 'hardwareConcurrency', { value: 2 * threads, configurable: true });
  try {
    return await start();
  } finally {
    delete nav.hardwareConcurrency; // the prototype's getter again
  }
}

/** Threads the backend got (1 when single-threaded); valid once it has started. */
export function wasmThreadCount(): number {
  return getThreadsCount();
}

/**
 * Configures the binaries and the threads, then runs `start` (which makes tfjs initialise the
 * backend). `threads` ≤ 1, a page that is not cross-origin isolated, or a tfjs whose factory
 * source is not as expected: single-threaded.
 */
export async function startWasm<T>(threads: number, start: () => Promise<T>): Promise<T> {
  setWasmPaths({ 'tfjs-backend-wasm.wasm': plain, 'tfjs-backend-wasm-simd.wasm': simd, 'tfjs-backend-wasm-threaded-simd.wasm': threaded });
  const wanted = Math.min(MAX_THREADS, Math.floor(threads));
  const expression = wanted > 1 && globalThis.crossOriginIsolated ? standaloneFactorySource(threadedSource) : null;
  if (!expression) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    return start();
  }
  (threadedFactory as unknown as { toString: () => string }).toString = () => expression;
  setThreadsCount(wanted);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`its ${wanted} threads did not start within ${THREADED_START_TIMEOUT_MS / 1000} s`)), THREADED_START_TIMEOUT_MS);
  });
  try {
    return await Promise.race([withCoreCount(wanted, start), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
