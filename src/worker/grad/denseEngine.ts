/**
 * The worker's side of dense prompt maps (the protocol's `denseMap`): requests, caches, errors.
 * ClearCLIP and MaskCLIP re-run the last block (./dense.ts); patch contributions decompose the
 * embedding over every layer (./contributions.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { formatWorkerError, type DenseMapRequest, type DenseMapResult } from '../../protocol';
import { backendNote, stillOnBackend, tfBackendGeneration } from './backend';
import { UnsupportedModelError } from '../onnx/errors';
import type { ModelSummary } from '../onnx/graph';
import { findContributionGraph, imageContributions, promptContributions, type ContributionGraph, type ImageContributions } from './contributions';
import { DenseGraphError, denseTokenEmbeddings, findDenseGraph, patchSimilarities, type DenseGraph } from './dense';
import type { Pixels, RelevanceEngine, SharedGraphs } from './engine';
import { UnsupportedOpError, type OnnxInterpreter } from './interpreter';
import { LruCache } from './lru';
import { toFloat } from './values';

export interface DenseEngineOptions {
  /** Maps kept (patches × 4 bytes each), keyed by (image pixels, prompt, mode). Default 64. */
  readonly maxResults?: number;
  /** Prompt embeddings kept per model. Default 32. */
  readonly maxPrompts?: number;
  /** Images whose prompt-independent patch contributions are kept. Default 4. */
  readonly maxImages?: number;
}

interface KeptMap {
  readonly imageId: string;
  readonly map: Float32Array;
  readonly grid: { readonly width: number; readonly height: number };
  /** Patch contributions: each layer's share, (layers, patches); `map` is their sum. */
  readonly layerMaps?: Float32Array;
}

/** A result from a kept map, on fresh buffers (the caller may transfer them). */
function resultOf(kept: KeptMap): Omit<DenseMapResult, 'ms' | 'cached'> {
  const out = { imageId: kept.imageId, map: kept.map.slice(), grid: { ...kept.grid } };
  return kept.layerMaps ? { ...out, layerMaps: kept.layerMaps.slice() } : out;
}

/** Column sums of a row-major (rows, width) array. */
function sumRows(rows: Float32Array, width: number): Float32Array {
  const out = new Float32Array(width);
  for (let i = 0; i < rows.length; i++) out[i % width] = (out[i % width] as number) + (rows[i] as number);
  return out;
}

/** A vision graph's structure (or why it cannot be used), found once per graph and kept in `cache`. */
function structureOf<T>(
  cache: WeakMap<ModelSummary, T | Error>,
  graphs: SharedGraphs,
  find: (model: ModelSummary, name: string, output?: string) => T,
): T {
  let found = cache.get(graphs.visionSummary);
  if (found === undefined) {
    try {
      found = find(graphs.visionSummary, graphs.vision.interpreter.name, graphs.vision.output);
    } catch (e) {
      found = e instanceof Error ? e : new Error(String(e));
    }
    cache.set(graphs.visionSummary, found);
  }
  if (found instanceof Error) throw found;
  return found;
}

/** Lets queued messages (a cancel) run before the synchronous pass. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Answers `denseMap` requests on the graphs and pixels the {@link RelevanceEngine} keeps
 * (nothing is parsed or kept twice). Results are cached per (pixels, prompt, mode): a new
 * encode of the image or another model gives new pixels, so stale maps are never returned.
 */
export class DenseEngine {
  private readonly results: LruCache<string, KeptMap>;
  private readonly maxPrompts: number;
  /** A number per kept-pixels object: cache keys follow the pixels, not the image id. */
  private readonly pixelIds = new WeakMap<Pixels, number>();
  private nextPixelId = 1;
  /** Structure per vision graph (or why it cannot be used), found once per kind of map. */
  private readonly structure = new WeakMap<ModelSummary, DenseGraph | Error>();
  private readonly layers = new WeakMap<ModelSummary, ContributionGraph | Error>();
  /**
   * Patch contributions' per-image part, per vision interpreter and pixels (layers·seq·D floats:
   * 7.3 MB for a ViT-B/16 image): another prompt on a kept image costs only the head.
   */
  private readonly images = new WeakMap<OnnxInterpreter, LruCache<number, ImageContributions>>();
  private readonly maxImages: number;
  /** Prompt embeddings per text interpreter, by token ids. */
  private readonly prompts = new WeakMap<OnnxInterpreter, LruCache<string, Float32Array>>();

  constructor(
    private readonly engine: RelevanceEngine,
    options: DenseEngineOptions = {},
  ) {
    this.results = new LruCache(options.maxResults ?? 64);
    this.maxPrompts = options.maxPrompts ?? 32;
    this.maxImages = options.maxImages ?? 4;
  }

  /**
   * Answers one request. `checkpoint` throws to cancel; it is called before the pass.
   * Errors carry the worker's `[code] message` format.
   */
  async compute(req: DenseMapRequest, checkpoint: () => void): Promise<DenseMapResult> {
    checkRequest(req);
    const pixels = this.engine.requirePixels(req.imageId, 'the dense map');
    const key = `${this.pixelId(pixels)}|${req.mode}|${req.promptIds.join(',')}`;
    const hit = this.results.get(key);
    if (hit) return { ...resultOf({ ...hit, imageId: req.imageId }), ms: 0, cached: true };

    const t0 = performance.now();
    const generation = tfBackendGeneration();
    return this.engine.withGraphs(async (graphs) => {
      try {
        const grid = gridOf(pixels, graphs.patchSize);
        const patches = grid.width * grid.height;
        const tokensFit = (seq: number) => {
          if (seq !== 1 + patches) {
            throw new Error(`the vision graph has ${seq} tokens but a ${grid.width}×${grid.height} patch grid needs ${1 + patches}: is patch_size in config.json right?`);
          }
        };
        const mode = req.mode;
        const graph = mode === 'contributions' ? this.layersOf(graphs) : this.graphOf(graphs);
        const text = this.promptEmbedding(graphs, req.promptIds);
        await yieldToEvents();
        checkpoint();
        let kept: KeptMap;
        if (mode === 'contributions') {
          const layers = graph as ContributionGraph;
          const image = this.imageContributions(graphs.vision.interpreter, layers, pixels);
          tokensFit(image.seq);
          const rows = promptContributions(graphs.vision.interpreter, layers, image, text);
          kept = { imageId: req.imageId, map: sumRows(rows, patches), grid, layerMaps: rows };
        } else {
          const last = graph as DenseGraph;
          const mapTensor = tf.tidy(() => {
            const tokens = denseTokenEmbeddings(graphs.vision.interpreter, last, pixels, {
              attention: mode, lastBlockInput: this.engine.keptBlockInput(req.imageId, last.layer),
            });
            tokensFit(tokens.shape[0]);
            return patchSimilarities(tokens, tf.tensor(text));
          });
          try {
            kept = { imageId: req.imageId, map: (await mapTensor.data()) as Float32Array, grid };
          } finally {
            mapTensor.dispose();
          }
        }
        if (stillOnBackend(generation)) this.results.set(key, kept); // not from a lost GPU: it is run again
        return { ...resultOf(kept), ...backendNote(), ms: performance.now() - t0, cached: false };
      } catch (e) {
        throw asWorkerError(e);
      }
    });
  }

  private pixelId(pixels: Pixels): number {
    let id = this.pixelIds.get(pixels);
    if (id === undefined) {
      id = this.nextPixelId++;
      this.pixelIds.set(pixels, id);
    }
    return id;
  }

  /** The prompt-independent part of patch contributions, kept for the last few images. */
  private imageContributions(interpreter: OnnxInterpreter, graph: ContributionGraph, pixels: Pixels): ImageContributions {
    let cache = this.images.get(interpreter);
    if (!cache) this.images.set(interpreter, (cache = new LruCache(this.maxImages)));
    const key = this.pixelId(pixels);
    let kept = cache.get(key);
    if (!kept) {
      kept = imageContributions(interpreter, graph, pixels);
      cache.set(key, kept);
    }
    return kept;
  }

  private layersOf(graphs: SharedGraphs): ContributionGraph {
    return structureOf(this.layers, graphs, findContributionGraph);
  }

  private graphOf(graphs: SharedGraphs): DenseGraph {
    return structureOf(this.structure, graphs, findDenseGraph);
  }

  /** The prompt's `text_embeds` `(P,)`, from the text interpreter (cached per model). */
  private promptEmbedding(graphs: SharedGraphs, ids: readonly number[]): Float32Array {
    const text = graphs.text;
    let cache = this.prompts.get(text.interpreter);
    if (!cache) this.prompts.set(text.interpreter, (cache = new LruCache(this.maxPrompts)));
    const key = ids.join(',');
    const hit = cache.get(key);
    if (hit) return hit;
    const embeds = tf.tidy(() => {
      const out = text.interpreter.run({ [text.input]: { kind: 'int', data: ids, dims: [1, ids.length] } }, { outputs: [text.output] }).get(text.output);
      if (!out) throw new Error(`${text.interpreter.name}: no ${text.output}`);
      // One read-back of P numbers per new prompt; the vision pass below dominates.
      return Float32Array.from(toFloat(out).dataSync());
    });
    cache.set(key, embeds);
    return embeds;
  }
}

function gridOf(pixels: Pixels, patchSize: number): { width: number; height: number } {
  return { width: Math.floor((pixels.dims[3] ?? 0) / patchSize), height: Math.floor((pixels.dims[2] ?? 0) / patchSize) };
}

function checkRequest(req: DenseMapRequest): void {
  const bad = (msg: string) => new Error(formatWorkerError('runtime', msg));
  if (!Array.isArray(req.promptIds) || req.promptIds.length < 2 || !req.promptIds.every((i) => Number.isInteger(i) && i >= 0)) {
    throw bad('promptIds must be the token ids of one prompt, start and end-of-text tokens included.');
  }
  if (req.mode !== 'clearclip' && req.mode !== 'maskclip' && req.mode !== 'contributions') {
    throw bad(`Unknown dense map mode ${JSON.stringify(req.mode)}: use 'clearclip', 'maskclip' or 'contributions'.`);
  }
}

function asWorkerError(e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  if (/^\[[a-z-]+\] /.test(msg)) return e instanceof Error ? e : new Error(msg);
  if (e instanceof DenseGraphError || e instanceof UnsupportedModelError || e instanceof UnsupportedOpError) {
    return new Error(formatWorkerError('unsupported-model', msg));
  }
  return new Error(formatWorkerError('runtime', `Dense map failed: ${msg}`));
}
