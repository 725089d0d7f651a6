/**
 * What the two bench workers put on their global scope, for Playwright's `worker.evaluate` to call
 * from Node (bench/run.ts). Types only: this file is read by the worker code and by the Node side.
 *
 * Every figure comes back as raw samples in milliseconds; bench/stats.ts summarises them in Node.
 */

export type Backend = 'wasm' | 'webgpu';

export interface OrtSetup {
  /** Same-origin folder with ONNX Runtime's .mjs/.wasm (`env.wasm.wasmPaths`). */
  ortBase: string;
  /** `env.wasm.numThreads`, set explicitly (ORT's default is 1 on a 2-core machine). */
  threads: number;
}

/** One load of a model folder by the app's own ModelRuntime (fetch, patch both graphs, two sessions). */
export interface LoadSample {
  ms: number;
  /** Backend the runtime ended up on (it falls back to WASM when WebGPU fails). */
  backend: Backend;
  /** ModelInfo.patchMs: finding the Softmax nodes and patching both graphs. */
  patchMs: number;
  /** Bytes that came over the network (Resource Timing `transferSize`; 0 when served from the HTTP cache). */
  networkBytes: number;
  /** Bytes of the model files, as decoded. */
  bodyBytes: number;
}

export type LoadRoute =
  /** `fetch` from the model folder's URL, as the app loads the bundled model (HTTP cache applies). */
  | 'url'
  /** Files read from Cache Storage, as the app keeps Hub models (stored first, untimed). */
  | 'cache-storage';

export interface ImageSamples {
  /** session.run of the unpatched graph (embeddings only). */
  plain: number[];
  /** session.run of the patched graph (embeddings + every layer's attention). */
  patchedRun: number[];
  /** patchedRun + reducing the attentions (src/explain/reduce.ts), as the worker posts them. */
  patched: number[];
}

export interface PreparedModel {
  layers: number;
  heads: number;
  seq: number;
  imageSize: number;
  /** Vision `.onnx` bytes before patching. */
  visionBytes: number;
}

/** Gradient relevance through the app's ModelRuntime (tfjs autodiff of the same ONNX graphs). */
export interface RelevanceSamples {
  /** The first request: builds the tfjs graphs from the ONNX files, then computes (last layer). */
  firstMs: number;
  /** From the last layer only (start layer -1, the notebook's default), and from all layers. */
  last: number[];
  all: number[];
  /** Gradient-free dense prompt maps on the same images (ModelRuntime.denseMap). */
  maskclip: number[];
  clearclip: number[];
  /** Patch contributions: one tfjs forward pass through every layer. */
  contributions: number[];
  /** tfjs backend the worker chose, and why it skipped the ones before it. */
  backend: string;
}

export interface OrtBenchApi {
  init(setup: OrtSetup): void;
  load(opts: { baseUrl: string; backend: Backend; route: LoadRoute }): Promise<LoadSample>;
  /** Creates the plain and the patched vision session and the patched text session. */
  prepare(opts: { baseUrl: string; backend: Backend }): Promise<PreparedModel>;
  /** Plain and patched runs on the same pixels, interleaved (ABAB…) so that drift hits both. */
  image(opts: { warmup: number; reps: number }): Promise<ImageSamples>;
  /** Encodes the prompts one after another, as the app does (patched text graph, unpadded). */
  text(opts: { prompts: string[]; warmup: number; reps: number }): Promise<number[]>;
  /** src/explain/rollout.ts on the last image's reduced attentions (as the app): full matrix, and the map (CLS row). */
  rollout(opts: { reps: number }): Promise<{ matrix: number[]; map: number[] }>;
  /** Loads the model with ModelRuntime, encodes one image per repetition and asks for its relevance and dense maps. */
  relevance(opts: { baseUrl: string; prompt: string; reps: number }): Promise<RelevanceSamples>;
  /** Times an arbitrary graph (bench/graphs.py) fed with constant inputs. */
  graph(opts: { url: string; inputs: Record<string, number[]>; warmup: number; reps: number }): Promise<number[]>;
  release(): Promise<void>;
}

export interface TjsBenchApi {
  /** Loads CLIPVisionModelWithProjection from the local server; returns load time and versions. */
  load(opts: { localModelPath: string; modelId: string; wasmPaths: string; threads: number }): Promise<{
    ms: number;
    transformersVersion: string;
    ortVersion: string;
  }>;
  image(opts: { imageSize: number; warmup: number; reps: number }): Promise<number[]>;
}

declare global {
  var clipLensOrtBench: OrtBenchApi | undefined;
  var clipLensTjsBench: TjsBenchApi | undefined;
}
