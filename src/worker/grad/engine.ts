/**
 * Gradient relevance in the worker: keeps what it needs between requests and answers
 * `relevance` requests (see the protocol's `RelevanceRequest`).
 *
 * Kept state and memory (per loaded model):
 * - **pixels**: each encoded image's preprocessed `pixel_values`, keyed by imageId, LRU of
 *   {@link EngineOptions.maxImages} (default 64). 3·S²·4 bytes each: 49 KB at 64 px (bundled
 *   model), 602 KB at 224 px → ~39 MB for 64 images. Cleared when the model changes (pixels
 *   depend on its preprocessor).
 * - **graphs**: both encoders as tfjs graphs, built on the first relevance request (the ONNX
 *   bytes are read again from the model source — the Cache Storage or the picked files — and
 *   dropped after the build). The weights then live on the tfjs backend as float32: ~4 bytes per
 *   parameter (ViT-B/32: ~350 MB), whatever the file's precision. Disposed on model change.
 *   The same graphs (and the vision file's node list, walked at build) serve the gradient-free
 *   dense maps of ./dense.ts through {@link RelevanceEngine.withGraphs}.
 * - **results**: the small outputs (maps, head importance, score) of the last
 *   {@link EngineOptions.maxResults} requests (default 64), keyed by (image, prompt ids, start
 *   layers); a repeated request is answered from here without running anything. Requests with
 *   `includeGradients` are not cached (tens of MB for big models): the main thread keeps those.
 * - **block inputs**: the residual stream entering the start block, computed by ONNX Runtime
 *   ({@link RelevanceModel.blockInput}), per (image or prompt, block); LRU of
 *   {@link EngineOptions.maxBlockInputs} (default 32). seq·D·4 bytes each: 154 KB for a
 *   ViT-B/32 image, 605 KB for B/16, ≤ 158 KB for a prompt → ≤ 20 MB. Another prompt on the same
 *   image (or the same prompt on another image) then skips that ONNX Runtime run.
 * - **encoded block inputs**: the last block's input of every image and prompt encoding (the
 *   runtime fetches it with the attentions, {@link RelevanceEngine.rememberBlockInput}), for
 *   relevance from the last layer (the default) and dense maps; LRU of 2 × `maxImages` (128)
 *   entries, so it covers every kept image: ≤ 64 × 605 KB + 64 × 158 KB ≈ 49 MB for B/16.
 * - **backward graph**: for all-layer requests, the vision graph with its backward pass appended
 *   (./ortBackward.ts) and its ONNX Runtime session, for the last input size asked for; the
 *   session holds its own copy of the vision weights (ViT-B/32: ~350 MB). Released on model change.
 *
 * Where the interpreted pass starts (./gradients.ts): with a start layer > 0, the blocks below it
 * need no gradient, so ONNX Runtime computes their output (one run of the whole encoder: ORT
 * evaluates every node whatever is fetched, still 2–3× faster than interpreting the encoder in
 * tfjs) and tfjs evaluates and differentiates only the rest. Worth it when the start layer skips
 * enough blocks ({@link EngineOptions.blockInputs}) or the tensor is kept.
 */
import { formatWorkerError, type AttentionTensor, type RelevanceProgress, type RelevanceRequest, type RelevanceResult } from '../../protocol';
import { headImportance, imageRelevance, textRelevance } from '../../explain/relevance';
import type { GradientStack } from '../../explain/method';
import type { AttentionStack } from '../../explain/types';
import { backendNote, initTfBackend, runSurvivingGpuLoss, stillOnBackend, tfBackendGeneration, tfThreads, type TfBackend } from './backend';
import * as tf from '@tensorflow/tfjs-core';
import { clipGradients, type BlockTensor, type EncoderGradients, type EncoderSpec, type ExternalGradients, type GradientStage } from './gradients';
import { OnnxInterpreter, UnsupportedOpError } from './interpreter';
import { parseModel } from './onnxModel';
import { appendBackward, backwardPath, BackwardUnsupportedError, type BackwardGraph } from './ortBackward';
import { shapeOf } from './values';
import { LruCache } from './lru';
import { summarizeModel, type ModelSummary } from '../onnx/graph';
import type { BlockInputs } from '../onnx/structure';

/** What the engine needs to know of the loaded model. */
export interface RelevanceModel {
  /** Reads one encoder's ONNX file (the stock bytes, not the ORT-patched ones). */
  readonly readBytes: (which: 'vision' | 'text') => Promise<Uint8Array>;
  /** File names for messages, e.g. `onnx/vision_model_fp16.onnx`. */
  readonly files: { readonly vision: string; readonly text: string };
  readonly vision: EncoderInterface;
  readonly text: EncoderInterface;
  /** exp(logit_scale): see src/model/config.ts. */
  readonly logitScale: number;
  /** Vision patch size in pixels (the grid is the input size / patch size). */
  readonly patchSize: number;
  /**
   * Computes an internal tensor of one encoder with ONNX Runtime: the residual stream entering a
   * block, named as in the encoder's {@link EncoderInterface.blocks} (the ORT graph must expose
   * it as an output). Resolves undefined when it cannot give it as float32 (e.g. a float16 file,
   * whose rounding would change the result): relevance then interprets from the graph input.
   * Absent: always interpret from the graph input.
   */
  readonly blockInput?: (which: 'vision' | 'text', input: EncoderRunInput, tensor: string) => Promise<BlockTensor | undefined>;
  /**
   * Opens an ONNX Runtime session of the vision graph with its backward pass appended
   * (./ortBackward.ts), on the loaded model's backend. Absent: tfjs differentiates the vision
   * encoder.
   */
  readonly openBackward?: (bytes: Uint8Array) => Promise<BackwardSession>;
}

/** An ONNX Runtime session of a backward graph. */
export interface BackwardSession {
  /** Runs it with float32 feeds; resolves the fetched outputs as float32 copies. */
  run(feeds: Readonly<Record<string, Pixels>>, outputs: readonly string[]): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** What one encoder run gets: an image's pixels or a prompt's token ids. */
export type EncoderRunInput =
  | { readonly kind: 'pixels'; readonly data: Float32Array; readonly dims: readonly number[] }
  | { readonly kind: 'ids'; readonly ids: readonly number[] };

export interface EncoderInterface {
  readonly input: string;
  readonly output: string;
  /** Softmax outputs per layer, from ../onnx/attention.ts. */
  readonly attention: readonly string[];
  readonly heads: number;
  /** The residual stream entering each block, from ../onnx/structure.ts (for {@link RelevanceModel.blockInput}). */
  readonly blocks?: BlockInputs;
}

export interface EngineOptions {
  readonly maxImages?: number;
  readonly maxResults?: number;
  /** Block inputs kept (see the module comment); default 32. */
  readonly maxBlockInputs?: number;
  /**
   * When to start the interpreted pass at the start block with {@link RelevanceModel.blockInput}:
   * - `'auto'` (default): when the tensor is kept, or when the start layer skips at least a third
   *   of the blocks. One ONNX Runtime run of the encoder costs about as much as interpreting
   *   ~3–5 of ViT-B/32's 12 blocks forward in tfjs (WASM, one thread; ORT with 2 or 1 threads).
   * - `'always'`: whenever the model offers it (any start layer, 0 included); `'never'`: never.
   */
  readonly blockInputs?: 'auto' | 'always' | 'never';
  /** tfjs backends to try, in order; default all (see ./backend.ts). */
  readonly backends?: readonly TfBackend[];
  /**
   * When ONNX Runtime differentiates the vision encoder ({@link RelevanceModel.openBackward}):
   * `'auto'` (default) when the pass would otherwise start at the graph input or low in the
   * encoder (start layer below a third of the blocks, e.g. "all layers"), `'never'`: tfjs always.
   */
  readonly ortBackward?: 'auto' | 'never';
}

/** The vision backward graph for one input size, and its session; undefined when unavailable. */
interface Backward {
  readonly key: string;
  readonly ready: Promise<{ graph: BackwardGraph; session: BackwardSession } | undefined>;
}

/** A kept block input: the tensor's name in the graph, its value, and whether a pass from it also reads the graph input. */
export interface KeptBlockInput {
  readonly name: string;
  readonly tensor: BlockTensor;
  readonly readsInput: boolean;
}

/** One image's kept `pixel_values`, as given to ORT. */
export interface Pixels {
  readonly data: Float32Array;
  /** (1, 3, H, W) */
  readonly dims: readonly number[];
}

type SmallResult = Omit<RelevanceResult, 'gradients'>;

interface Graphs {
  readonly vision: EncoderSpec;
  readonly text: EncoderSpec;
  readonly backend: TfBackend;
  /** The vision file's node list (no weights), for structural searches (./dense.ts). */
  readonly visionSummary: ModelSummary;
}

/**
 * What gradient-free methods (./dense.ts) borrow from the engine through
 * {@link RelevanceEngine.withGraphs}: the interpreters relevance uses, built once per model, so
 * no file is parsed twice.
 */
export interface SharedGraphs {
  readonly vision: EncoderSpec;
  readonly text: EncoderSpec;
  readonly backend: TfBackend;
  /** The vision file's node list (no weights), walked when the graphs were built. */
  readonly visionSummary: ModelSummary;
  /** Vision patch size in pixels. */
  readonly patchSize: number;
}

export class RelevanceEngine {
  private model: RelevanceModel | null = null;
  private graphs: Promise<Graphs> | null = null;
  /** The tfjs backend generation the graphs were built in: a lost GPU's graphs are rebuilt. */
  private graphsGeneration = -1;
  private readonly pixels: LruCache<string, Pixels>;
  private readonly results: LruCache<string, SmallResult>;
  /** ORT-computed block inputs, keyed by {@link blockKey}. */
  private readonly blockInputs: LruCache<string, BlockTensor>;
  /** Last-block inputs handed over by the encodings, keyed by {@link blockKey}. */
  private readonly encodedBlocks: LruCache<string, BlockTensor>;
  private readonly blockPolicy: NonNullable<EngineOptions['blockInputs']>;
  private readonly backends: readonly TfBackend[] | undefined;
  private readonly backwardPolicy: NonNullable<EngineOptions['ortBackward']>;
  private backward: Backward | null = null;
  /** The request being computed: graphs of a replaced model are freed only after it ends. */
  private running: Promise<unknown> = Promise.resolve();

  constructor(options: EngineOptions = {}) {
    this.pixels = new LruCache(options.maxImages ?? 64);
    this.results = new LruCache(options.maxResults ?? 64);
    this.blockInputs = new LruCache(options.maxBlockInputs ?? 32);
    this.encodedBlocks = new LruCache(2 * (options.maxImages ?? 64));
    this.blockPolicy = options.blockInputs ?? 'auto';
    this.backends = options.backends;
    this.backwardPolicy = options.ortBackward ?? 'auto';
  }

  /** Switches to another model (or none): frees the graphs and forgets pixels and results. */
  setModel(model: RelevanceModel | null): void {
    const old = this.graphs;
    this.graphs = null;
    this.model = model;
    this.pixels.clear();
    this.results.clear();
    this.blockInputs.clear();
    this.encodedBlocks.clear();
    this.releaseBackward();
    // Free the old graphs once their build and any request using them have finished.
    if (old) {
      const busy = this.running;
      void old.then(async (g) => {
        await busy.catch(() => undefined);
        disposeGraphs(g);
      }, () => undefined);
    }
  }

  /** Keeps an image's preprocessed pixels (as given to ORT) for later relevance requests. */
  rememberPixels(imageId: string, data: Float32Array, dims: readonly number[]): void {
    this.results.deleteWhere((key) => key.startsWith(`${JSON.stringify(imageId)}|`));
    this.blockInputs.deleteWhere((key) => key.startsWith(blockKey('vision', JSON.stringify(imageId), '')));
    this.encodedBlocks.deleteWhere((key) => key.startsWith(blockKey('vision', JSON.stringify(imageId), '')));
    this.pixels.set(imageId, { data, dims: [...dims] });
  }

  /**
   * Keeps the residual stream entering vision block `layer` of an image, fetched by the image's
   * own encoding beside its attentions: relevance from that block, and dense maps, then need no
   * ONNX Runtime run of their own. Call after {@link rememberPixels}, which forgets them.
   */
  rememberBlockInput(imageId: string, layer: number, tensor: BlockTensor): void {
    this.encodedBlocks.set(blockKey('vision', JSON.stringify(imageId), `${layer}`), tensor);
  }

  /** The same for a prompt's text encoding (the prompt given by its token ids). */
  rememberPromptBlockInput(promptIds: readonly number[], layer: number, tensor: BlockTensor): void {
    this.encodedBlocks.set(blockKey('text', promptIds.join(','), `${layer}`), tensor);
  }

  private keptBlock(key: string): BlockTensor | undefined {
    return this.encodedBlocks.get(key) ?? this.blockInputs.get(key);
  }

  /** The kept residual stream entering vision block `layer` of an image, with its tensor name. */
  keptBlockInput(imageId: string, layer: number): KeptBlockInput | undefined {
    const blocks = this.model?.vision.blocks;
    const name = blocks?.inputs[layer];
    const tensor = this.keptBlock(blockKey('vision', JSON.stringify(imageId), `${layer}`));
    return blocks && name && tensor ? { name, tensor, readsInput: blocks.readsInput[layer] ?? true } : undefined;
  }

  /**
   * The kept pixels of an image, or the `unknown-image` error saying what to do (`what`: the
   * result asked for). The same object is returned until the image is encoded again or the model
   * changes, so callers may key caches on its identity.
   */
  requirePixels(imageId: string, what: string): Pixels {
    const pixels = this.pixels.get(imageId);
    if (!pixels) {
      throw new Error(formatWorkerError(
        'unknown-image',
        `The image "${imageId}" is not in the worker's cache (it keeps the last ${this.pixels.capacity} encoded ` +
          `images): encode it again, then ask for ${what}.`,
      ));
    }
    return pixels;
  }

  /**
   * Runs `job` with the loaded model's graphs (built on first use and shared with relevance).
   * Like {@link compute}, a model change frees the old graphs only after the job has finished.
   *
   * @throws `[no-model]` when no model is loaded; build errors as for relevance.
   */
  withGraphs<T>(job: (graphs: SharedGraphs) => Promise<T>): Promise<T> {
    const model = this.model;
    if (!model) return Promise.reject(new Error(formatWorkerError('no-model', 'No model is loaded yet.')));
    const run = runSurvivingGpuLoss(() => this.graphsFor(model).then((g) =>
      job({ vision: g.vision, text: g.text, backend: g.backend, visionSummary: g.visionSummary, patchSize: model.patchSize })));
    this.running = run.catch(() => undefined);
    return run;
  }

  /**
   * Answers a relevance request. `checkpoint` is called between steps and throws to cancel.
   * Errors carry the worker's `[code] message` format.
   */
  compute(req: RelevanceRequest, checkpoint: () => void, onProgress?: (p: RelevanceProgress) => void): Promise<RelevanceResult> {
    const job = runSurvivingGpuLoss(() => this.computeNow(req, checkpoint, onProgress));
    this.running = job.catch(() => undefined);
    return job;
  }

  private async computeNow(
    req: RelevanceRequest,
    checkpoint: () => void,
    onProgress?: (p: RelevanceProgress) => void,
  ): Promise<RelevanceResult> {
    const model = this.model;
    if (!model) throw new Error(formatWorkerError('no-model', 'No model is loaded yet.'));
    checkRequest(req, model);
    const key = `${JSON.stringify(req.imageId)}|${req.promptIds.join(',')}|${req.startLayerImage}|${req.startLayerText}`;
    const progress = (stage: RelevanceProgress['stage'], step: number) =>
      onProgress?.({ requestId: req.requestId, stage, step, steps: 4 });
    if (!req.includeGradients) {
      const hit = this.results.get(key);
      if (hit) {
        progress('done', 4);
        return copyResult({ ...hit, cached: true, ms: 0 });
      }
    }
    const pixels = this.requirePixels(req.imageId, 'relevance');
    const generation = tfBackendGeneration();
    const t0 = performance.now();
    progress('prepare', 0);
    const graphs = await this.graphsFor(model);
    checkpoint();
    const steps: Record<GradientStage | 'start', number> = { start: 0, 'text-forward': 1, vision: 2, text: 3 };
    let grads;
    try {
      grads = await clipGradients(graphs.vision, graphs.text, pixels, req.promptIds, {
        // With includeGradients the main thread may pick any start layer later: differentiate all.
        fromLayerVision: req.includeGradients ? 0 : req.startLayerImage,
        fromLayerText: req.includeGradients ? 0 : req.startLayerText,
        logitScale: model.logitScale,
        checkpoint: (done) => {
          checkpoint();
          if (done !== 'start') progress(done, steps[done]);
        },
        blockInput: (which, layer) => this.blockInput(model, graphs[which], which, layer, which === 'vision'
          ? { key: JSON.stringify(req.imageId), input: { kind: 'pixels', data: pixels.data, dims: pixels.dims } }
          : { key: req.promptIds.join(','), input: { kind: 'ids', ids: req.promptIds } }, checkpoint),
        visionGradients: (textEmbeds, from) => this.ortVision(model, graphs.vision, pixels, textEmbeds, from),
      });
    } catch (e) {
      throw asWorkerError(e);
    }
    const grid = { width: Math.floor((pixels.dims[3] ?? 0) / model.patchSize), height: Math.floor((pixels.dims[2] ?? 0) / model.patchSize) };
    const v = stacks(grads.vision);
    const t = stacks(grads.text);
    const small: SmallResult = {
      imageId: req.imageId,
      imageMap: imageRelevance(v.attention, v.gradient, grid, req.startLayerImage).values,
      grid,
      textMap: textRelevance(t.attention, t.gradient, req.startLayerText),
      headImportance: headImportance(v.attention, v.gradient),
      textHeadImportance: headImportance(t.attention, t.gradient),
      score: grads.score,
      backend: graphs.backend,
      ...backendNote(),
      threads: tfThreads(),
      visionBy: grads.visionBy,
      ms: performance.now() - t0,
      cached: false,
    };
    progress('done', 4);
    if (!req.includeGradients) {
      // Not if the model changed meanwhile, nor if the GPU was lost (the result may be wrong; it is run again).
      if (this.model === model && stillOnBackend(generation)) this.results.set(key, small);
      return copyResult(small);
    }
    return { ...small, gradients: { vision: tensorOf(grads.vision), text: tensorOf(grads.text) } };
  }

  /**
   * The residual stream entering block `layer` from ONNX Runtime, when the policy says it is
   * worth a run (or it is kept); undefined to interpret from the graph input.
   */
  private async blockInput(
    model: RelevanceModel,
    enc: EncoderSpec,
    which: 'vision' | 'text',
    layer: number,
    of: { key: string; input: EncoderRunInput },
    checkpoint: () => void,
  ): Promise<BlockTensor | undefined> {
    const name = enc.blocks?.inputs[layer];
    if (!model.blockInput || !name || this.blockPolicy === 'never') return undefined;
    const key = blockKey(which, of.key, `${layer}`);
    const kept = this.keptBlock(key);
    if (kept) return kept;
    if (this.blockPolicy === 'auto' && startsLow(layer, enc.attention.length)) return undefined;
    const tensor = await model.blockInput(which, of.input, name);
    // Kept even if the request is being cancelled: the next one may use it.
    if (tensor && this.model === model) this.blockInputs.set(key, tensor);
    checkpoint();
    return tensor;
  }

  /**
   * The vision encoder's A and ∂score/∂A for every layer from ONNX Runtime (./ortBackward.ts),
   * when the policy wants it and the model allows it; undefined for the tfjs pass. Any failure
   * (an operator without a backward rule, a float16 file, ORT refusing the graph) turns the ORT
   * path off for this model and input size: relevance then works as before.
   */
  private async ortVision(model: RelevanceModel, enc: EncoderSpec, pixels: Pixels, textEmbeds: Float32Array, from: number): Promise<ExternalGradients | undefined> {
    if (!model.openBackward || this.backwardPolicy === 'never') return undefined;
    if (!startsLow(from, enc.attention.length)) return undefined; // a late start: the block-input pass is cheaper
    const backward = await this.backwardFor(model, enc, pixels);
    if (!backward) return undefined;
    const { graph, session } = backward;
    const norm = Math.hypot(...textEmbeds);
    const seed = textEmbeds.map((x) => (x / norm) * model.logitScale);
    try {
      const out = await session.run(
        { [enc.input]: pixels, [graph.seed]: { data: seed, dims: [1, seed.length] } },
        [...graph.attention, ...graph.gradients, enc.output, graph.score],
      );
      const get = (name: string) => {
        const v = out[name];
        if (!v) throw new Error(`the backward graph gave no ${name}`);
        return v;
      };
      return {
        attentions: graph.attention.map(get),
        gradients: graph.gradients.map(get),
        embeds: get(enc.output),
        score: get(graph.score)[0] as number,
      };
    } catch (e) {
      console.warn(`${model.files.vision}: ONNX Runtime's backward pass failed, tfjs differentiates instead:`, e);
      this.releaseBackward();
      this.backward = { key: pixels.dims.join('x'), ready: Promise.resolve(undefined) };
      return undefined;
    }
  }

  /** The backward graph and session for this input size (one kept; built on first use). */
  private backwardFor(model: RelevanceModel, enc: EncoderSpec, pixels: Pixels): Backward['ready'] {
    const key = pixels.dims.join('x');
    if (this.backward?.key === key) return this.backward.ready;
    this.releaseBackward();
    const open = model.openBackward;
    const ready = (async () => {
      if (!open) return undefined;
      try {
        const bytes = await model.readBytes('vision');
        const parsed = parseModel(bytes, model.files.vision);
        const path = backwardPath(parsed, enc.attention, enc.output);
        // Static shapes for this input size, from one interpreted forward pass.
        const shapes = new Map<string, number[]>();
        tf.tidy(() => {
          const values = enc.interpreter.run({ [enc.input]: { kind: 'float', data: pixels.data, dims: pixels.dims } }, { outputs: path.tensors });
          for (const [name, v] of values) shapes.set(name, shapeOf(v));
        });
        const graph = appendBackward(bytes, parsed, path, enc.attention, enc.output, shapes);
        return { graph, session: await open(graph.bytes) };
      } catch (e) {
        if (!(e instanceof BackwardUnsupportedError)) console.warn(`${model.files.vision}: no ONNX Runtime backward pass, tfjs differentiates:`, e);
        return undefined;
      }
    })();
    this.backward = { key, ready };
    return ready;
  }

  private releaseBackward(): void {
    const old = this.backward;
    this.backward = null;
    if (old) {
      const busy = this.running;
      void old.ready.then(async (b) => {
        await busy.catch(() => undefined);
        await b?.session.release();
      }, () => undefined);
    }
  }

  /** Builds (once per model) both encoders' tfjs graphs. */
  private graphsFor(model: RelevanceModel): Promise<Graphs> {
    // Built on a backend whose GPU was lost: their tensors went with it (nothing to dispose).
    if (this.graphs && this.graphsGeneration !== tfBackendGeneration()) this.graphs = null;
    if (!this.graphs) {
      this.graphsGeneration = tfBackendGeneration();
      const build = (async (): Promise<Graphs> => {
        const backend = await initTfBackend(this.backends);
        const [visionBytes, textBytes] = await Promise.all([model.readBytes('vision'), model.readBytes('text')]);
        const load = (bytes: Uint8Array, file: string) => {
          try {
            return OnnxInterpreter.load(bytes, { name: file });
          } catch (e) {
            throw asWorkerError(e);
          }
        };
        const vision = load(visionBytes, model.files.vision);
        let visionSummary: ModelSummary;
        try {
          visionSummary = summarizeModel(visionBytes); // node list only: milliseconds, no weights
        } catch (e) {
          vision.dispose();
          throw asWorkerError(e);
        }
        let text: OnnxInterpreter;
        try {
          text = load(textBytes, model.files.text);
        } catch (e) {
          vision.dispose();
          throw e;
        }
        return {
          backend,
          visionSummary,
          vision: { interpreter: vision, ...model.vision },
          text: { interpreter: text, ...model.text },
        };
      })();
      this.graphs = build;
      // A failed build is not cached: the next request tries again (e.g. after a network error).
      build.catch(() => {
        if (this.graphs === build) this.graphs = null;
      });
    }
    return this.graphs;
  }
}

/**
 * Whether a pass from block `layer` skips less than a third of the encoder's blocks: then an ORT
 * run for the block input does not pay (one run ≈ interpreting 3–5 of ViT-B's 12 blocks), and
 * ONNX Runtime's backward graph is the faster way to differentiate the image encoder.
 */
function startsLow(layer: number, layers: number): boolean {
  return layer * 3 < layers;
}

/** Key of a kept block input; `of` is the JSON image id or the prompt's ids. */
function blockKey(which: 'vision' | 'text', of: string, layer: string): string {
  return `${which}|${of}|${layer}`;
}

function disposeGraphs(g: Graphs): void {
  g.vision.interpreter.dispose();
  g.text.interpreter.dispose();
}

function checkRequest(req: RelevanceRequest, model: RelevanceModel): void {
  const bad = (msg: string) => new Error(formatWorkerError('runtime', msg));
  if (!Array.isArray(req.promptIds) || req.promptIds.length < 2 || !req.promptIds.every((i) => Number.isInteger(i) && i >= 0)) {
    throw bad('promptIds must be the token ids of one prompt, start and end-of-text tokens included.');
  }
  for (const [what, layer, layers] of [
    ['startLayerImage', req.startLayerImage, model.vision.attention.length],
    ['startLayerText', req.startLayerText, model.text.attention.length],
  ] as const) {
    if (!Number.isInteger(layer) || layer < -layers || layer >= layers) {
      throw bad(`${what} ${layer} is out of range: the encoder has ${layers} layers (use 0..${layers - 1}, or -1 for the last).`);
    }
  }
}

function asWorkerError(e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  if (/^\[[a-z-]+\] /.test(msg)) return e instanceof Error ? e : new Error(msg);
  if (e instanceof UnsupportedOpError) return new Error(formatWorkerError('unsupported-model', msg));
  return new Error(formatWorkerError('runtime', `Gradient relevance failed: ${msg}`));
}

function stacks(g: EncoderGradients): { attention: AttentionStack; gradient: GradientStack } {
  const { layers, heads, seq } = g;
  return { attention: { layers, heads, seq, data: g.attentions }, gradient: { layers, heads, seq, data: g.gradients } };
}

function tensorOf(g: EncoderGradients): AttentionTensor {
  return { layers: g.layers, heads: g.heads, seq: g.seq, data: g.gradients };
}

/** Fresh buffers: results are transferred to the main thread, which detaches them. */
function copyResult(r: SmallResult): RelevanceResult {
  return {
    ...r,
    imageMap: r.imageMap.slice(),
    textMap: r.textMap.slice(),
    headImportance: r.headImportance.slice(),
    textHeadImportance: r.textHeadImportance.slice(),
  };
}
