/**
 * Bench worker for the alternative a user would pick: transformers.js's CLIPVisionModelWithProjection
 * on the same vision_model.onnx, served by the same local server, on the same pixels. It runs in its
 * own worker because transformers.js bundles its own onnxruntime-web.
 */
import { CLIPVisionModelWithProjection, env, Tensor } from '@huggingface/transformers';
import type { TjsBenchApi } from './api';
import { benchPixels } from './pixels';

let model: CLIPVisionModelWithProjection | null = null;

const api: TjsBenchApi = {
  async load({ localModelPath, modelId, wasmPaths, threads }) {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = localModelPath;
    env.useBrowserCache = false;
    const onnx = env.backends.onnx;
    if (!onnx.wasm) throw new Error('transformers.js has no ONNX Runtime WASM backend');
    onnx.wasm.wasmPaths = wasmPaths;
    onnx.wasm.numThreads = threads;
    await model?.dispose();
    const t0 = performance.now();
    model = await CLIPVisionModelWithProjection.from_pretrained(modelId, {
      device: 'wasm',
      dtype: 'fp32',
      session_options: { graphOptimizationLevel: 'all' },
    });
    return { ms: performance.now() - t0, transformersVersion: env.version, ortVersion: onnx.versions?.web ?? 'unknown' };
  },

  async image({ imageSize, warmup, reps }) {
    if (!model) throw new Error('call load() first');
    const pixels = new Tensor('float32', benchPixels(imageSize), [1, 3, imageSize, imageSize]);
    const out: number[] = [];
    for (let i = 0; i < warmup + reps; i++) {
      const t0 = performance.now();
      const result = (await model({ pixel_values: pixels })) as Record<string, Tensor>;
      if (i >= warmup) out.push(performance.now() - t0);
      for (const t of Object.values(result)) t.dispose();
    }
    return out;
  },
};

globalThis.clipLensTjsBench = api;
