/**
 * tfjs's WASM backend, with its binaries served from our origin by Vite (`?url` imports give
 * each file a hashed URL in the build). Imported lazily by ./backend.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import plain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
// Never loaded (threads are off below), but setWasmPaths insists on a URL for every binary.
import threaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

export function configureWasm(): void {
  // Single-threaded: ONNX Runtime already runs its own threads in this worker, and the threaded
  // build would spawn more pthread workers on the same cores.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths({ 'tfjs-backend-wasm.wasm': plain, 'tfjs-backend-wasm-simd.wasm': simd, 'tfjs-backend-wasm-threaded-simd.wasm': threaded });
}
