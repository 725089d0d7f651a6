/**
 * The model worker: the only code that imports onnxruntime-web. It loads a model folder, patches
 * both encoders so every layer's attention probabilities become graph outputs, and returns
 * numbers (embeddings, attention tensors) — the main thread paints.
 */
import * as Comlink from 'comlink';
import { ModelRuntime } from './runtime';
import type { LensWorkerApi } from '../protocol';

const runtime = new ModelRuntime();

const api: LensWorkerApi = {
  init: (opts) => runtime.init(opts),
  loadModel: (source, requestId, onProgress) => runtime.loadModel(source, requestId, onProgress),
  encodeImage: async (req) => {
    const result = await runtime.encodeImage(req);
    return Comlink.transfer(result, [result.embeds.buffer, result.attentions.data.buffer]);
  },
  encodeText: async (req) => {
    const result = await runtime.encodeText(req);
    return Comlink.transfer(result, [result.embeds.buffer, result.attentions.data.buffer]);
  },
  cancel: (requestId) => runtime.cancel(requestId),
  counters: () => runtime.counters(),
};

Comlink.expose(api);
