/**
 * Which PatchMap (and token weights) the current view shows, computed from cached tensors by the
 * pure methods in explain/. Cheap: nothing here runs a model.
 */
import { rowMap, textRow } from '../explain/attention';
import { differenceMap } from '../explain/difference';
import { rolloutMap } from '../explain/rollout';
import type { Grid, PatchMap, ReducedAttention, TokenRows } from '../explain/types';
import type { ImageResult, RelevanceResult } from '../protocol';
import type { PromptResult } from '../state/results';
import type { ColormapId } from '../render/colormap';
import type { PromptEntry, PromptMapMethod } from '../state/store';
import { queryRowsFor } from './queryRows';
import { denseMapFor, relevanceFor, type RelevanceKey } from './relevance';
import { resolvedHeads, resolvedLayer, type ViewOptions } from '../state/store';

export interface MethodChoice {
  id: string;
  label: string;
}

export const IMAGE_METHODS: MethodChoice[] = [
  { id: 'attention', label: 'Raw attention (one layer)' },
  { id: 'rollout', label: 'Attention rollout (all layers)' },
  { id: 'relevance', label: 'Gradient relevance (prompt)' },
  { id: 'clearclip', label: 'Dense prompt map: ClearCLIP' },
  { id: 'maskclip', label: 'Dense prompt map: MaskCLIP' },
  { id: 'contributions', label: 'Dense prompt map: patch contributions' },
  { id: 'difference', label: 'Prompt difference (A − B)' },
];

/** The maps a prompt difference can subtract. */
export const DIFFERENCE_BASES: readonly { id: PromptMapMethod; label: string }[] = [
  { id: 'relevance', label: 'Gradient relevance' },
  { id: 'clearclip', label: 'Dense map: ClearCLIP' },
  { id: 'maskclip', label: 'Dense map: MaskCLIP' },
  { id: 'contributions', label: 'Dense map: patch contributions' },
];

/** Whether the method's map depends on the selected prompt. */
export function isPromptMethod(method: string): boolean {
  return isPromptMapMethod(method) || method === 'difference';
}

/** Whether the method's map is signed (shown on a symmetric range with a diverging colormap). */
export function isSignedMethod(method: string): boolean {
  return method === 'difference';
}

function isPromptMapMethod(method: string): method is PromptMapMethod {
  return method === 'relevance' || method === 'clearclip' || method === 'maskclip' || method === 'contributions';
}

/** The menu label of a method id (the id itself when unknown). */
export function methodLabel(method: string): string {
  return IMAGE_METHODS.find((m) => m.id === method)?.label ?? method;
}

/** The colormap the view paints a map with: the diverging one for signed maps. */
export function colormapFor(view: Pick<ViewOptions, 'colormap' | 'divergingColormap'>, signed: boolean): ColormapId {
  return signed ? view.divergingColormap : view.colormap;
}

const usable = (p: PromptEntry | undefined): p is PromptEntry => p !== undefined && p.text.trim() !== '';

/** Prompt A: the selected prompt, when it has text. */
export function promptA(view: Pick<ViewOptions, 'promptId'>, prompts: readonly PromptEntry[]): PromptEntry | null {
  const a = prompts.find((p) => p.id === view.promptId);
  return usable(a) ? a : null;
}

/** Prompt B of the difference: the chosen one, else the first other prompt with text. */
export function promptB(view: Pick<ViewOptions, 'promptId' | 'promptBId'>, prompts: readonly PromptEntry[]): PromptEntry | null {
  const chosen = prompts.find((p) => p.id === view.promptBId);
  if (usable(chosen)) return chosen;
  return prompts.find((p) => p.id !== view.promptId && usable(p)) ?? null;
}

/** What an image shows under the current view: a map, or a note why there is none yet. */
export interface ImageView {
  map: PatchMap | null;
  note: string | null;
  /** The map is being computed in the worker (`note` says which). */
  pending: boolean;
  /** The map is signed (a difference): paint it on a symmetric range, 0 in the middle. */
  signed: boolean;
  /** Gradient relevance computations the map waits for (progress and cancel). */
  waiting: RelevanceKey[];
  /** Gradient relevance computations the user cancelled: the map needs them run again. */
  cancelled: RelevanceKey[];
  /** How a gradient relevance map was computed (tfjs backend, threads, time), when it shows one. */
  computed?: RelevanceComputed;
  /** The map ran on another tfjs backend than the first choice, and why (the GPU was lost). */
  backendNote?: string;
}

/** How a gradient relevance map was computed: the worker's result without the maps. */
export type RelevanceComputed = Pick<RelevanceResult, 'backend' | 'threads' | 'visionBy' | 'ms' | 'cached'>;

const viewOf = (map: PatchMap | null, note: string | null = null, pending = false): ImageView =>
  ({ map, note, pending, signed: false, waiting: [], cancelled: [] });

/** Map of one image for the view, including methods computed on demand in the worker. */
export function imageView(imageId: string, result: ImageResult, view: ViewOptions, prompts: readonly PromptEntry[]): ImageView {
  if (!isPromptMethod(view.method)) {
    const rows = viewRows(imageId, result, view);
    if (rows.status === 'running') return viewOf(null, `Computing where patch ${(view.queryPatch ?? 0) + 1} attends…`, true);
    if (rows.status === 'error') return viewOf(null, rows.message);
    return viewOf(imageMap(result, view, rows.rows));
  }
  const a = promptA(view, prompts);
  if (!a) return viewOf(null, 'Choose a prompt (the round button beside it) to explain.');
  if (isPromptMapMethod(view.method)) return promptMapView(imageId, result, view.method, a.text, view);
  const b = promptB(view, prompts);
  if (!b) return viewOf(null, 'Add a second prompt (B) to subtract from prompt A.');
  const va = promptMapView(imageId, result, view.differenceBase, a.text, view);
  const vb = promptMapView(imageId, result, view.differenceBase, b.text, view);
  if (!va.map || !vb.map) {
    return {
      ...viewOf(null, va.note ?? vb.note, va.pending || vb.pending),
      signed: true,
      waiting: [...va.waiting, ...vb.waiting],
      cancelled: [...va.cancelled, ...vb.cancelled],
    };
  }
  try {
    return { ...viewOf(differenceMap(va.map, vb.map)), signed: true };
  } catch (e) {
    return { ...viewOf(null, e instanceof Error ? e.message : String(e)), signed: true };
  }
}

/** The options a worker-computed prompt map depends on. */
type PromptMapOptions = Pick<ViewOptions, 'relevanceStart' | 'contributionLayers' | 'layer'>;

/** One prompt's map under a worker-computed method, or why there is none yet. */
function promptMapView(imageId: string, result: ImageResult, method: PromptMapMethod, promptText: string, options: PromptMapOptions): ImageView {
  if (method !== 'relevance') {
    const dense = denseMapFor(imageId, promptText, method);
    if (!dense) return viewOf(null);
    if (dense.status === 'running') return viewOf(null, `Computing the dense map for “${promptText}”…`, true);
    if (dense.status === 'error') return viewOf(null, dense.message);
    const { grid, map, layerMaps } = dense.result;
    const size = grid.width * grid.height;
    if (method === 'contributions' && options.contributionLayers === 'selected' && layerMaps) {
      const l = resolvedLayer(options, layerMaps.length / size);
      return { ...viewOf({ width: grid.width, height: grid.height, values: layerMaps.subarray(l * size, (l + 1) * size) }), ...noteOf(dense.result) };
    }
    return { ...viewOf({ width: grid.width, height: grid.height, values: map }), ...noteOf(dense.result) };
  }
  const start = options.relevanceStart;
  const key: RelevanceKey = { imageId, promptText, startLayerImage: start, startLayerText: start };
  const entry = relevanceFor(key);
  if (!entry) return viewOf(null);
  if (entry.status === 'running') return { ...viewOf(null, `Computing relevance for “${promptText}”…`, true), waiting: [key] };
  if (entry.status === 'cancelled') return { ...viewOf(null, `Cancelled: relevance for “${promptText}”.`), cancelled: [key] };
  if (entry.status === 'error') return viewOf(null, entry.message);
  const { backend, threads, visionBy, ms, cached } = entry.result;
  return {
    ...viewOf({ width: result.grid.width, height: result.grid.height, values: entry.result.imageMap }),
    computed: { backend, threads, visionBy, ms, cached },
    ...noteOf(entry.result),
  };
}

const noteOf = (r: { backendNote?: string }): { backendNote?: string } => (r.backendNote ? { backendNote: r.backendNote } : {});

/** The options a single-layer or rollout map depends on. */
export type MapOptions = Pick<ViewOptions, 'method' | 'layer' | 'heads' | 'fusion' | 'queryPatch' | 'rolloutDiscard'>;

/** Rows the view's query reads, or their fetch status. */
export type ViewRows =
  | { status: 'done'; rows: TokenRows }
  | { status: 'running' }
  | { status: 'error'; message: string };

/**
 * The query token's rows a single-layer view reads: the image's own CLS rows, or a clicked
 * patch's rows, fetched from the worker the first time (see queryRows.ts). Rollout reads the
 * all-heads fusions the image keeps, for any query, and needs none: it gets the CLS rows.
 */
export function viewRows(imageId: string, result: ImageResult, view: Pick<ViewOptions, 'method' | 'queryPatch'>): ViewRows {
  if (view.queryPatch === null || view.method !== 'attention') return { status: 'done', rows: result.attention.cls };
  return queryRowsFor(imageId, view.queryPatch);
}

/**
 * Map for one image under the view's method, layer, heads and fusion. `rows` are the query's
 * rows for the raw-attention view (`viewRows`): the CLS rows, or the clicked patch's.
 */
export function imageMap(result: ImageResult, view: MapOptions, rows: TokenRows, layerOverride?: number, headOverride?: number): PatchMap {
  const attention: ReducedAttention = result.attention;
  const grid: Grid = result.grid;
  if (view.method === 'rollout') {
    const q = view.queryPatch === null ? 0 : view.queryPatch + 1;
    return rolloutMap(attention.fused, grid, { fusion: view.fusion, discardRatio: view.rolloutDiscard }, q);
  }
  const expected = view.queryPatch === null ? 0 : view.queryPatch + 1;
  if (rows.token !== expected) throw new Error(`the view shows token ${expected} but was given the rows of token ${rows.token}`);
  const layer = layerOverride ?? resolvedLayer(view, attention.layers);
  const heads = headOverride === undefined
    ? resolvedHeads(view, attention.heads)
    : Array.from({ length: attention.heads }, (_, h) => h === headOverride);
  return rowMap(rows, layer, heads, view.fusion, grid);
}

/**
 * Raw attention of every layer and every single head, `[layer][head]`, for the layers × heads
 * small multiples, from the query's rows (`viewRows`). Depends on the query patch and the fusion
 * (moot for a single head, passed on for consistency) only, not on the selected layer or heads:
 * memoise it on those.
 */
export function layerHeadMaps(result: ImageResult, options: Pick<ViewOptions, 'fusion' | 'queryPatch'>, rows: TokenRows): PatchMap[][] {
  const { layers, heads } = result.attention;
  const view: MapOptions = { method: 'attention', layer: -1, heads: [], rolloutDiscard: 0, ...options };
  return Array.from({ length: layers }, (_, l) => Array.from({ length: heads }, (_, h) => imageMap(result, view, rows, l, h)));
}

/** Index of the largest (`peak`) and smallest (`trough`) value, first on ties; -1 for none. */
export function extremes(values: ArrayLike<number>): { peak: number; trough: number; min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  let peak = -1;
  let trough = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v > max) {
      max = v;
      peak = i;
    }
    if (v < min) {
      min = v;
      trough = i;
    }
  }
  return { peak, trough, min, max };
}

/** The end-of-text token's attention over the prompt's tokens (all heads fused), for the token view. */
export function tokenWeights(prompt: PromptResult, layer: number, fusion: ViewOptions['fusion']): Float32Array {
  const stack = prompt.attentions;
  const l = layer < 0 || layer >= stack.layers ? stack.layers - 1 : layer;
  return textRow(stack, l, Array.from({ length: stack.heads }, () => true), fusion);
}
