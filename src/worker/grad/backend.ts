/**
 * Chooses the tfjs backend the gradient interpreter runs on, once per worker.
 *
 * Order: WebGPU (a hardware adapter) → WebGL 2 (OffscreenCanvas, float32 render targets, not a
 * software renderer) → WASM (XNNPACK, SIMD; single-threaded unless {@link setTfWasmThreads}
 * asks for more: on 2 cores two threads were slower) → CPU (plain JS, always works, slow). Each
 * candidate that fails to initialise is skipped, so a browser without a GPU still gets an
 * answer. Backends are imported lazily: only the one used is downloaded.
 */
import * as tf from '@tensorflow/tfjs-core';
// Core registers no gradients by itself; relevance needs them all.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';

export type TfBackend = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

export const TF_BACKENDS: readonly TfBackend[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

/** Why each skipped backend was skipped (for the curious and for bug reports). */
export const skippedBackends: { backend: TfBackend; reason: string }[] = [];

let wasmThreads = 1;
let startedThreads = 1;

/** Threads for tfjs's WASM backend (set before the first relevance request; the page's `?gradthreads=N`). */
export function setTfWasmThreads(threads: number): void {
  wasmThreads = threads;
}

/** Threads of the backend in use: the WASM backend's, else 1. */
export function tfThreads(): number {
  return startedThreads;
}

/** Makes `backend` current: `tf.setBackend` and `tf.ready`, WASM through ./wasmBackend.ts (threads). */
async function start(backend: TfBackend): Promise<void> {
  const run = async () => {
    if (!(await tf.setBackend(backend))) throw new Error('initialisation failed');
    await tf.ready();
  };
  if (backend !== 'wasm') return run();
  const { startWasm, wasmThreadCount } = await import('./wasmBackend');
  await startWasm(wasmThreads, run);
  startedThreads = wasmThreadCount();
}

async function prepare(backend: TfBackend): Promise<void> {
  switch (backend) {
    case 'webgpu': {
      const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
      const adapter = gpu ? await gpu.requestAdapter() : null;
      if (!adapter) throw new Error('no WebGPU adapter');
      // A software adapter (SwiftShader) is far slower than WASM.
      if (adapter.info?.isFallbackAdapter) throw new Error('only a software (fallback) WebGPU adapter');
      await import('@tensorflow/tfjs-backend-webgpu');
      return;
    }
    case 'webgl': {
      if (typeof OffscreenCanvas === 'undefined') throw new Error('no OffscreenCanvas in this worker');
      const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
      if (!gl) throw new Error('no WebGL 2');
      const info = gl.getExtension('WEBGL_debug_renderer_info');
      const renderer = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : '';
      gl.getExtension('WEBGL_lose_context')?.loseContext();
      if (/swiftshader|llvmpipe|software/i.test(renderer)) throw new Error(`software renderer (${renderer})`);
      await import('@tensorflow/tfjs-backend-webgl');
      return;
    }
    case 'wasm':
      await import('./wasmBackend');
      return;
    case 'cpu':
      return; // imported statically above
  }
}

/** After init: refuse a backend that would compute in reduced precision. */
function checkPrecision(backend: TfBackend): void {
  if (backend === 'webgl' && !tf.env().getBool('WEBGL_RENDER_FLOAT32_CAPABLE')) {
    throw new Error('WebGL renders to float16 textures only');
  }
}

let chosen: Promise<TfBackend> | undefined;

/**
 * Initialises the first backend of `candidates` that works and makes it tfjs's current backend.
 * The first call decides; later calls return the same backend.
 *
 * @returns the backend's name.
 */
export function initTfBackend(candidates: readonly TfBackend[] = TF_BACKENDS): Promise<TfBackend> {
  chosen ??= (async () => {
    for (const backend of candidates) {
      try {
        await prepare(backend);
        await start(backend);
        checkPrecision(backend);
        return backend;
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        skippedBackends.push({ backend, reason });
        // Free whatever a half-initialised backend holds (a WebGL context, a GPU device).
        if (backend !== 'cpu' && tf.findBackend(backend)) tf.removeBackend(backend);
        console.info(`Gradient relevance: tfjs backend ${backend} skipped (${reason}).`);
      }
    }
    // CPU is registered statically and cannot fail; reaching here means it was not a candidate.
    await tf.setBackend('cpu');
    return 'cpu';
  })();
  return chosen;
}
