/**
 * Model state inside the worker: sessions, the patched graphs, the run queue and cancellation.
 */
import * as ort from 'onnxruntime-web/webgpu';
import {
  formatWorkerError,
  type AttentionTensor,
  type Backend,
  type DenseMapRequest,
  type DenseMapResult,
  type ImageRequest,
  type ImageResult,
  type LoadProgress,
  type ModelInfo,
  type ModelSource,
  type QueryRowsRequest,
  type QueryRowsResult,
  type RelevanceProgress,
  type RelevanceRequest,
  type RelevanceResult,
  type RunCounters,
  type TextRequest,
  type TextResult,
  type WorkerInit,
} from '../protocol';
import { parseClipConfig, type ClipShape } from '../model/config';
import { parsePreprocessorConfig, preprocess, type PreprocessorConfig } from '../image/preprocess';
import { decodeImage } from './decode';
import { sessionErrorMessage } from './ortErrors';
import { JSON_FILES, onnxPath, readModelFile, readModelJson } from './modelFiles';
import { DEFAULT_RETRY, type RetryPolicy } from './hub/download';
import { attentionSoftmaxOf, patchOutputs } from './onnx/attention';
import { appendHeadReductions, assembleReduced, defaultOpset, reducesInGraph, type HeadReductionOutputs } from './onnx/headReduce';
import { summarizeModel } from './onnx/graph';
import { findBlockInputs, startsExactly, type BlockInputs } from './onnx/structure';
import { attentionToFloat32, layerAttentions, type TensorLike } from './onnx/tensors';
import { reduceLayers, tokenRowsOfLayers } from '../explain/reduce';
import type { ReducedAttention } from '../explain/types';
import { forceTfBackend, setTfWasmThreads } from './grad/backend';
import { RelevanceEngine, type BackwardSession, type EncoderRunInput } from './grad/engine';
import type { BlockTensor } from './grad/gradients';
import { DenseEngine } from './grad/denseEngine';

interface Encoder {
  session: ort.InferenceSession;
  input: string;
  embeds: string;
  attentions: string[];
  /**
   * The residual stream entering each block, also graph outputs of the patched model: the last
   * block's is fetched with every encoding, the others by gradient relevance when it needs them;
   * undefined when the structure was not found.
   */
  blocks: BlockInputs | undefined;
  /** The session returned a block input in another type than float32 (a float16 file): don't ask again. */
  blocksUnusable: boolean;
  /** Vision: the graph's head reductions that image encodings fetch (see `Patched`). */
  reductions: HeadReductionOutputs[] | undefined;
  plainLength: number | undefined;
  heads: number;
  /** Patched model bytes, kept while on WebGPU so a lost device can fall back to WASM. */
  bytes: Uint8Array | null;
}

interface Loaded {
  info: ModelInfo;
  shape: ClipShape;
  preprocessor: PreprocessorConfig;
  vision: Encoder;
  text: Encoder;
}

/**
 * `ReducedAttention` from the graph's reductions (./onnx/headReduce.ts), fetched per layer in the
 * order mean, max, min, CLS rows.
 */
export function fromGraphReductions(tensors: readonly TensorLike[], heads: number): ReducedAttention {
  const f32 = (t: TensorLike | undefined): Float32Array => {
    if (t?.type !== 'float32') throw new Error(formatWorkerError('runtime', `A head reduction came out as ${t?.type ?? 'nothing'}, not float32.`));
    return t.data as Float32Array;
  };
  const layers = Array.from({ length: tensors.length / 4 }, (_, l) => ({
    mean: f32(tensors[4 * l]), max: f32(tensors[4 * l + 1]), min: f32(tensors[4 * l + 2]), cls: f32(tensors[4 * l + 3]),
  }));
  try {
    return assembleReduced(layers, heads);
  } catch (e) {
    throw new Error(formatWorkerError('unsupported-model', `The vision attention does not have ${heads} heads of square (seq × seq) probabilities: ${e instanceof Error ? e.message : String(e)}`));
  }
}

/** One encoder run's outputs, valid until the run's tensors are disposed (see `ModelRuntime.run`). */
interface RunOutputs {
  /** A copy: outlives the run. */
  embeds: Float32Array;
  /** The attention outputs fetched (default: one Softmax output per layer, in layer order). */
  attention: TensorLike[];
  /** The extra outputs asked for, by name (valid during `read` only). */
  extra: Record<string, ort.Tensor | undefined>;
}

/** The name of the input of block `layer`, when relevance can start from what ORT computes there. */
function lastBlockOf(enc: Encoder, layer: number): string | undefined {
  return enc.blocksUnusable ? undefined : enc.blocks?.inputs[layer];
}

/**
 * A copy of the block input fetched in a run, as float32; undefined when the session gives it in
 * another type (float16 files, see `ModelRuntime.blockInput`), which also marks the encoder's
 * block inputs unusable.
 */
function keptBlock(enc: Encoder, out: Record<string, ort.Tensor | undefined>, name: string | undefined): BlockTensor | undefined {
  const t = name ? out[name] : undefined;
  if (!t) return undefined;
  if (t.type !== 'float32') {
    enc.blocksUnusable = true;
    return undefined;
  }
  return { data: new Float32Array(t.data as Float32Array), dims: [...t.dims] };
}

const cancelledError = () => new Error(formatWorkerError('cancelled', 'Cancelled.'));

export class ModelRuntime {
  private opts: WorkerInit = { ortBase: '/ort/', backend: 'auto', threads: 1 };
  private loaded: Loaded | null = null;
  private cancelled = new Set<number>();
  private loads = new Map<number, AbortController>();
  private runs: RunCounters = { imageRuns: 0, textRuns: 0, queryRuns: 0, blockRuns: 0 };
  /** ORT sessions run one request at a time; requests wait here in order. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Gradient relevance: tfjs graphs, kept pixels and results (see ./grad/engine.ts). */
  private relevanceEngine = new RelevanceEngine();
  /** Dense prompt maps, on the relevance engine's graphs and pixels (see ./grad/dense.ts). */
  private denseEngine = new DenseEngine(this.relevanceEngine);

  init(opts: WorkerInit): void {
    this.opts = opts;
    ort.env.wasm.wasmPaths = opts.ortBase;
    ort.env.wasm.numThreads = opts.threads;
    setTfWasmThreads(opts.gradThreads ?? 1);
    forceTfBackend(opts.tfBackend ?? null);
  }

  /** Hub downloads' retry policy, with the page's stall timeout (`?stallsec=`, for tests). */
  private downloadPolicy(): RetryPolicy {
    const s = this.opts.stallSeconds;
    return s !== undefined && s > 0 ? { ...DEFAULT_RETRY, stallMs: s * 1000 } : DEFAULT_RETRY;
  }

  counters(): RunCounters {
    return { ...this.runs };
  }

  cancel(requestId: number): void {
    this.cancelled.add(requestId);
    this.loads.get(requestId)?.abort();
  }

  async loadModel(source: ModelSource, requestId: number, onProgress: (p: LoadProgress) => void): Promise<ModelInfo> {
    const abort = new AbortController();
    this.loads.set(requestId, abort);
    try {
      const [config, preprocessorConfig, tokenizerJson, tokenizerConfig] = await Promise.all(
        JSON_FILES.map((f) => readModelJson(source, f, abort.signal, this.downloadPolicy())));
      let shape: ClipShape;
      let preprocessor: PreprocessorConfig;
      try {
        shape = parseClipConfig(config, source.id);
        preprocessor = parsePreprocessorConfig(preprocessorConfig);
      } catch (e) {
        throw new Error(formatWorkerError('model-format', e instanceof Error ? e.message : String(e)));
      }
      const progress = (file: string, loaded: number, total: number | null) =>
        onProgress({ requestId, file, loaded, total });
      const [visionBytes, textBytes] = await Promise.all([
        readModelFile(source, onnxPath('vision', source), progress, abort.signal, this.downloadPolicy()),
        readModelFile(source, onnxPath('text', source), progress, abort.signal, this.downloadPolicy()),
      ]);
      const t0 = performance.now();
      const visionPatch = patchEncoder(visionBytes, shape.vision.layers, 'vision', shape.vision.heads, reducesInGraph(shape.vision));
      const textPatch = patchEncoder(textBytes, shape.text.layers, 'text', shape.text.heads, false);
      const patchMs = performance.now() - t0;
      if (this.cancelled.has(requestId)) throw cancelledError();

      const backend = await this.pickBackend();
      // A refusal names the file and the operator, so the person knows which weights to pick.
      const open = (which: 'vision' | 'text', b: Backend) =>
        createEncoder(which === 'vision' ? visionPatch : textPatch, b, shape[which].heads).catch((e: unknown) => {
          throw new Error(formatWorkerError('model-format', sessionErrorMessage(e instanceof Error ? e.message : String(e), onnxPath(which, source))));
        });
      const make = async (b: Backend) => {
        const vision = await open('vision', b);
        try {
          return { vision, text: await open('text', b) };
        } catch (e) {
          // Out of memory, most likely: free the vision session now, or the model in use has less room.
          await vision.session.release().catch(() => undefined);
          throw e;
        }
      };
      let sessions: { vision: Encoder; text: Encoder };
      let used: Backend = backend;
      try {
        sessions = await make(backend);
      } catch (e) {
        if (backend !== 'webgpu') throw e;
        used = 'wasm';
        sessions = await make('wasm');
      }
      await this.release();
      const info: ModelInfo = {
        id: source.id, variant: source.variant, backend: used,
        wasmThreads: this.opts.threads,
        config, preprocessorConfig, tokenizerJson, tokenizerConfig,
        vision: { layers: shape.vision.layers, heads: shape.vision.heads, attentionOutputs: visionPatch.attentions },
        text: { layers: shape.text.layers, heads: shape.text.heads, attentionOutputs: textPatch.attentions },
        patchMs,
      };
      this.loaded = { info, shape, preprocessor, ...sessions };
      // Gradient relevance builds its own graphs on first use, reading the stock files again.
      this.relevanceEngine.setModel({
        readBytes: (which) => readModelFile(source, onnxPath(which, source), () => {}, new AbortController().signal),
        files: { vision: onnxPath('vision', source), text: onnxPath('text', source) },
        vision: { input: visionPatch.input, output: visionPatch.embeds, attention: visionPatch.attentions, heads: shape.vision.heads, ...blocksOf(visionPatch) },
        text: { input: textPatch.input, output: textPatch.embeds, attention: textPatch.attentions, heads: shape.text.heads, ...blocksOf(textPatch) },
        logitScale: shape.logitScale,
        patchSize: shape.vision.patchSize,
        // Runs inside the relevance job, i.e. already in this runtime's queue: call the session directly.
        blockInput: (which, input, tensor) => this.blockInput(which, input, tensor),
        openBackward: (bytes) => this.openBackward(bytes),
      });
      return info;
    } finally {
      this.loads.delete(requestId);
    }
  }

  encodeImage(req: ImageRequest): Promise<ImageResult> {
    return this.enqueue(req.requestId, async (m) => {
      const decoded = await decodeImage(req.blob, { display: true });
      if (this.cancelled.has(req.requestId)) throw cancelledError();
      const { pixelValues, cropBox, width, height } = preprocess(decoded, m.preprocessor);
      const input = new ort.Tensor('float32', pixelValues, [1, 3, height, width]);
      // Only the reduced attention is kept. The graph computes it when it could be patched so
      // (the 22 MB B/16 stack then never leaves ONNX Runtime), else it is reduced here.
      // The last block's input comes along (seq·D floats, B/16: 605 KB) for the default
      // relevance (last layer) and the dense maps, which would otherwise run the encoder again.
      const lastLayer = m.shape.vision.layers - 1;
      const lastBlock = lastBlockOf(m.vision, lastLayer);
      const reductions = m.vision.reductions;
      const out = await this.run(m, 'vision', input, (o) => {
        let attention: ReducedAttention;
        if (reductions) {
          attention = fromGraphReductions(o.attention, m.vision.heads);
        } else {
          const { layers, heads, seq } = layerAttentions(o.attention, m.vision.heads, m.vision.attentions);
          attention = reduceLayers(layers, heads, seq);
        }
        return { embeds: o.embeds, attention, lastBlock: keptBlock(m.vision, o.extra, lastBlock) };
      }, {
        ...(reductions ? { attention: reductions.flatMap((r) => [r.mean, r.max, r.min, r.cls]) } : {}),
        extra: lastBlock ? [lastBlock] : [],
      });
      this.runs.imageRuns++;
      this.relevanceEngine.rememberPixels(req.imageId, pixelValues, [1, 3, height, width]);
      if (out.lastBlock) this.relevanceEngine.rememberBlockInput(req.imageId, lastLayer, out.lastBlock);
      const gridW = Math.floor(width / m.shape.vision.patchSize);
      const gridH = Math.floor(height / m.shape.vision.patchSize);
      const s = decoded.scale;
      return {
        imageId: req.imageId,
        width: decoded.originalWidth,
        height: decoded.originalHeight,
        cropBox: { x: cropBox.x * s, y: cropBox.y * s, width: cropBox.width * s, height: cropBox.height * s },
        embeds: out.embeds,
        attention: out.attention,
        grid: { width: gridW, height: gridH },
        ...(decoded.display ? { display: decoded.display } : {}),
      };
    });
  }

  encodeText(req: TextRequest): Promise<TextResult> {
    return this.enqueue(req.requestId, async (m) => {
      const ids = BigInt64Array.from(req.ids, (i) => BigInt(i));
      // Text attention is small (seq ≤ 77): the full stack is kept. So is the last block's input,
      // for relevance from the last layer (see encodeImage).
      const lastLayer = m.shape.text.layers - 1;
      const lastBlock = lastBlockOf(m.text, lastLayer);
      const { lastBlock: block, ...out } = await this.run(m, 'text', new ort.Tensor('int64', ids, [1, ids.length]), (o) => ({
        embeds: o.embeds,
        attentions: attentionToFloat32(o.attention, 1, m.text.heads, m.text.attentions)[0] as AttentionTensor,
        lastBlock: keptBlock(m.text, o.extra, lastBlock),
      }), { extra: lastBlock ? [lastBlock] : [] });
      this.runs.textRuns++;
      if (block) this.relevanceEngine.rememberPromptBlockInput(req.ids, lastLayer, block);
      return out;
    });
  }

  /**
   * One query token's rows of an image, every layer and head: runs the vision encoder again on
   * the kept pixels (decoding `req.blob` again when they are gone) and keeps only those rows.
   */
  queryRows(req: QueryRowsRequest): Promise<QueryRowsResult> {
    return this.enqueue(req.requestId, async (m) => {
      const t0 = performance.now();
      let pixels: { data: Float32Array; dims: readonly number[] };
      try {
        pixels = this.relevanceEngine.requirePixels(req.imageId, 'its attention rows');
      } catch (e) {
        if (!req.blob) throw e;
        const decoded = await decodeImage(req.blob);
        if (this.cancelled.has(req.requestId)) throw cancelledError();
        const { pixelValues, width, height } = preprocess(decoded, m.preprocessor);
        pixels = { data: pixelValues, dims: [1, 3, height, width] };
        this.relevanceEngine.rememberPixels(req.imageId, pixelValues, pixels.dims);
      }
      const patch = m.shape.vision.patchSize;
      const tokens = 1 + Math.floor((pixels.dims[2] ?? 0) / patch) * Math.floor((pixels.dims[3] ?? 0) / patch);
      if (!Number.isInteger(req.token) || req.token < 0 || req.token >= tokens) {
        throw new Error(formatWorkerError('runtime', `Token ${req.token} is out of range: this image has ${tokens} tokens (0 is CLS, patch i is token i + 1).`));
      }
      const input = new ort.Tensor('float32', pixels.data, [...pixels.dims]);
      const rows = await this.run(m, 'vision', input, (o) => {
        const { layers, heads, seq } = layerAttentions(o.attention, m.vision.heads, m.vision.attentions);
        return tokenRowsOfLayers(layers, heads, seq, req.token);
      });
      this.runs.queryRuns++;
      return { imageId: req.imageId, rows, ms: performance.now() - t0 };
    });
  }

  /** Gradient relevance of one (image, prompt) pair, queued behind (and before) model runs. */
  relevance(req: RelevanceRequest, onProgress?: (p: RelevanceProgress) => void): Promise<RelevanceResult> {
    return this.enqueue(req.requestId, () =>
      this.relevanceEngine.compute(
        req,
        () => {
          if (this.cancelled.has(req.requestId)) throw cancelledError();
        },
        onProgress,
      ));
  }

  /** Gradient-free dense prompt map (ClearCLIP / MaskCLIP) of one (image, prompt) pair, queued like relevance. */
  denseMap(req: DenseMapRequest): Promise<DenseMapResult> {
    return this.enqueue(req.requestId, () =>
      this.denseEngine.compute(req, () => {
        if (this.cancelled.has(req.requestId)) throw cancelledError();
      }));
  }

  private enqueue<T>(requestId: number, job: (m: Loaded) => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      if (this.cancelled.has(requestId)) throw cancelledError();
      const m = this.loaded;
      if (!m) throw new Error(formatWorkerError('no-model', 'No model is loaded yet.'));
      return job(m);
    });
    this.queue = next.catch(() => undefined);
    return next.finally(() => this.cancelled.delete(requestId));
  }

  /**
   * Runs one encoder and hands its outputs to `read`, which must copy what it keeps: the output
   * tensors are disposed when it returns. On a lost WebGPU device, moves both encoders to WASM
   * and retries once.
   */
  private async run<T>(
    m: Loaded, which: 'vision' | 'text', input: ort.Tensor, read: (out: RunOutputs) => T,
    fetch: { attention?: readonly string[]; extra?: readonly string[] } = {},
  ): Promise<T> {
    const enc = m[which];
    // The embedding, the attentions (or the graph's reductions of them) and what the caller asks
    // for: the block inputs are outputs too, fetched only when wanted.
    const names = fetch.attention ?? enc.attentions;
    const out = await this.runSession(m, which, input, [enc.embeds, ...names, ...(fetch.extra ?? [])]);
    try {
      const embedsTensor = out[enc.embeds];
      if (!embedsTensor) throw new Error(formatWorkerError('runtime', `The model gave no ${enc.embeds} output.`));
      const embeds = new Float32Array(embedsTensor.data as Float32Array);
      const attention = names.map((name) => {
        const t = out[name];
        if (!t) throw new Error(formatWorkerError('runtime', `The patched model gave no output ${name}.`));
        return t;
      });
      return read({ embeds, attention, extra: out });
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
  }

  /** `session.run` of one encoder fetching `names`; on a lost WebGPU device, moves to WASM and retries once. */
  private async runSession(m: Loaded, which: 'vision' | 'text', input: ort.Tensor, names: readonly string[]): Promise<ort.InferenceSession.ReturnType> {
    try {
      return await m[which].session.run({ [m[which].input]: input }, [...names]);
    } catch (e) {
      if (m.info.backend !== 'webgpu') throw runtimeError(e, 'runtime');
      await this.fallBackToWasm(m);
      return m[which].session.run({ [m[which].input]: input }, [...names]);
    }
  }

  /**
   * One block input of an encoder (see `Encoder.blocks`) for gradient relevance, as float32;
   * undefined when the session gives it in another type (float16 files: rounding it would move
   * the relevance maps by ~1e-3 relative, so relevance interprets those blocks instead).
   * ONNX Runtime evaluates the whole graph whatever is fetched: this costs one encoder run.
   */
  private async blockInput(which: 'vision' | 'text', input: EncoderRunInput, name: string): Promise<BlockTensor | undefined> {
    const m = this.loaded;
    if (!m) throw new Error(formatWorkerError('no-model', 'No model is loaded yet.'));
    const enc = m[which];
    if (enc.blocksUnusable || !enc.blocks?.inputs.includes(name)) return undefined;
    const tensor = input.kind === 'pixels'
      ? new ort.Tensor('float32', input.data, [...input.dims])
      : new ort.Tensor('int64', BigInt64Array.from(input.ids, (i) => BigInt(i)), [1, input.ids.length]);
    const out = await this.runSession(m, which, tensor, [name]);
    this.runs.blockRuns++;
    try {
      const t = out[name];
      if (!t) throw new Error(formatWorkerError('runtime', `The patched model gave no output ${name}.`));
      if (t.type !== 'float32') {
        enc.blocksUnusable = true;
        return undefined;
      }
      return { data: new Float32Array(t.data as Float32Array), dims: [...t.dims] };
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
  }

  /**
   * A session of the vision graph with its backward pass appended (./grad/ortBackward.ts), on
   * the encoders' backend. It holds its own copy of the vision weights (ViT-B/32: ~350 MB); the
   * relevance engine keeps one and releases it with the model.
   */
  private async openBackward(bytes: Uint8Array): Promise<BackwardSession> {
    const m = this.loaded;
    if (!m) throw new Error(formatWorkerError('no-model', 'No model is loaded yet.'));
    const session = await ort.InferenceSession.create(bytes, { executionProviders: [m.info.backend], graphOptimizationLevel: 'all' });
    return {
      run: async (feeds, outputs) => {
        const input = Object.fromEntries(Object.entries(feeds).map(([name, f]) => [name, new ort.Tensor('float32', f.data, [...f.dims])]));
        const out = await session.run(input, [...outputs]);
        try {
          return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, new Float32Array(t.data as Float32Array)]));
        } finally {
          for (const t of Object.values(out)) t.dispose();
        }
      },
      release: () => session.release(),
    };
  }

  private async fallBackToWasm(m: Loaded): Promise<void> {
    for (const which of ['vision', 'text'] as const) {
      const enc = m[which];
      if (!enc.bytes) throw new Error(formatWorkerError('runtime', 'The GPU was lost and the model cannot be reloaded: reload the page.'));
      await enc.session.release().catch(() => undefined);
      m[which] = {
        ...(await createEncoder({
          bytes: enc.bytes, attentions: enc.attentions, blocks: enc.blocks, input: enc.input, embeds: enc.embeds,
          reductions: enc.reductions, plainLength: enc.plainLength,
        }, 'wasm', enc.heads)),
        blocksUnusable: enc.blocksUnusable,
      };
    }
    m.info = { ...m.info, backend: 'wasm' };
  }

  private async pickBackend(): Promise<Backend> {
    if (this.opts.backend !== 'auto') return this.opts.backend;
    try {
      const adapter = await navigator.gpu?.requestAdapter();
      return adapter ? 'webgpu' : 'wasm';
    } catch {
      return 'wasm';
    }
  }

  private async release(): Promise<void> {
    const m = this.loaded;
    this.loaded = null;
    this.relevanceEngine.setModel(null);
    if (!m) return;
    await Promise.all([m.vision.session.release(), m.text.session.release()]).catch(() => undefined);
  }
}

export interface Patched {
  bytes: Uint8Array;
  /**
   * Vision: each layer's head reductions computed in the graph (./onnx/headReduce.ts), appended
   * after everything else, so `bytes.subarray(0, plainLength)` is the model without them.
   */
  reductions?: HeadReductionOutputs[] | undefined;
  plainLength?: number | undefined;
  attentions: string[];
  blocks: BlockInputs | undefined;
  input: string;
  embeds: string;
}

/** The `blocks` field of an EncoderInterface, present only when found. */
function blocksOf(p: Patched): { blocks?: BlockInputs } {
  return p.blocks ? { blocks: p.blocks } : {};
}

/**
 * Finds each layer's attention Softmax and each block's input (the residual stream entering
 * it) and exposes both as graph outputs. Encodings fetch the embedding and the attentions only;
 * relevance fetches one block input (ORT evaluates nodes whatever is fetched, and copies out
 * only what is: an unfetched output costs nothing — measured on ViT-B/32, 552 vs 552 ms).
 */
export function patchEncoder(bytes: Uint8Array, layers: number, which: 'vision' | 'text', heads: number, reduce: boolean): Patched {
  try {
    const summary = summarizeModel(bytes);
    const found = attentionSoftmaxOf(summary);
    if (found.softmaxOutputs.length !== layers) {
      throw new Error(`The ${which} encoder has ${found.softmaxOutputs.length} attention Softmax nodes but config.json says ${layers} layers.`);
    }
    const input = found.inputs[0];
    const embeds = found.outputs[0];
    if (!input || !embeds) throw new Error(`The ${which} encoder has no inputs or outputs.`);
    // Only where starting there changes nothing but float rounding (not for dynamically quantized files).
    const blocks = startsExactly(summary) ? findBlockInputs(summary, found, embeds) : undefined;
    const exposed = new Set([...found.outputs, ...found.softmaxOutputs]);
    const blockOutputs = (blocks?.inputs ?? []).filter((n): n is string => n !== undefined && !exposed.has(n));
    const patched = patchOutputs(bytes, [...found.softmaxOutputs, ...blockOutputs]);
    const common = { attentions: found.softmaxOutputs, blocks, input, embeds };
    if (!reduce) return { bytes: patched, ...common };
    // Image encodings fetch the reductions (B/16: 5.6 MB) instead of the Softmax outputs (22 MB);
    // clicked patches' rows still fetch the latter.
    const reduced = appendHeadReductions(patched, found.softmaxOutputs, heads, defaultOpset(summary.opsetImports));
    return { bytes: reduced.bytes, reductions: reduced.outputs, plainLength: patched.length, ...common };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(formatWorkerError('unsupported-model', msg.replace(/^\[[a-z-]+\] /, '')));
  }
}

async function createEncoder(p: Patched, backend: Backend, heads: number): Promise<Encoder> {
  const create = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { executionProviders: [backend], graphOptimizationLevel: 'all' });
  let session: ort.InferenceSession;
  let used = p;
  try {
    session = await create(p.bytes);
  } catch (e) {
    // The reductions are our addition: if ORT refuses them, the model still works without
    // (the attentions are then reduced in JS).
    if (!p.reductions || p.plainLength === undefined) throw e;
    used = { ...p, bytes: p.bytes.subarray(0, p.plainLength), reductions: undefined };
    session = await create(used.bytes);
  }
  return {
    session, input: used.input, embeds: used.embeds, attentions: used.attentions, blocks: used.blocks, blocksUnusable: false, heads,
    reductions: used.reductions, plainLength: used.plainLength,
    bytes: backend === 'webgpu' ? used.bytes : null,
  };
}

function runtimeError(e: unknown, code: 'runtime' | 'model-format'): Error {
  const msg = e instanceof Error ? e.message : String(e);
  return new Error(formatWorkerError(code, `ONNX Runtime: ${msg}`));
}
