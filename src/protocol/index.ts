/**
 * The one typed boundary between the main thread and the model worker (exposed with comlink).
 *
 * Every request carries a `requestId`; `cancel(requestId)` drops queued or in-progress work
 * (the loaded model stays: it may be hundreds of MB). Large buffers travel in transfer lists.
 */

/**
 * Which weights file of a model folder to load: transformers.js's dtype names, each with its file
 * suffix (`onnx/vision_model_q4.onnx`). q8 is ONNX Runtime's dynamic int8 quantization, the file
 * transformers.js picks by default on WASM; int8 and uint8 are the same with signed or unsigned
 * weights (an int8 vision file may quantize the patch Conv too); q4 and q4f16 hold 4-bit blocks
 * (`com.microsoft::MatMulNBits`, the latter in float16 around them); bnb4 holds NF4 blocks
 * (`com.microsoft::MatMulBnb4`).
 */
export type ModelVariant = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';

export const VARIANT_SUFFIX: Record<ModelVariant, string> = {
  fp32: '', fp16: '_fp16', q8: '_quantized', int8: '_int8', uint8: '_uint8', q4: '_q4', q4f16: '_q4f16', bnb4: '_bnb4',
};

/** Where a model folder lives. */
export type ModelSource =
  /** A folder reachable over HTTP: `${baseUrl}config.json`, `${baseUrl}onnx/vision_model.onnx`, … */
  | { kind: 'url'; id: string; baseUrl: string; variant: ModelVariant }
  /** Files picked from the user's disk, keyed by path inside the folder (`onnx/vision_model.onnx`). */
  | { kind: 'files'; id: string; files: Record<string, Blob>; variant: ModelVariant }
  /**
   * A repository on the Hugging Face Hub, or on a server with the same URLs
   * (`{host}/{repo}/resolve/{revision}/{file}`). The worker keeps complete, verified files in
   * Cache Storage and reads them from there on later loads, without any request.
   */
  | {
    kind: 'hub'; id: string; host: string; repo: string; revision: string; variant: ModelVariant;
    /**
     * Bytes of files as the Hub's listing gave them, by repo-relative path (the encoder files):
     * a download that brings more is stopped. Absent when the listing was not available.
     */
    sizes?: Readonly<Record<string, number>>;
  };

export type Backend = 'webgpu' | 'wasm';

export interface LoadProgress {
  requestId: number;
  file: string;
  loaded: number; // bytes
  total: number | null; // bytes, when the server says
}

/** What the main thread needs to know of a loaded model; the JSON files as the folder has them. */
export interface ModelInfo {
  id: string;
  variant: ModelVariant;
  backend: Backend;
  /** Threads ORT's WASM backend uses (1 without cross-origin isolation). */
  wasmThreads: number;
  config: unknown; // config.json
  preprocessorConfig: unknown; // preprocessor_config.json
  tokenizerJson: unknown; // tokenizer.json
  tokenizerConfig: unknown; // tokenizer_config.json
  vision: EncoderInfo;
  text: EncoderInfo;
  /** Milliseconds spent finding Softmax nodes and patching both graphs. */
  patchMs: number;
}

export interface EncoderInfo {
  layers: number;
  heads: number;
  /** Output names of the attention probabilities that the patch exposed, one per layer. */
  attentionOutputs: string[];
}

/** Attention probabilities of one input: layout (layers, heads, seq, seq), rows sum to 1. */
export interface AttentionTensor {
  layers: number;
  heads: number;
  seq: number;
  data: Float32Array;
}

/**
 * One query token's attention rows in every layer and head: layout (layers, heads, seq), entry
 * (l, h, k) = row `token` of head h of layer l; each row sums to 1. Vision: token 0 is CLS,
 * patch i is token i + 1. Structurally `TokenRows` of src/explain/types.ts.
 */
export interface AttentionRows {
  layers: number;
  heads: number;
  seq: number;
  token: number;
  data: Float32Array;
}

/**
 * Every layer's attention with all heads fused: layout (layers, seq, seq) per fusion. `mean` is
 * the float64 head mean (what rollout computes with), `max`/`min` are exact in float32.
 * Structurally `FusedLayers` of src/explain/types.ts.
 */
export interface FusedAttention {
  layers: number;
  heads: number;
  seq: number;
  mean: Float64Array;
  max: Float32Array;
  min: Float32Array;
}

/**
 * What an image's vision attention is reduced to before it leaves the worker (src/explain/reduce.ts):
 * the full (layers, heads, seq, seq) stack is 22.4 MB for ViT-B/16, this 7.6 MB. Rows of other
 * query tokens come from `queryRows`. Structurally `ReducedAttention` of src/explain/types.ts.
 */
export interface ImageAttention {
  layers: number;
  heads: number;
  seq: number;
  /** The CLS token's rows. */
  cls: AttentionRows;
  /** All-heads mean / max / min of every layer, for rollout. */
  fused: FusedAttention;
}

export interface ImageRequest {
  requestId: number;
  imageId: string;
  /** The file as dropped; decoded in the worker (EXIF orientation honoured). */
  blob: Blob;
}

/** Crop rectangle that the model saw, in the coordinates of the decoded (oriented) image. */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ImageResult {
  imageId: string;
  width: number; // decoded image size, pixels
  height: number;
  cropBox: CropBox;
  embeds: Float32Array; // (projection_dim,)
  /** Vision attention, reduced; the worker keeps no attention of the image. */
  attention: ImageAttention;
  /** Patch grid of the vision encoder, e.g. 7×7 for ViT-B/32 at 224 px. */
  grid: { width: number; height: number };
  /** A smaller PNG to show instead of the file, for an image of over 4 MP (see worker/decode.ts). */
  display?: Blob;
}

export interface TextRequest {
  requestId: number;
  /** Token ids of one prompt, start and end-of-text tokens included, unpadded. */
  ids: number[];
}

export interface TextResult {
  embeds: Float32Array; // (projection_dim,)
  attentions: AttentionTensor; // seq = ids.length
}

/**
 * The attention rows of one query token of an image (a clicked patch), every layer and head. The
 * worker keeps no attention: it runs the vision encoder again on the image's kept pixels (the last
 * 64 images encoded) and returns only these rows. The blob, when given, is decoded again if the
 * pixels are no longer kept.
 */
export interface QueryRowsRequest {
  requestId: number;
  imageId: string;
  /** Token index: patch i (row-major over the grid) is token i + 1; 0 is CLS. */
  token: number;
  /** The image as sent to `encodeImage`, for when the worker no longer keeps its pixels. */
  blob?: Blob;
}

export interface QueryRowsResult {
  imageId: string;
  rows: AttentionRows;
  /** Time spent in the worker, ms. */
  ms: number;
}

/**
 * Gradient-weighted relevance (Chefer et al. 2021, CLIP notebook) of one (image, prompt) pair,
 * computed in the worker by differentiating the model's own ONNX graphs with tfjs
 * (src/worker/grad). The image must have been sent with `encodeImage` before: the worker keeps
 * the preprocessed pixels of the last 64 images.
 */
export interface RelevanceRequest {
  requestId: number;
  imageId: string;
  /** Token ids of the prompt, start and end-of-text included, unpadded (as for `encodeText`). */
  promptIds: number[];
  /** First vision layer accumulated: -1 = last layer only (the notebook's default), 0 = all. */
  startLayerImage: number;
  /** Same for the text encoder. */
  startLayerText: number;
  /**
   * Also return ∂score/∂A for every layer of both encoders (then differentiated from layer 0,
   * whatever the start layers), for the `relevance` method in src/explain/registry.ts.
   * Large for big models (B/16: ~11 MB); such results are not cached in the worker.
   */
  includeGradients?: boolean;
}

/** Steps of a relevance request, for a progress indicator. */
export interface RelevanceProgress {
  requestId: number;
  stage: 'prepare' | 'text-forward' | 'vision' | 'text' | 'done';
  /** Steps done so far, of `steps`. */
  step: number;
  steps: number;
}

export interface RelevanceResult {
  imageId: string;
  /** R[CLS, 1:]: one value per patch, row-major over `grid`; ≥ 0, not normalised. */
  imageMap: Float32Array;
  grid: { width: number; height: number };
  /** R[EOT, 1:EOT]: one value per token between start and end-of-text (promptIds.length − 2). */
  textMap: Float32Array;
  /**
   * Vision (layers × heads), row-major: Σ_{q,k} |∂score/∂A ⊙ A| per head. Layers below
   * `startLayerImage` are 0 (not differentiated) unless `includeGradients`.
   */
  headImportance: Float32Array;
  /** Text (layers × heads), as `headImportance`. */
  textHeadImportance: Float32Array;
  /** exp(logit_scale) · cos(image_embeds, text_embeds), as the interpreted graphs compute it. */
  score: number;
  /** ∂score/∂A, layout (layers, heads, seq, seq); only with `includeGradients`. */
  gradients?: { vision: AttentionTensor; text: AttentionTensor };
  /** tfjs backend that computed it: 'webgpu' | 'webgl' | 'wasm' | 'cpu'. */
  backend: string;
  /** Why `backend` is not the first choice: the GPU was lost during the session (see grad/backend.ts). */
  backendNote?: string;
  /** Threads of that backend (WASM: XNNPACK's; 1 for the others). */
  threads: number;
  /**
   * Who differentiated the image encoder: ONNX Runtime running the graph with its backward pass
   * appended (all layers at once, src/worker/grad/ortBackward.ts), or tfjs like the prompt's.
   */
  visionBy: 'onnxruntime' | 'tfjs';
  /** Time spent in the worker, ms (0 when answered from the worker's cache). */
  ms: number;
  /** True when the worker answered from its result cache. */
  cached: boolean;
}

/**
 * Gradient-free dense prompt maps.
 * - `clearclip` and `maskclip`: the vision encoder's last block is re-run with its attention
 *   replaced and without residual and FFN, the post-LayerNorm and projection are applied to
 *   every patch token, and each patch's embedding is compared with the prompt's (cosine
 *   similarity). `clearclip`: query-query attention softmax(q·qᵀ/√d) (Lan et al. 2024,
 *   "ClearCLIP: Decomposing CLIP Representations for Dense Vision-Language Inference", ECCV).
 *   `maskclip`: no attention, each token keeps its own value (Zhou, Loy & Dai 2022, "Extract
 *   Free Dense Labels from CLIP", ECCV).
 * - `contributions`: what each patch adds to the image–prompt cosine through every attention
 *   layer's CLS row (the decomposition of Gandelsman, Efros & Steinhardt 2024, "Interpreting
 *   CLIP's Image Representation via Text-Based Decomposition", ICLR), carried through the
 *   post-LayerNorm and projection to first order (src/worker/grad/contributions.ts).
 */
export type DenseMapMode = 'clearclip' | 'maskclip' | 'contributions';

/**
 * A dense prompt map of one (image, prompt) pair, computed in the worker by re-running the last
 * vision block of the model's own ONNX graph with tfjs (src/worker/grad/dense.ts). The image
 * must have been sent with `encodeImage` before (the worker keeps the last 64 images' pixels).
 */
export interface DenseMapRequest {
  requestId: number;
  imageId: string;
  /** Token ids of the prompt, start and end-of-text included, unpadded (as for `encodeText`). */
  promptIds: number[];
  mode: DenseMapMode;
}

export interface DenseMapResult {
  imageId: string;
  /**
   * One value per patch (CLS excluded), row-major over `grid`. Not normalised: the renderer does
   * that. `clearclip`, `maskclip`: cosine similarity of the patch's embedding with the prompt's,
   * in [-1, 1]. `contributions`: the patch's share of the image–prompt cosine (plus a constant
   * common to all patches), signed.
   */
  map: Float32Array;
  grid: { width: number; height: number };
  /**
   * `contributions` only: each attention layer's share, `(layers, patches)` row-major; `map` is
   * their sum (the UI can show one layer's share without asking again).
   */
  layerMaps?: Float32Array;
  /** Set when the tfjs backend's GPU was lost during the session and the map ran on another backend. */
  backendNote?: string;
  /** Time spent in the worker, ms (0 when answered from the worker's cache). */
  ms: number;
  /** True when the worker answered from its cache (per image, prompt and mode). */
  cached: boolean;
}

/** Counters that let tests (and the curious) see when the model actually runs. */
export interface RunCounters {
  imageRuns: number;
  textRuns: number;
  /** Vision runs for `queryRows` (a clicked patch's rows), not counted in `imageRuns`. */
  queryRuns: number;
  /**
   * Encoder runs (vision or text) made only to get a block input for gradient relevance. The
   * last block's input comes with every image and prompt encoding, so relevance from the last
   * layer (the default) and dense maps need none.
   */
  blockRuns: number;
}

/** Errors crossing the boundary keep a machine-readable code and a message for people. */
export type WorkerErrorCode =
  | 'cancelled'
  | 'bad-image'
  | 'model-fetch'
  | 'model-format'
  | 'unsupported-model'
  | 'no-model'
  /** A relevance, dense-map or query-rows request for an image the worker no longer (or never) had: encode it again. */
  | 'unknown-image'
  /** The worker died (out of memory, a crash, terminated) before it answered; the page starts another. */
  | 'worker-lost'
  | 'runtime';

export interface WorkerInit {
  /** URL of the folder that serves ONNX Runtime's .mjs/.wasm files. */
  ortBase: string;
  backend: 'auto' | Backend;
  /** WASM threads; 1 when the page is not cross-origin isolated. */
  threads: number;
  /**
   * Threads of tfjs's WASM backend for gradient relevance (default 1): on 2 cores two threads
   * were slower (docs/benchmarks.md), so more is opt-in (`?gradthreads=N`).
   */
  gradThreads?: number;
  /**
   * Seconds without a byte before a Hub download counts as stalled (default 60). Tests shorten it
   * with `?stallsec=N` in the address.
   */
  stallSeconds?: number;
  /**
   * tfjs backend to try first for relevance and dense maps, software renderers accepted
   * (`?tfbackend=webgpu`): the browser tests' GPU is SwiftShader, which the default order skips.
   */
  tfBackend?: 'webgpu' | 'webgl' | 'wasm' | 'cpu';
}

export interface LensWorkerApi {
  init(opts: WorkerInit): void;
  loadModel(source: ModelSource, requestId: number, onProgress: (p: LoadProgress) => void): Promise<ModelInfo>;
  encodeImage(req: ImageRequest): Promise<ImageResult>;
  encodeText(req: TextRequest): Promise<TextResult>;
  /** One query token's rows of an encoded image; see {@link QueryRowsRequest}. Queued like images. */
  queryRows(req: QueryRowsRequest): Promise<QueryRowsResult>;
  cancel(requestId: number): void;
  counters(): RunCounters;
  /**
   * Takes the Web Lock `name` and holds it for the worker's whole life; resolves once it holds
   * it. The page then asks for the same lock and is granted it only when the worker is gone.
   */
  holdLifeLock(name: string): Promise<void>;
  /**
   * Test hook: takes tfjs's GPU away as a driver reset would (WebGPU: `GPUDevice.destroy()`;
   * WebGL: `WEBGL_lose_context`). Resolves the backend it took, or null when tfjs is on neither.
   */
  loseTfGpu(): 'webgpu' | 'webgl' | null;
  /**
   * Gradient relevance of one (image, prompt) pair; see {@link RelevanceRequest}. The first call
   * per model builds the tfjs graphs (reads the model files again from the cache). Cancellable
   * between steps; `onProgress` (pass it through `Comlink.proxy`) reports the steps.
   */
  relevance(req: RelevanceRequest, onProgress?: (p: RelevanceProgress) => void): Promise<RelevanceResult>;
  /**
   * Gradient-free dense prompt map of one (image, prompt) pair; see {@link DenseMapRequest}.
   * Shares the tfjs graphs of `relevance` (the first call of either builds them). Cancellable
   * before the pass starts; answered from a small cache when repeated.
   */
  denseMap(req: DenseMapRequest): Promise<DenseMapResult>;
}

/** Prefix of error messages thrown by the worker: `[code] message`; see `parseWorkerError`. */
export function formatWorkerError(code: WorkerErrorCode, message: string): string {
  return `[${code}] ${message}`;
}

export function parseWorkerError(err: unknown): { code: WorkerErrorCode; message: string } {
  const text = err instanceof Error ? err.message : String(err);
  const m = /^\[([a-z-]+)\] ([\s\S]*)$/.exec(text);
  if (m && m[1] && m[2] !== undefined) return { code: m[1] as WorkerErrorCode, message: m[2] };
  return { code: 'runtime', message: text };
}
