/**
 * The reactive store: ids, statuses and view options only. Tensors live in `results.ts`
 * (a non-reactive cache); `resultsVersion` tells components that a new result arrived.
 */
import { create } from 'zustand';
import type { Backend, ModelVariant } from '../protocol';
import type { ModelChoice } from '../model/hub';
import type { ColormapId } from '../render/colormap';

export type ImageStatus = 'queued' | 'running' | 'done' | 'error';

export interface ImageEntry {
  id: string;
  name: string;
  /** Object URL of the original file, for display. */
  url: string;
  status: ImageStatus;
  error?: string;
}

export interface PromptEntry {
  id: string;
  text: string;
}

export type Fusion = 'mean' | 'max' | 'min';

export interface ViewOptions {
  method: string;
  layer: number;
  /** heads[h] is on; empty means "all heads". */
  heads: boolean[];
  fusion: Fusion;
  colormap: ColormapId;
  opacity: number;
  /** Which prompt drives prompt-dependent views (and the token view). */
  promptId: string | null;
  /** Image shown large, with the layers × heads grid. */
  focusImageId: string | null;
  /** Patch whose attention row is shown instead of the CLS row; null = CLS. */
  queryPatch: number | null;
  rolloutDiscard: number;
  /** First layer that gradient relevance accumulates (-1: the last layer only, 0: all layers). */
  relevanceStart: number;
}

export interface ModelState {
  status: 'idle' | 'loading' | 'ready' | 'error';
  id: string;
  variant: ModelVariant;
  backend: Backend | null;
  wasmThreads: number;
  /**
   * Download progress of the load in flight, summed over its files: bytes so far, the total when
   * every file's size is known, and the recent rate in bytes per second (null until measurable).
   */
  progress: { file: string; loaded: number; total: number | null; rate: number | null } | null;
  /** The model loaded, or being loaded (what the picker shows as selected). */
  choice: ModelChoice | null;
  /** A load that failed while the previous model kept working: the picker offers to retry it. */
  failed: ModelChoice | null;
  /** Something to know that is not an error, e.g. “offline: using the small bundled model”. */
  note: string | null;
  /** The Hub address downloads use (shown when it is not the public Hub). */
  hubHost: string;
  error: string | null;
  vision: { layers: number; heads: number } | null;
  text: { layers: number; heads: number } | null;
}

export interface LensState {
  model: ModelState;
  images: ImageEntry[];
  prompts: PromptEntry[];
  view: ViewOptions;
  resultsVersion: number;
  setModel: (patch: Partial<ModelState>) => void;
  addImages: (entries: ImageEntry[]) => void;
  updateImage: (id: string, patch: Partial<ImageEntry>) => void;
  removeImage: (id: string) => void;
  setPrompts: (prompts: PromptEntry[]) => void;
  setView: (patch: Partial<ViewOptions>) => void;
  bumpResults: () => void;
}

let promptCounter = 0;
export const newPromptId = (): string => `p${++promptCounter}`;

const initialPrompts: PromptEntry[] = ['a red circle', 'a blue square', 'a yellow star'].map((text) => ({ id: newPromptId(), text }));

export const useLens = create<LensState>()((set) => ({
  model: {
    status: 'idle', id: '', variant: 'fp32', backend: null, wasmThreads: 1, progress: null, error: null, vision: null, text: null,
    choice: null, failed: null, note: null, hubHost: '',
  },
  images: [],
  prompts: initialPrompts,
  view: {
    method: 'attention', layer: -1, heads: [], fusion: 'mean', colormap: 'inferno', opacity: 0.6,
    promptId: initialPrompts[0]?.id ?? null, focusImageId: null, queryPatch: null, rolloutDiscard: 0, relevanceStart: -1,
  },
  resultsVersion: 0,
  setModel: (patch) => set((s) => ({ model: { ...s.model, ...patch } })),
  addImages: (entries) => set((s) => ({ images: [...s.images, ...entries] })),
  updateImage: (id, patch) => set((s) => ({ images: s.images.map((im) => (im.id === id ? { ...im, ...patch } : im)) })),
  removeImage: (id) => set((s) => ({
    images: s.images.filter((im) => im.id !== id),
    view: s.view.focusImageId === id ? { ...s.view, focusImageId: null } : s.view,
  })),
  setPrompts: (prompts) => set((s) => ({
    prompts,
    view: prompts.some((p) => p.id === s.view.promptId) ? s.view : { ...s.view, promptId: prompts[0]?.id ?? null },
  })),
  setView: (patch) => set((s) => ({ view: { ...s.view, ...patch } })),
  bumpResults: () => set((s) => ({ resultsVersion: s.resultsVersion + 1 })),
}));

/** The layer index the view shows, resolving -1 as "last layer". */
export function resolvedLayer(view: ViewOptions, layers: number): number {
  return view.layer < 0 || view.layer >= layers ? layers - 1 : view.layer;
}

/** Head mask for a layer with `heads` heads (all on when the view's list is empty). */
export function resolvedHeads(view: ViewOptions, heads: number): boolean[] {
  if (view.heads.length !== heads || !view.heads.some(Boolean)) return Array.from({ length: heads }, () => true);
  return view.heads;
}
