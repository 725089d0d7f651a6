/**
 * The model worker: the only code that imports onnxruntime-web. It loads a model folder, patches
 * both encoders so every layer's attention probabilities become graph outputs, and returns
 * numbers (embeddings, attention tensors) — the main thread paints.
 */
import * as Comlink from 'comlink';
import { ModelRuntime } from './runtime';
import { loseTfGpu } from './grad/backend';
import type { LensWorkerApi } from '../protocol';

const runtime = new ModelRuntime();

const api: LensWorkerApi = {
  init: (opts) => runtime.init(opts),
  loadModel: (source, requestId, onProgress) => runtime.loadModel(source, requestId, onProgress),
  encodeImage: async (req) => {
    const result = await runtime.encodeImage(req);
    const { cls, fused } = result.attention;
    return Comlink.transfer(result, [result.embeds.buffer, cls.data.buffer, fused.mean.buffer, fused.max.buffer, fused.min.buffer]);
  },
  encodeText: async (req) => {
    const result = await runtime.encodeText(req);
    return Comlink.transfer(result, [result.embeds.buffer, result.attentions.data.buffer]);
  },
  queryRows: async (req) => {
    const result = await runtime.queryRows(req);
    return Comlink.transfer(result, [result.rows.data.buffer]);
  },
  relevance: async (req, onProgress) => {
    const r = await runtime.relevance(req, onProgress);
    const buffers = [r.imageMap.buffer, r.textMap.buffer, r.headImportance.buffer, r.textHeadImportance.buffer];
    if (r.gradients) buffers.push(r.gradients.vision.data.buffer, r.gradients.text.data.buffer);
    return Comlink.transfer(r, buffers);
  },
  denseMap: async (req) => {
    const r = await runtime.denseMap(req);
    return Comlink.transfer(r, [r.map.buffer]);
  },
  cancel: (requestId) => runtime.cancel(requestId),
  counters: () => runtime.counters(),
  loseTfGpu: () => loseTfGpu(),
  holdLifeLock: (name) => new Promise<void>((resolve) => {
    void navigator.locks.request(name, () => {
      resolve();
      return new Promise<never>(() => undefined); // released only when this worker ends
    });
  }),
};

Comlink.expose(api);
