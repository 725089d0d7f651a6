/**
 * Chooses the tfjs backend the gradient interpreter runs on, once per worker.
 *
 * Order: WebGPU (a hardware adapter) → WebGL 2 (OffscreenCanvas, float32 render targets, not a
 * software renderer) → WASM (XNNPACK, SIMD; single-threaded unless {@link setTfWasmThreads}
 * asks for more: on 2 cores two threads were slower) → CPU (plain JS, always works, slow). Each
 * candidate that fails to initialise is skipped, so a browser without a GPU still gets an
 * answer. Backends are imported lazily: only the one used is downloaded.
 *
 * A GPU backend whose device is lost (WebGPU's `device.lost`, WebGL's `webglcontextlost`: a
 * driver reset, the GPU process crashing, a laptop switching GPUs) is never used again: the next
 * request chooses among the backends after it (WASM, then CPU), and {@link tfBackendNote} says
 * why. {@link tfBackendGeneration} changes at each loss, so graphs built on the lost backend are
 * rebuilt and a request that failed with it is run again.
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
/** Backends the page asked for (`?tfbackend=`, tests): a software WebGPU adapter is then accepted. */
let forced: TfBackend | null = null;
/** Backends whose device was lost: not tried again in this worker. */
const lost = new Set<TfBackend>();
let generation = 0;
let note: string | null = null;

/**
 * Makes `backend` the first choice, software adapters included (`?tfbackend=webgpu` in the
 * address: the browser tests' WebGPU is SwiftShader, which the default order skips).
 */
export function forceTfBackend(backend: TfBackend | null): void {
  forced = backend;
}

/** Changes whenever the backend in use was lost: what was built on it must be built again. */
export function tfBackendGeneration(): number {
  return generation;
}

/** Why the backend in use is not the first choice, when a GPU was lost; else null. */
export function tfBackendNote(): string | null {
  return note;
}

/** {@link tfBackendNote} as a result field to spread (absent while no GPU was lost). */
export function backendNote(): { backendNote?: string } {
  return note ? { backendNote: note } : {};
}

const LABELS: Record<TfBackend, string> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WASM', cpu: 'CPU' };

/** The backend in use lost its device: forget it, and choose again at the next request. */
function markLost(backend: TfBackend, reason: string): void {
  if (lost.has(backend)) return;
  lost.add(backend);
  generation++;
  chosen = undefined;
  try {
    if (tf.findBackend(backend)) tf.removeBackend(backend);
  } catch {
    // a backend whose device is gone may fail to dispose; it is never used again either way
  }
  note = `The GPU was lost (${LABELS[backend]}: ${reason || 'no reason given'}); relevance and dense maps now run on the CPU's WebAssembly instead.`;
  console.warn(`Gradient relevance: tfjs backend ${backend} lost (${reason}).`);
}

/**
 * Notices a lost WebGL context at once (`isContextLost`), before its event arrives: drawing on a
 * lost context does not fail, it reads back zeros, so a map computed then would be silently wrong.
 */
function checkTfBackend(): void {
  const gl = (tf.findBackend('webgl') as unknown as { gpgpu?: { gl?: WebGL2RenderingContext } } | undefined)?.gpgpu?.gl;
  if (gl?.isContextLost()) markLost('webgl', 'WebGL context lost');
}

/** Watches the started GPU backend's device, to fall back when it is lost. */
function watchDevice(backend: TfBackend): void {
  const engineBackend = tf.engine().findBackend(backend) as unknown as {
    device?: GPUDevice;
    gpgpu?: { gl?: { canvas?: EventTarget } };
  } | null;
  if (backend === 'webgpu' && engineBackend?.device) {
    void engineBackend.device.lost.then((info) => markLost('webgpu', info.message || info.reason || 'device lost'));
  }
  const canvas = backend === 'webgl' ? engineBackend?.gpgpu?.gl?.canvas : undefined;
  canvas?.addEventListener('webglcontextlost', () => markLost('webgl', 'WebGL context lost'));
}

/**
 * Test hook: takes tfjs's GPU away as a driver reset would — destroys the WebGPU backend's device
 * (`GPUDevice.destroy()`) or loses the WebGL backend's context (`WEBGL_lose_context`). Returns
 * the backend it took, or null when tfjs is on neither.
 */
export function loseTfGpu(): 'webgpu' | 'webgl' | null {
  const gpu = tf.findBackend('webgpu') as unknown as { device?: GPUDevice } | undefined;
  if (gpu?.device && !lost.has('webgpu')) {
    gpu.device.destroy();
    return 'webgpu';
  }
  const gl = (tf.findBackend('webgl') as unknown as { gpgpu?: { gl?: WebGL2RenderingContext } } | undefined)?.gpgpu?.gl;
  const lose = gl?.getExtension('WEBGL_lose_context');
  if (lose && !lost.has('webgl')) {
    lose.loseContext();
    return 'webgl';
  }
  return null;
}

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
      // A software adapter (SwiftShader) is far slower than WASM, unless asked for by name.
      if (adapter.info?.isFallbackAdapter && forced !== 'webgpu') throw new Error('only a software (fallback) WebGPU adapter');
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
      if (/swiftshader|llvmpipe|software/i.test(renderer) && forced !== 'webgl') throw new Error(`software renderer (${renderer})`);
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
    const order = forced && candidates.includes(forced) ? [forced, ...candidates.filter((b) => b !== forced)] : candidates;
    for (const backend of order.filter((b) => !lost.has(b))) {
      try {
        await prepare(backend);
        await start(backend);
        checkPrecision(backend);
        watchDevice(backend);
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

/**
 * Runs `job`; when the tfjs backend's GPU was lost meanwhile — the job failed, or finished on a
 * context that may have read back zeros — runs it once more, on the backend chosen after the
 * loss. The loss may be reported just after the failure it caused, so a failure waits a moment.
 */
export async function runSurvivingGpuLoss<T>(job: () => Promise<T>): Promise<T> {
  checkTfBackend();
  const generation = tfBackendGeneration();
  try {
    const result = await job();
    checkTfBackend();
    if (tfBackendGeneration() === generation) return result;
  } catch (e) {
    if (/^\[cancelled\]/.test(e instanceof Error ? e.message : String(e))) throw e;
    if (tfBackendGeneration() === generation) await new Promise((resolve) => setTimeout(resolve, 100));
    checkTfBackend();
    if (tfBackendGeneration() === generation) throw e;
  }
  return job();
}

/**
 * Whether the backend of generation `since` (a {@link tfBackendGeneration} taken before a
 * computation) is still the one in use, its GPU not lost: only then may the result be cached.
 */
export function stillOnBackend(since: number): boolean {
  checkTfBackend();
  return tfBackendGeneration() === since;
}
