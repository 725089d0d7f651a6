/**
 * The one typed boundary between the main thread and the model worker (exposed with comlink).
 *
 * Every request carries a `requestId`; `cancel(requestId)` drops queued or in-progress work
 * (the loaded model stays: it may be hundreds of MB). Large buffers travel in transfer lists.
 */

/** Which weights file of a model folder to load (Hugging Face / transformers.js naming). */
export type ModelVariant = 'fp32' | 'fp16' | 'q8';

export const VARIANT_SUFFIX: Record<ModelVariant, string> = { fp32: '', fp16: '_fp16', q8: '_quantized' };

/** Where a model folder lives. */
export type ModelSource =
  /** A folder reachable over HTTP: `${baseUrl}config.json`, `${baseUrl}onnx/vision_model.onnx`, … */
  | { kind: 'url'; id: string; baseUrl: string; variant: ModelVariant }
  /** Files picked from the user's disk, keyed by path inside the folder (`onnx/vision_model.onnx`). */
  | { kind: 'files'; id: string; files: Record<string, Blob>; variant: ModelVariant };

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
  attentions: AttentionTensor;
  /** Patch grid of the vision encoder, e.g. 7×7 for ViT-B/32 at 224 px. */
  grid: { width: number; height: number };
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

/** Counters that let tests (and the curious) see when the model actually runs. */
export interface RunCounters {
  imageRuns: number;
  textRuns: number;
}

/** Errors crossing the boundary keep a machine-readable code and a message for people. */
export type WorkerErrorCode =
  | 'cancelled'
  | 'bad-image'
  | 'model-fetch'
  | 'model-format'
  | 'unsupported-model'
  | 'no-model'
  | 'runtime';

export interface WorkerInit {
  /** URL of the folder that serves ONNX Runtime's .mjs/.wasm files. */
  ortBase: string;
  backend: 'auto' | Backend;
  /** WASM threads; 1 when the page is not cross-origin isolated. */
  threads: number;
}

export interface LensWorkerApi {
  init(opts: WorkerInit): void;
  loadModel(source: ModelSource, requestId: number, onProgress: (p: LoadProgress) => void): Promise<ModelInfo>;
  encodeImage(req: ImageRequest): Promise<ImageResult>;
  encodeText(req: TextRequest): Promise<TextResult>;
  cancel(requestId: number): void;
  counters(): RunCounters;
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
