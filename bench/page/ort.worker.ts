/**
 * Bench worker for CLIP Lens's own stack, in a module worker like the app's: loads go through the
 * app's ModelRuntime; latencies use ORT sessions made with the runtime's options on the plain and
 * the patched graph of the same file, so the difference is the cost of returning attentions. The
 * vision graph is patched by the runtime's own `patchEncoder` and run as an image encoding runs
 * (the head reductions and the last block's input fetched, then assembled).
 */
import * as ort from 'onnxruntime-web/webgpu';
import { reduceLayers } from '../../src/explain/reduce';
import { rolloutMap, rolloutMatrix } from '../../src/explain/rollout';
import type { ReducedAttention } from '../../src/explain/types';
import { parseClipConfig } from '../../src/model/config';
import type { DenseMapMode, ModelSource } from '../../src/protocol';
import { ClipTextTokenizer } from '../../src/text/tokenizer';
import { JSON_FILES, onnxPath } from '../../src/worker/modelFiles';
import { findAttentionSoftmax, patchOutputs } from '../../src/worker/onnx/attention';
import { attentionToFloat32, layerAttentions } from '../../src/worker/onnx/tensors';
import { skippedBackends } from '../../src/worker/grad/backend';
import { reducesInGraph } from '../../src/worker/onnx/headReduce';
import { fromGraphReductions, ModelRuntime, patchEncoder } from '../../src/worker/runtime';
import type { Backend, ImageSamples, LoadRoute, LoadSample, OrtBenchApi, OrtSetup, PreparedModel, RelevanceSamples } from './api';
import { benchPixels, benchValues } from './pixels';

/** One session and the names it is run with. */
interface Encoder {
  session: ort.InferenceSession;
  input: string;
  /** Attention outputs, in layer order; empty for the plain graph. */
  attentions: string[];
  /** Vision, patched by the runtime: what an image encoding fetches, and its reductions if the graph computes them. */
  image?: { fetch: string[]; reductions: string[] | undefined; lastBlock: string | undefined };
  heads: number;
}

interface Prepared {
  plain: Encoder;
  patched: Encoder;
  text: Encoder;
  tokenizer: ClipTextTokenizer;
  pixels: ort.Tensor;
  /** Reduced attention of the last patched image run, for the rollout timings (the app's rollout input). */
  last: ReducedAttention | null;
}

const CACHE = 'clip-lens-bench';
const FOLDER_FILES = [...JSON_FILES, 'onnx/vision_model.onnx', 'onnx/text_model.onnx'];

let setup: OrtSetup = { ortBase: '/ort/', threads: 1 };
let runtime: ModelRuntime | null = null;
let prepared: Prepared | null = null;
let requestId = 0;

/** Same options as src/worker/runtime.ts `createEncoder`. */
function sessionOptions(backend: Backend): ort.InferenceSession.SessionOptions {
  return { executionProviders: [backend], graphOptimizationLevel: 'all' };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function fetchJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json() as Promise<unknown>;
}

/** Stores the folder's files in Cache Storage (untimed), then returns a source that reads them back (timed by the caller). */
async function storeFolder(baseUrl: string): Promise<() => Promise<ModelSource>> {
  await caches.delete(CACHE);
  const cache = await caches.open(CACHE);
  for (const file of FOLDER_FILES) {
    const res = await fetch(new URL(file, baseUrl));
    if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
    await cache.put(new URL(file, baseUrl).href, res);
  }
  return async () => {
    const files: Record<string, Blob> = {};
    for (const file of FOLDER_FILES) {
      const res = await cache.match(new URL(file, baseUrl).href);
      if (!res) throw new Error(`${file} is missing from Cache Storage`);
      files[file] = await res.blob();
    }
    return { kind: 'files', id: 'bench', files, variant: 'fp32' };
  };
}

/** The vision graph as the runtime patches it, fetching what `ModelRuntime.encodeImage` fetches. */
async function imageEncoder(bytes: Uint8Array, backend: Backend, heads: number, layers: number, inGraph: boolean): Promise<Encoder> {
  const p = patchEncoder(bytes, layers, 'vision', heads, inGraph);
  if (inGraph && !p.reductions) throw new Error('the runtime did not patch head reductions into the vision graph');
  const lastBlock = p.blocks?.inputs[layers - 1];
  const attention = p.reductions ? p.reductions.flatMap((r) => [r.mean, r.max, r.min, r.cls]) : p.attentions;
  const fetch = [p.embeds, ...attention, ...(lastBlock ? [lastBlock] : [])];
  const session = await ort.InferenceSession.create(p.bytes, sessionOptions(backend));
  return { session, input: p.input, attentions: p.attentions, image: { fetch, reductions: p.reductions && attention, lastBlock }, heads };
}

async function encoder(bytes: Uint8Array, backend: Backend, heads: number, layers: number, patched: boolean): Promise<Encoder> {
  const found = findAttentionSoftmax(bytes, { expectedLayers: layers });
  const input = found.inputs[0];
  if (!input) throw new Error('graph has no input');
  const model = patched ? patchOutputs(bytes, found.softmaxOutputs) : bytes;
  const session = await ort.InferenceSession.create(model, sessionOptions(backend));
  return { session, input, attentions: patched ? found.softmaxOutputs : [], heads };
}

/**
 * Runs one encoder; for a patched graph also turns the attentions into what the worker posts:
 * the reduced attention for images (from the graph's reductions or reduced here, as the
 * runtime does), the full stack for text.
 */
async function run(enc: Encoder, feeds: ort.InferenceSession.FeedsType): Promise<{ runMs: number; totalMs: number; reduced: ReducedAttention | null; block: Float32Array | null }> {
  const t0 = performance.now();
  const out = await (enc.image ? enc.session.run(feeds, enc.image.fetch) : enc.session.run(feeds));
  const t1 = performance.now();
  let reduced: ReducedAttention | null = null;
  let block: Float32Array | null = null;
  if (enc.image) {
    const get = (name: string) => {
      const t = out[name];
      if (!t) throw new Error(`no output ${name}`);
      return t.data as Float32Array;
    };
    if (enc.image.reductions) {
      reduced = fromGraphReductions(enc.image.reductions.map((name) => out[name] as ort.Tensor), enc.heads);
    } else {
      const { layers, heads, seq } = layerAttentions(enc.attentions.map((name) => out[name] as ort.Tensor), enc.heads);
      reduced = reduceLayers(layers, heads, seq);
    }
    // The runtime keeps a copy of the last block's input for relevance and dense maps.
    if (enc.image.lastBlock) block = new Float32Array(get(enc.image.lastBlock));
  } else if (enc.attentions.length > 0) {
    const tensors = enc.attentions.map((name) => {
      const t = out[name];
      if (!t) throw new Error(`no output ${name}`);
      return t;
    });
    attentionToFloat32(tensors, 1, enc.heads); // text: the worker posts the full stack
  }
  const t2 = performance.now();
  for (const t of Object.values(out)) t.dispose();
  return { runMs: t1 - t0, totalMs: t2 - t0, reduced, block };
}

/** A PNG of a few coloured rectangles, `size` pixels square, for the runtime's encodeImage. */
async function benchImage(size: number): Promise<Blob> {
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2d context in this worker');
  ctx.fillStyle = '#808080';
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = '#d02020';
  ctx.fillRect(size * 0.1, size * 0.2, size * 0.4, size * 0.4);
  ctx.fillStyle = '#2040d0';
  ctx.fillRect(size * 0.55, size * 0.5, size * 0.35, size * 0.3);
  return canvas.convertToBlob({ type: 'image/png' });
}

function need(): Prepared {
  if (!prepared) throw new Error('call prepare() first');
  return prepared;
}

async function release(): Promise<void> {
  const p = prepared;
  prepared = null;
  if (p) await Promise.all([p.plain, p.patched, p.text].map((e) => e.session.release()));
}

const api: OrtBenchApi = {
  init(s) {
    setup = s;
    ort.env.wasm.wasmPaths = s.ortBase;
    ort.env.wasm.numThreads = s.threads;
  },

  async load({ baseUrl, backend, route }: { baseUrl: string; backend: Backend; route: LoadRoute }): Promise<LoadSample> {
    runtime ??= new ModelRuntime();
    runtime.init({ ortBase: setup.ortBase, backend, threads: setup.threads });
    const fromCache = route === 'cache-storage' ? await storeFolder(baseUrl) : null;
    performance.clearResourceTimings();
    const t0 = performance.now();
    const source: ModelSource = fromCache ? await fromCache() : { kind: 'url', id: 'bench', baseUrl, variant: 'fp32' };
    const info = await runtime.loadModel(source, ++requestId, () => {});
    const ms = performance.now() - t0;
    const entries = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
    const model = entries.filter((e) => e.name.startsWith(baseUrl));
    return {
      ms,
      backend: info.backend,
      patchMs: info.patchMs,
      networkBytes: model.reduce((s, e) => s + e.transferSize, 0),
      bodyBytes: model.reduce((s, e) => s + e.decodedBodySize, 0),
    };
  },

  async prepare({ baseUrl, backend }): Promise<PreparedModel> {
    await release();
    const [config, tokenizerJson, tokenizerConfig] = await Promise.all(
      ['config.json', 'tokenizer.json', 'tokenizer_config.json'].map((f) => fetchJson(new URL(f, baseUrl).href)));
    const shape = parseClipConfig(config, 'bench');
    const source: ModelSource = { kind: 'url', id: 'bench', baseUrl, variant: 'fp32' };
    const visionBytes = await fetchBytes(new URL(onnxPath('vision', source), baseUrl).href);
    const textBytes = await fetchBytes(new URL(onnxPath('text', source), baseUrl).href);
    const { layers, heads, imageSize, patchSize } = shape.vision;
    const plain = await encoder(visionBytes, backend, heads, layers, false);
    const patched = await imageEncoder(visionBytes, backend, heads, layers, reducesInGraph(shape.vision));
    const text = await encoder(textBytes, backend, shape.text.heads, shape.text.layers, true);
    const pixels = new ort.Tensor('float32', benchPixels(imageSize), [1, 3, imageSize, imageSize]);
    prepared = { plain, patched, text, tokenizer: ClipTextTokenizer.fromJSON(tokenizerJson, tokenizerConfig), pixels, last: null };
    const grid = Math.floor(imageSize / patchSize);
    return { layers, heads, seq: 1 + grid * grid, imageSize, visionBytes: visionBytes.byteLength };
  },

  async image({ warmup, reps }): Promise<ImageSamples> {
    const p = need();
    const out: ImageSamples = { plain: [], patchedRun: [], patched: [] };
    for (let i = 0; i < warmup + reps; i++) {
      const order = i % 2 === 0 ? [p.plain, p.patched] : [p.patched, p.plain];
      for (const enc of order) {
        const r = await run(enc, { [enc.input]: p.pixels });
        if (r.reduced) p.last = r.reduced;
        if (i < warmup) continue;
        if (enc === p.plain) out.plain.push(r.runMs);
        else {
          out.patchedRun.push(r.runMs);
          out.patched.push(r.totalMs);
        }
      }
    }
    return out;
  },

  async text({ prompts, warmup, reps }): Promise<number[]> {
    const p = need();
    const feeds = prompts.map((text) => {
      const ids = p.tokenizer.encode(text)?.ids;
      if (!ids) throw new Error(`empty prompt ${JSON.stringify(text)}`);
      return { [p.text.input]: new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, ids.length]) };
    });
    const out: number[] = [];
    for (let i = 0; i < warmup + reps; i++) {
      const t0 = performance.now();
      for (const f of feeds) await run(p.text, f);
      if (i >= warmup) out.push(performance.now() - t0);
    }
    return out;
  },

  async rollout({ reps }) {
    // As the app computes it: from the all-heads fusions the image keeps.
    const stack = need().last?.fused;
    if (!stack) throw new Error('run image() first');
    const side = Math.round(Math.sqrt(stack.seq - 1));
    const grid = { width: side, height: side };
    const time = (f: () => unknown): number => {
      const t0 = performance.now();
      f();
      return performance.now() - t0;
    };
    time(() => rolloutMatrix(stack)); // warm-up (JIT)
    time(() => rolloutMap(stack, grid));
    const matrix: number[] = [];
    const map: number[] = [];
    for (let i = 0; i < reps; i++) {
      matrix.push(time(() => rolloutMatrix(stack)));
      map.push(time(() => rolloutMap(stack, grid)));
    }
    return { matrix, map };
  },

  async relevance({ baseUrl, prompt, reps }): Promise<RelevanceSamples> {
    runtime ??= new ModelRuntime();
    const rt = runtime;
    rt.init({ ortBase: setup.ortBase, backend: 'wasm', threads: setup.threads });
    const info = await rt.loadModel({ kind: 'url', id: 'bench', baseUrl, variant: 'fp32' }, ++requestId, () => {});
    const promptIds = ClipTextTokenizer.fromJSON(info.tokenizerJson, info.tokenizerConfig).encode(prompt)?.ids;
    if (!promptIds) throw new Error('empty prompt');
    const blob = await benchImage(parseClipConfig(info.config, 'bench').vision.imageSize);
    // A new image id per request: the worker answers a repeated (image, prompt, layers) from its cache.
    let images = 0;
    const encode = async () => {
      const imageId = `bench-${++images}`;
      await rt.encodeImage({ requestId: ++requestId, imageId, blob });
      return imageId;
    };
    const time = async (imageId: string, start: number) => {
      const t0 = performance.now();
      const r = await rt.relevance({ requestId: ++requestId, imageId, promptIds, startLayerImage: start, startLayerText: start });
      if (r.cached) throw new Error('relevance came from the cache');
      return { ms: performance.now() - t0, backend: r.threads > 1 ? `${r.backend}, ${r.threads} threads` : r.backend, visionBy: r.visionBy };
    };
    const first = await time(await encode(), -1);
    const skipped = skippedBackends.map((b) => `${b.backend}: ${b.reason}`).join('; ');
    const dense = async (imageId: string, mode: DenseMapMode) => {
      const t0 = performance.now();
      const r = await rt.denseMap({ requestId: ++requestId, imageId, promptIds, mode });
      if (r.cached) throw new Error('dense map came from the cache');
      return performance.now() - t0;
    };
    const out: RelevanceSamples = {
      firstMs: first.ms, last: [], all: [], maskclip: [], clearclip: [], contributions: [],
      backend: skipped ? `${first.backend} (skipped ${skipped})` : first.backend,
    };
    await dense(await encode(), 'maskclip'); // warm-up: builds what dense maps need once
    // Warm-up: the first all-layers pass grows the WASM heap for its tape; with 2–3 repetitions
    // that cold pass would weigh on the median (ViT-B/16: 18.8 s cold vs 7.8 s).
    const warm = await time(await encode(), 0);
    // Who differentiated the image encoder for "all layers" (ONNX Runtime's backward graph or tfjs).
    if (warm.visionBy === 'onnxruntime') out.backend += '; all layers: image by ONNX Runtime';
    for (let i = 0; i < reps; i++) {
      const imageId = await encode();
      out.last.push((await time(imageId, -1)).ms);
      out.all.push((await time(imageId, 0)).ms);
      out.maskclip.push(await dense(imageId, 'maskclip'));
      out.clearclip.push(await dense(imageId, 'clearclip'));
      out.contributions.push(await dense(imageId, 'contributions'));
    }
    return out;
  },

  async graph({ url, inputs, warmup, reps }) {
    const session = await ort.InferenceSession.create(await fetchBytes(url), sessionOptions('wasm'));
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, dims] of Object.entries(inputs)) {
      feeds[name] = new ort.Tensor('float32', benchValues(dims.reduce((a, b) => a * b, 1)), dims);
    }
    const out: number[] = [];
    for (let i = 0; i < warmup + reps; i++) {
      const t0 = performance.now();
      const r = await session.run(feeds);
      if (i >= warmup) out.push(performance.now() - t0);
      for (const t of Object.values(r)) t.dispose();
    }
    await session.release();
    return out;
  },

  release,
};

globalThis.clipLensOrtBench = api;
