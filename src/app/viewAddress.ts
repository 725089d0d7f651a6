/**
 * The view in the address hash, so that a copied link reopens the same view:
 * `#method=rollout&layer=3&heads=0,2&fusion=max&colormap=viridis&diverging=rdbu&opacity=0.6&discard=0.1&relstart=-1&base=relevance&contrib=all&p=a%20red%20circle&p=a%20blue%20square&a=1&b=0&image=scene-1.png&compare=1`.
 * Pure: no DOM, no store. Decoding ignores every value it does not understand, so a
 * hand-edited or stale link opens what it can and never throws.
 */
import { COLORMAP_IDS, type ColormapId } from '../render/colormap';
import type { Fusion, PromptMapMethod } from '../state/store';

/** What a link can say about the view; every field is optional (absent = keep the default). */
export interface AddressView {
  method?: string;
  /** 0-based layer; absent = the last layer. */
  layer?: number;
  /** 0-based indices of the heads that are on; absent = all heads. */
  heads?: number[];
  fusion?: Fusion;
  colormap?: ColormapId;
  divergingColormap?: ColormapId;
  /** 0..1 */
  opacity?: number;
  /** Rollout's discard ratio, 0..0.95. */
  rolloutDiscard?: number;
  /** First layer relevance accumulates; -1 = the last layer only. */
  relevanceStart?: number;
  differenceBase?: PromptMapMethod;
  contributionLayers?: 'all' | 'selected';
  /** The prompt texts, in order (empty rows included). */
  prompts?: string[];
  /** 0-based index into `prompts` (or the page's prompts) of prompt A. */
  promptIndex?: number;
  /** 0-based index of prompt B of the difference. */
  promptBIndex?: number;
  /** File name of the focused image (images never travel: the person drops the file). */
  image?: string;
  compareOpen?: boolean;
}

/** At most this many prompts, each at most this long, are read from a link. */
export const MAX_ADDRESS_PROMPTS = 64;
export const MAX_PROMPT_LENGTH = 1000;
/** Head and layer indices above this are not a real model's (ViT-L/14 has 24 layers, 16 heads). */
const MAX_INDEX = 1024;

const FUSIONS: readonly Fusion[] = ['mean', 'max', 'min'];
const BASES: readonly PromptMapMethod[] = ['relevance', 'clearclip', 'maskclip', 'contributions'];

/**
 * The hash for a view, with a leading `#`. Defaults that depend on the model (last layer, all
 * heads) and absent prompt B, image or a closed Compare panel are left out, so links stay short.
 */
export function encodeViewHash(v: AddressView): string {
  const q = new URLSearchParams();
  if (v.method !== undefined) q.set('method', v.method);
  if (v.layer !== undefined && v.layer >= 0) q.set('layer', String(v.layer));
  if (v.heads !== undefined && v.heads.length > 0) q.set('heads', v.heads.join(','));
  if (v.fusion !== undefined) q.set('fusion', v.fusion);
  if (v.colormap !== undefined) q.set('colormap', v.colormap);
  if (v.divergingColormap !== undefined) q.set('diverging', v.divergingColormap);
  if (v.opacity !== undefined) q.set('opacity', String(round(v.opacity)));
  if (v.rolloutDiscard !== undefined) q.set('discard', String(round(v.rolloutDiscard)));
  if (v.relevanceStart !== undefined) q.set('relstart', String(v.relevanceStart));
  if (v.differenceBase !== undefined) q.set('base', v.differenceBase);
  if (v.contributionLayers !== undefined) q.set('contrib', v.contributionLayers);
  // Only prompts a link can give back (see decodeViewHash): 500 pasted prompts or a 100,000-
  // character one would make an address browsers refuse; the stored session keeps those.
  const prompts = v.prompts ?? [];
  if (prompts.length <= MAX_ADDRESS_PROMPTS && prompts.every((p) => p.length <= MAX_PROMPT_LENGTH)) for (const p of prompts) q.append('p', p);
  if (v.promptIndex !== undefined) q.set('a', String(v.promptIndex));
  if (v.promptBIndex !== undefined) q.set('b', String(v.promptBIndex));
  if (v.image !== undefined) q.set('image', v.image);
  if (v.compareOpen) q.set('compare', '1');
  // URLSearchParams writes spaces as '+' and commas as %2C; %20 and ',' read the same, and
  // `heads=0,2` is easier on the eye.
  const text = q.toString().replace(/\+/g, '%20').replace(/%2C/gi, ',');
  return text ? `#${text}` : '';
}

/**
 * Reads a hash (with or without `#`). `methods` lists the method ids the app knows; a method,
 * colormap, number or index that is not valid is dropped and the rest is kept.
 */
export function decodeViewHash(hash: string, methods: readonly string[]): AddressView {
  const q = new URLSearchParams(hash.startsWith('#') ? hash.slice(1) : hash);
  const out: AddressView = {};
  const method = q.get('method');
  if (method !== null && methods.includes(method)) out.method = method;
  const layer = intIn(q.get('layer'), 0, MAX_INDEX);
  if (layer !== null) out.layer = layer;
  const heads = q.get('heads');
  if (heads !== null) {
    const list = heads.split(',').map((h) => intIn(h, 0, MAX_INDEX));
    if (list.length > 0 && list.every((h) => h !== null)) out.heads = [...new Set(list)].sort((x, y) => x - y);
  }
  const fusion = oneOf(q.get('fusion'), FUSIONS);
  if (fusion) out.fusion = fusion;
  const colormap = oneOf(q.get('colormap'), COLORMAP_IDS);
  if (colormap) out.colormap = colormap;
  const diverging = oneOf(q.get('diverging'), COLORMAP_IDS);
  if (diverging) out.divergingColormap = diverging;
  const opacity = numberIn(q.get('opacity'), 0, 1);
  if (opacity !== null) out.opacity = opacity;
  const discard = numberIn(q.get('discard'), 0, 0.95);
  if (discard !== null) out.rolloutDiscard = discard;
  const relStart = intIn(q.get('relstart'), -1, MAX_INDEX);
  if (relStart !== null) out.relevanceStart = relStart;
  const base = oneOf(q.get('base'), BASES);
  if (base) out.differenceBase = base;
  const contrib = oneOf(q.get('contrib'), ['all', 'selected'] as const);
  if (contrib) out.contributionLayers = contrib;
  const prompts = q.getAll('p').slice(0, MAX_ADDRESS_PROMPTS).map((p) => p.slice(0, MAX_PROMPT_LENGTH));
  if (prompts.length > 0) out.prompts = prompts;
  const count = prompts.length > 0 ? prompts.length : MAX_ADDRESS_PROMPTS;
  const a = intIn(q.get('a'), 0, count - 1);
  if (a !== null) out.promptIndex = a;
  const b = intIn(q.get('b'), 0, count - 1);
  if (b !== null && b !== a) out.promptBIndex = b;
  const image = q.get('image');
  if (image !== null && image.trim() !== '' && image.length <= 500) out.image = image;
  const compare = q.get('compare');
  if (compare === '1' || compare === '0') out.compareOpen = compare === '1';
  return out;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function intIn(text: string | null, min: number, max: number): number | null {
  if (text === null || !/^-?\d+$/.test(text.trim())) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

function numberIn(text: string | null, min: number, max: number): number | null {
  if (text === null || text.trim() === '') return null;
  const n = Number(text);
  return Number.isFinite(n) && n >= min && n <= max ? n : null;
}

function oneOf<T extends string>(text: string | null, options: readonly T[]): T | null {
  return text !== null && (options as readonly string[]).includes(text) ? (text as T) : null;
}
