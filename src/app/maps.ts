/**
 * Which PatchMap (and token weights) the current view shows, computed from cached tensors by the
 * pure methods in explain/. Cheap: nothing here runs a model.
 */
import { clsRow, queryRow, textRow } from '../explain/attention';
import { rolloutMap } from '../explain/rollout';
import type { AttentionStack, Grid, PatchMap } from '../explain/types';
import type { ImageResult } from '../protocol';
import type { PromptResult } from '../state/results';
import type { PromptEntry } from '../state/store';
import { denseMapFor, relevanceFor } from './relevance';
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
];

const PROMPT_METHODS = new Set(['relevance', 'clearclip', 'maskclip']);

/** Whether the method's map depends on the selected prompt. */
export function isPromptMethod(method: string): boolean {
  return PROMPT_METHODS.has(method);
}

/** What an image shows under the current view: a map, or a note why there is none yet. */
export interface ImageView {
  map: PatchMap | null;
  note: string | null;
}

/** Map of one image for the view, including methods computed on demand in the worker. */
export function imageView(imageId: string, result: ImageResult, view: ViewOptions, prompts: PromptEntry[]): ImageView {
  if (!isPromptMethod(view.method)) return { map: imageMap(result, view), note: null };
  const prompt = prompts.find((p) => p.id === view.promptId);
  if (!prompt || prompt.text.trim() === '') return { map: null, note: 'Choose a prompt (the round button beside it) to explain.' };
  if (view.method === 'clearclip' || view.method === 'maskclip') {
    const dense = denseMapFor(imageId, prompt.text, view.method);
    if (!dense) return { map: null, note: null };
    if (dense.status === 'running') return { map: null, note: `Computing the dense map for “${prompt.text}”…` };
    if (dense.status === 'error') return { map: null, note: dense.message };
    return { map: { width: dense.result.grid.width, height: dense.result.grid.height, values: dense.result.map }, note: null };
  }
  const entry = relevanceFor({ imageId, promptText: prompt.text, startLayerImage: view.relevanceStart, startLayerText: view.relevanceStart });
  if (!entry) return { map: null, note: null };
  if (entry.status === 'running') return { map: null, note: `Computing relevance for “${prompt.text}”…` };
  if (entry.status === 'error') return { map: null, note: entry.message };
  return { map: { width: result.grid.width, height: result.grid.height, values: entry.result.imageMap }, note: null };
}

/** Map for one image under the view's method, layer, heads and fusion. */
export function imageMap(result: ImageResult, view: ViewOptions, layerOverride?: number, headOverride?: number): PatchMap {
  const stack: AttentionStack = result.attentions;
  const grid: Grid = result.grid;
  if (view.method === 'rollout') {
    const q = view.queryPatch === null ? 0 : view.queryPatch + 1;
    return rolloutMap(stack, grid, { fusion: view.fusion, discardRatio: view.rolloutDiscard }, q);
  }
  const layer = layerOverride ?? resolvedLayer(view, stack.layers);
  const heads = headOverride === undefined
    ? resolvedHeads(view, stack.heads)
    : Array.from({ length: stack.heads }, (_, h) => h === headOverride);
  return view.queryPatch === null
    ? clsRow(stack, layer, heads, view.fusion, grid)
    : queryRow(stack, layer, heads, view.fusion, view.queryPatch + 1, grid);
}

/** The end-of-text token's attention over the prompt's tokens (all heads fused), for the token view. */
export function tokenWeights(prompt: PromptResult, layer: number, fusion: ViewOptions['fusion']): Float32Array {
  const stack = prompt.attentions;
  const l = layer < 0 || layer >= stack.layers ? stack.layers - 1 : layer;
  return textRow(stack, l, Array.from({ length: stack.heads }, () => true), fusion);
}
