/** The shape of bench/results.json. Times in milliseconds, sizes in bytes. */
import type { VisionMacs, VisionShape } from './flops.js';
import type { Summary } from './stats.js';

/** A phase that failed keeps its message; the rest of the run goes on. */
export type Outcome<T> = T | { error: string };

export function failed<T extends object>(o: Outcome<T> | null | undefined): o is { error: string } {
  return typeof o === 'object' && o !== null && 'error' in o;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  chromium: string;
  node: string;
  playwright: string;
  onnxruntimeWeb: string;
  transformersJs: string;
  /** The onnxruntime-web that transformers.js bundles (its own dependency). */
  transformersJsOnnxruntimeWeb: string;
  torch: string;
  /**
   * Load average (1 min) before and after the run, and its median and maximum sampled every 15 s
   * during it. The bench alone keeps it near 2 on 2 cores; more means another job competed.
   */
  loadAverage: { before: number; after: number; median: number; max: number };
  /** Other heavy processes seen at the start (e.g. a training job): timings are then worthless. */
  busy: string[];
}

export interface LoadResult {
  cold: Summary;
  /** Second load by URL: the HTTP cache, if the browser kept the file. */
  warmHttp: Summary;
  /** Load from files kept in Cache Storage, as the app keeps Hub models. */
  warmCache: Summary;
  patchMs: Summary;
  /** Bytes over the network: cold and warm-by-URL (0 = all from the HTTP cache). */
  coldNetworkBytes: number;
  warmHttpNetworkBytes: number;
  bodyBytes: number;
}

export interface InteractionResult {
  /** Input → last canvas painted (putImageData returned). */
  latency: Summary;
  /** Main-thread work in it: React render and commit, then the paint callbacks (waiting for the frame excluded). */
  work: Summary;
  /** The two parts of the work: React's render and commit (maps are computed in render), and painting the canvases. */
  render: Summary;
  paint: Summary;
  /** Canvases painted per change (median). */
  canvases: number;
  /** Changes after which nothing was painted within 5 s. */
  timeouts: number;
}

export interface LongFrame {
  start: number;
  duration: number;
  blocking: number;
  /** Top scripts of the frame (Long Animation Frames API): "invoker (function) ms". */
  scripts: string[];
}

export interface ThroughputResult {
  images: number;
  errors: number;
  /** From the file input's change event to the 20th result. */
  totalMs: number;
  /** Intervals between successive results. */
  perImage: Summary;
  longestTaskMs: number;
  tasksOver50ms: number;
  longestFrames: LongFrame[];
  memory: MemoryResult;
  /**
   * Vision attention the page keeps after the images, bytes (`clipLensDebug.attentionBytes`):
   * per image and in total. Absent in runs made before the app reduced its attention.
   */
  attentionBytes?: { perImage: number[]; total: number };
}

export interface MemoryResult {
  /**
   * The page and each worker (named by its script), from the DevTools protocol's
   * Runtime.getHeapUsage: V8 heap in use, and ArrayBuffer backing stores (WebAssembly memories).
   */
  targets: { name: string; heapBytes: number; backingBytes: number }[];
}

export interface TorchResult {
  torch: string;
  threads: number;
  image: Summary;
  relevanceLast: Summary;
  relevanceAll: Summary;
}

export interface ModelResult {
  id: string;
  label: string;
  shape: VisionShape;
  macs: VisionMacs;
  /** All attention probabilities of one image, float32 (bench/flops.ts): what the app no longer keeps. */
  attentionBytes: number;
  visionFileBytes: number;
  /** The app's status line once the model loaded, e.g. "ready · WASM, 2 threads". */
  appStatus: string | null;
  load: Outcome<LoadResult>;
  /** session.run on the plain graph, on the patched graph, and patched + preparing what the worker posts (what the app pays). */
  image: Outcome<{ plain: Summary; patchedRun: Summary; patched: Summary }>;
  text8: Outcome<Summary>;
  rollout: Outcome<{ matrix: Summary; map: Summary }>;
  /** Gradient relevance through the worker API, or why it is not measured. */
  relevance: Outcome<{ firstMs: number; last: Summary; all: Summary; backend: string }> | { unavailable: string };
  /** Dense prompt maps (MaskCLIP, ClearCLIP) through the worker API, on the relevance run's images. */
  /** `contributions` is absent in runs made before that mode existed. */
  denseMap: Outcome<{ maskclip: Summary; clearclip: Summary; contributions?: Summary }> | { unavailable: string };
  /** Gradient-free dense prompt map (MaskCLIP family), or why it is not measured. */
  transformersJs: Outcome<{ load: Summary; image: Summary }>;
  /** The encoder's linear layers alone (bench/graphs.py), same ORT build. */
  linear: Outcome<Summary> | null;
  interaction: Outcome<{ single: InteractionResult; grid: InteractionResult }> | null;
  throughput: Outcome<ThroughputResult> | null;
  /** The same for 200 images (memory bounded by the app's cap on kept attention); absent in older runs. */
  many?: Outcome<ThroughputResult> | null;
  torch: Outcome<TorchResult> | null;
}

/** One invocation of the bench; `--merge` keeps the models of earlier runs, so there may be several. */
export interface Run {
  date: string;
  models: string[];
  loadAverage: Machine['loadAverage'];
}

export interface Results {
  date: string;
  runs: Run[];
  quick: boolean;
  durationS: number;
  threads: number;
  machine: Machine;
  /** Chain of 1024² MatMuls (bench/graphs.py) in the same ORT WASM build: the measured peak. */
  peak: Outcome<{ ms: Summary; macs: number; gflops: number }>;
  models: ModelResult[];
  webgpuSmoke: Outcome<{ backend: string; load: Summary; plain: Summary; patched: Summary }>;
}
