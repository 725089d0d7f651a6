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
  /** Object URL shown for the image: the file's, or the worker's smaller copy of a very large one. */
  url: string;
  status: ImageStatus;
  error?: string;
}

export interface PromptEntry {
  id: string;
  text: string;
}

export type Fusion = 'mean' | 'max' | 'min';

/** Prompt-dependent maps computed in the worker; the prompt difference subtracts two of them. */
export type PromptMapMethod = 'relevance' | 'clearclip' | 'maskclip' | 'contributions';

export interface ViewOptions {
  method: string;
  layer: number;
  /** heads[h] is on; empty means "all heads". */
  heads: boolean[];
  fusion: Fusion;
  /** Colormap of unsigned maps (attention, relevance, similarity). */
  colormap: ColormapId;
  /** Colormap of signed maps (the prompt difference): diverging, 0 in the middle. */
  divergingColormap: ColormapId;
  opacity: number;
  /** Which prompt drives prompt-dependent views (and the token view). */
  promptId: string | null;
  /**
   * Prompt B of the prompt difference (A = `promptId`); null or a removed prompt = the first
   * other non-empty prompt.
   */
  promptBId: string | null;
  /** The map the prompt difference subtracts: A's map − B's map under this method. */
  differenceBase: PromptMapMethod;
  /** Image shown large, with the layers × heads grid. */
  focusImageId: string | null;
  /** Patch whose attention row is shown instead of the CLS row; null = CLS. */
  queryPatch: number | null;
  rolloutDiscard: number;
  /** First layer that gradient relevance accumulates (-1: the last layer only, 0: all layers). */
  relevanceStart: number;
  /** Patch contributions: summed over every layer, or the share of the layer `layer` selects. */
  contributionLayers: 'all' | 'selected';
}

/** Compare view: one colour scale for all panels, or each panel its own. */
export type CompareScale = 'shared' | 'separate';

/** How a range is measured: min–max, or the 1st–99th percentiles (robust to a few outliers). */
export type CompareNormalization = 'minmax' | 'percentile';

/** One panel of the Compare view: a method, and a prompt for prompt-dependent methods. */
export interface ComparePanelSpec {
  /** Stable id (React key). */
  id: string;
  method: string;
  /** The prompt of a prompt-dependent method; null = the view's selected prompt (A). */
  promptId: string | null;
}

/** The Compare view: the focused image under several methods or prompts, side by side. */
export interface CompareOptions {
  /** Closed, it computes nothing. */
  open: boolean;
  panels: ComparePanelSpec[];
  scale: CompareScale;
  normalization: CompareNormalization;
}

/** A choice not downloaded because of its size, with a smaller variant to load instead (or none). */
export interface SizeOffer {
  choice: ModelChoice;
  bytes: number;
  /** The most this device's models may take, and the device memory it came from (null: assumed). */
  budget: number;
  deviceMemoryGB: number | null;
  smaller: { choice: ModelChoice; bytes: number } | null;
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
  /** A download held back because the model is too big for this device (see ../model/memoryBudget.ts). */
  sizeOffer: SizeOffer | null;
  vision: { layers: number; heads: number } | null;
  text: { layers: number; heads: number } | null;
}

export interface LensState {
  model: ModelState;
  images: ImageEntry[];
  prompts: PromptEntry[];
  view: ViewOptions;
  compare: CompareOptions;
  /** Bumped when results that concern every image arrive (a model switch, a prompt's encoding). */
  resultsVersion: number;
  /**
   * Per image id: bumped when results of that image alone arrive (its encoding, a relevance or
   * dense map, a clicked patch's rows), so the other images' views do not recompute.
   */
  imageVersions: Readonly<Record<string, number>>;
  setModel: (patch: Partial<ModelState>) => void;
  addImages: (entries: ImageEntry[]) => void;
  updateImage: (id: string, patch: Partial<ImageEntry>) => void;
  removeImage: (id: string) => void;
  setPrompts: (prompts: PromptEntry[]) => void;
  setView: (patch: Partial<ViewOptions>) => void;
  setCompare: (patch: Partial<CompareOptions>) => void;
  /** New results: of one image (its id), or of every image (no id). */
  bumpResults: (imageId?: string) => void;
}

let promptCounter = 0;
export const newPromptId = (): string => `p${++promptCounter}`;

let panelCounter = 0;
export const newPanelId = (): string => `c${++panelCounter}`;

/** The prompts a first visit (or a cleared session) starts with, each with a fresh id. */
export const defaultPrompts = (): PromptEntry[] => ['a red circle', 'a blue square', 'a yellow star'].map((text) => ({ id: newPromptId(), text }));

const initialPrompts = defaultPrompts();

export const useLens = create<LensState>()((set) => ({
  model: {
    status: 'idle', id: '', variant: 'fp32', backend: null, wasmThreads: 1, progress: null, error: null, vision: null, text: null,
    choice: null, failed: null, note: null, hubHost: '', sizeOffer: null,
  },
  images: [],
  prompts: initialPrompts,
  view: {
    method: 'attention', layer: -1, heads: [], fusion: 'mean', colormap: 'inferno', divergingColormap: 'rdbu', opacity: 0.6,
    promptId: initialPrompts[0]?.id ?? null, promptBId: null, differenceBase: 'relevance',
    focusImageId: null, queryPatch: null, rolloutDiscard: 0, relevanceStart: -1, contributionLayers: 'all',
  },
  compare: {
    open: false,
    panels: [{ id: newPanelId(), method: 'attention', promptId: null }, { id: newPanelId(), method: 'rollout', promptId: null }],
    scale: 'shared',
    normalization: 'minmax',
  },
  resultsVersion: 0,
  imageVersions: {},
  setModel: (patch) => set((s) => ({ model: { ...s.model, ...patch } })),
  addImages: (entries) => set((s) => ({ images: [...s.images, ...entries] })),
  updateImage: (id, patch) => set((s) => ({ images: s.images.map((im) => (im.id === id ? { ...im, ...patch } : im)) })),
  removeImage: (id) => set((s) => ({
    images: s.images.filter((im) => im.id !== id),
    view: s.view.focusImageId === id ? { ...s.view, focusImageId: null } : s.view,
  })),
  setPrompts: (prompts) => set((s) => {
    const has = (id: string | null) => id !== null && prompts.some((p) => p.id === id);
    const view = {
      ...s.view,
      promptId: has(s.view.promptId) ? s.view.promptId : prompts[0]?.id ?? null,
      promptBId: has(s.view.promptBId) ? s.view.promptBId : null,
    };
    // A panel whose prompt was removed falls back to the selected prompt.
    const panels = s.compare.panels.map((p) => (p.promptId === null || has(p.promptId) ? p : { ...p, promptId: null }));
    const changed = view.promptId !== s.view.promptId || view.promptBId !== s.view.promptBId;
    return {
      prompts,
      view: changed ? view : s.view,
      compare: panels.some((p, i) => p !== s.compare.panels[i]) ? { ...s.compare, panels } : s.compare,
    };
  }),
  setView: (patch) => set((s) => ({ view: { ...s.view, ...patch } })),
  setCompare: (patch) => set((s) => ({ compare: { ...s.compare, ...patch } })),
  bumpResults: (imageId) => set((s) => (imageId === undefined
    ? { resultsVersion: s.resultsVersion + 1 }
    : { imageVersions: { ...s.imageVersions, [imageId]: (s.imageVersions[imageId] ?? 0) + 1 } })),
}));

/**
 * Re-renders the caller when results for `imageId` (or for every image) arrive; the value is a
 * memo dependency. Results live outside the store (`imageResults` and the explanation caches).
 */
export function useResultsVersion(imageId: string | null | undefined): string {
  const all = useLens((s) => s.resultsVersion);
  const one = useLens((s) => (imageId ? (s.imageVersions[imageId] ?? 0) : 0));
  return `${all}.${one}`;
}

/** The layer index the view shows, resolving -1 as "last layer". */
export function resolvedLayer(view: Pick<ViewOptions, 'layer'>, layers: number): number {
  return view.layer < 0 || view.layer >= layers ? layers - 1 : view.layer;
}

/** Head mask for a layer with `heads` heads (all on when the view's list is empty). */
export function resolvedHeads(view: Pick<ViewOptions, 'heads'>, heads: number): boolean[] {
  if (view.heads.length !== heads || !view.heads.some(Boolean)) return Array.from({ length: heads }, () => true);
  return view.heads;
}
