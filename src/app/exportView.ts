/**
 * Export of the focused view: what the PNG figure shows (layout, caption, colour-bar labels) and
 * the numbers file (`clip-lens.map`, see docs/export-format.md). Pure: no DOM, no store; the
 * canvas glue is exportFigure.ts and the button ExportButtons.tsx.
 */
import type { PatchMap } from '../explain/types';
import type { Backend, CropBox, ModelVariant, RelevanceResult } from '../protocol';
import type { ColormapId } from '../render/colormap';
import type { Range } from '../render/normalize';
import { resolvedHeads, resolvedLayer, type ViewOptions } from '../state/store';
import { DIFFERENCE_BASES, isPromptMethod, methodLabel } from './maps';

/** The options a map depends on, only those that apply to its method (see `appliedOptions`). */
export interface AppliedOptions {
  /** Vision layer, 0-based (the page shows it 1-based). */
  layer?: number;
  /** Heads fused, 0-based; every head when all are on. */
  heads?: number[];
  fusion?: ViewOptions['fusion'];
  /** Patch whose attention row is shown (0-based, row-major); null = the CLS token. */
  queryPatch?: number | null;
  /** Rollout: fraction of the lowest attention discarded per layer, 0 … 0.95. */
  rolloutDiscard?: number;
  /** Gradient relevance: first layer accumulated, -1 = the last layer only, 0 = all layers. */
  relevanceStart?: number;
  /** Patch contributions: summed over every layer, or the selected layer's share. */
  contributionLayers?: ViewOptions['contributionLayers'];
  /** Prompt difference: the map subtracted (A's map − B's map under this method). */
  differenceBase?: ViewOptions['differenceBase'];
}

/**
 * The options that change the map of `view.method`, resolved to what is painted (layer -1 → the
 * last layer, an empty head list → every head). Mirrors which controls the page enables.
 *
 * @param layers, heads  the vision encoder's shape
 */
export function appliedOptions(view: ViewOptions, layers: number, heads: number): AppliedOptions {
  const method = view.method === 'difference' ? view.differenceBase : view.method;
  const base: AppliedOptions = view.method === 'difference' ? { differenceBase: view.differenceBase } : {};
  switch (method) {
    case 'attention': {
      const on = resolvedHeads(view, heads);
      return { ...base, layer: resolvedLayer(view, layers), heads: on.flatMap((h, i) => (h ? [i] : [])), fusion: view.fusion, queryPatch: view.queryPatch };
    }
    case 'rollout':
      // Rollout multiplies every layer's all-heads fusion: neither layer nor heads apply.
      return { ...base, fusion: view.fusion, rolloutDiscard: view.rolloutDiscard, queryPatch: view.queryPatch };
    case 'relevance':
      return { ...base, relevanceStart: view.relevanceStart };
    case 'contributions':
      return view.contributionLayers === 'selected'
        ? { ...base, contributionLayers: 'selected', layer: resolvedLayer(view, layers) }
        : { ...base, contributionLayers: 'all' };
    default:
      return base;
  }
}

/** A prompt as the model read it. */
export interface ExportPrompt {
  text: string;
  /** Token ids with start and end-of-text tokens, unpadded; null when the tokenizer is not loaded. */
  ids: number[] | null;
}

/** One prompt's score against the image: cosine similarity and zero-shot probability over all prompts. */
export interface ExportScore {
  prompt: string;
  cosine: number;
  probability: number;
}

/** Everything the export needs, gathered by the caller from the store and the result caches. */
export interface ExportInput {
  image: { name: string; width: number; height: number };
  /** The model's crop in the image's own pixels. */
  cropBox: CropBox;
  /** The map the focus view paints, `width × height` patches, row-major. */
  map: PatchMap;
  /** The range the map is painted with (its min–max, or symmetric around 0 for signed maps). */
  range: Range;
  colormap: ColormapId;
  opacity: number;
  model: { id: string; variant: ModelVariant; backend: Backend | null };
  view: ViewOptions;
  vision: { layers: number; heads: number };
  /** Prompt A, when the method depends on a prompt. */
  prompt: ExportPrompt | null;
  /** Prompt B of a difference. */
  promptB: ExportPrompt | null;
  scores: ExportScore[];
  /** How a gradient relevance map was computed, when it is one. */
  relevance?: Pick<RelevanceResult, 'backend' | 'threads' | 'visionBy'> | undefined;
  exportedAt: Date;
}

export const MAP_FORMAT = 'clip-lens.map';
export const MAP_FORMAT_VERSION = 1;

/** The numbers file, version 1 (docs/export-format.md describes every field). */
export interface MapExport {
  format: typeof MAP_FORMAT;
  version: typeof MAP_FORMAT_VERSION;
  map: { width: number; height: number; values: (number | null)[] };
  cropBox: CropBox;
  image: { name: string; width: number; height: number };
  context: {
    model: { id: string; variant: ModelVariant; backend: Backend | null };
    method: string;
    methodLabel: string;
    options: AppliedOptions;
    prompt: ExportPrompt | null;
    promptB: ExportPrompt | null;
    scores: ExportScore[];
    relevance?: Pick<RelevanceResult, 'backend' | 'threads' | 'visionBy'>;
    paint: { colormap: ColormapId; opacity: number; signed: boolean };
  };
  range: { min: number; max: number };
  exportedAt: string;
}

/**
 * The `clip-lens.map` object of a view. `map.values` are the painted map's numbers as they are
 * (float32 widened to double: `JSON.stringify` writes them back exactly); a NaN patch becomes null.
 */
export function mapExport(input: ExportInput): MapExport {
  const { map, view } = input;
  const promptDependent = isPromptMethod(view.method);
  return {
    format: MAP_FORMAT,
    version: MAP_FORMAT_VERSION,
    map: { width: map.width, height: map.height, values: Array.from(map.values, (v) => (Number.isFinite(v) ? v : null)) },
    cropBox: { x: input.cropBox.x, y: input.cropBox.y, width: input.cropBox.width, height: input.cropBox.height },
    image: { ...input.image },
    context: {
      model: { ...input.model },
      method: view.method,
      methodLabel: methodLabel(view.method),
      options: appliedOptions(view, input.vision.layers, input.vision.heads),
      prompt: promptDependent ? input.prompt : null,
      promptB: view.method === 'difference' ? input.promptB : null,
      scores: input.scores,
      ...(input.relevance ? { relevance: { ...input.relevance } } : {}),
      paint: { colormap: input.colormap, opacity: input.opacity, signed: input.range.signed },
    },
    range: { min: input.range.min, max: input.range.max },
    exportedAt: input.exportedAt.toISOString(),
  };
}

/** The caption's parts, as the page names them: layers and heads 1-based. */
export function captionParts(input: Pick<ExportInput, 'model' | 'view' | 'vision' | 'prompt' | 'promptB'>): string[] {
  const { view, vision } = input;
  const o = appliedOptions(view, vision.layers, vision.heads);
  const parts = [`${input.model.id} (${input.model.variant})`, methodLabel(view.method)];
  if (o.differenceBase) parts.push(`of ${DIFFERENCE_BASES.find((b) => b.id === o.differenceBase)?.label ?? o.differenceBase}`);
  if (o.layer !== undefined) parts.push(`layer ${o.layer + 1}`);
  if (o.heads) parts.push(o.heads.length === vision.heads ? 'all heads' : `heads ${o.heads.map((h) => h + 1).join(', ')}`);
  if (o.fusion) parts.push(`fusion ${o.fusion}`);
  if (o.rolloutDiscard !== undefined) parts.push(`discard ${Math.round(o.rolloutDiscard * 100)}%`);
  if (o.queryPatch !== undefined) parts.push(o.queryPatch === null ? 'CLS query' : `query patch ${o.queryPatch + 1}`);
  if (o.relevanceStart !== undefined) parts.push(o.relevanceStart < 0 ? 'relevance of the last layer' : `relevance from layer ${o.relevanceStart + 1}`);
  if (o.contributionLayers === 'all') parts.push('contributions of every layer');
  if (isPromptMethod(view.method) && input.prompt) parts.push(view.method === 'difference' ? `A “${input.prompt.text}”` : `prompt “${input.prompt.text}”`);
  if (view.method === 'difference' && input.promptB) parts.push(`B “${input.promptB.text}”`);
  return parts;
}

/** The caption line: its parts joined by " · ". */
export function captionText(input: Pick<ExportInput, 'model' | 'view' | 'vision' | 'prompt' | 'promptB'>): string {
  return captionParts(input).join(' · ');
}

/**
 * Greedy word wrap: `text` split at spaces into lines no wider than `maxWidth` as `measure` says
 * (a word wider than that gets a line of its own). `measure` is the canvas's `measureText` width.
 */
export function wrapText(text: string, maxWidth: number, measure: (s: string) => number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && measure(next) > maxWidth) {
      lines.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** A rectangle of whole pixels in the figure. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Where everything goes in the figure, figure pixels: the image at its own resolution at the top,
 * then a white strip with the colour bar, its labels and the caption lines.
 */
export interface FigureLayout {
  width: number;
  height: number;
  image: Rect;
  bar: Rect;
  /** Top of the colour-bar labels. */
  labelTop: number;
  /** Top of the first caption line; one line every `lineHeight`. */
  captionTop: number;
  lineHeight: number;
  /** Left edge of labels and caption (the bar's too). */
  margin: number;
  fontSize: number;
}

/**
 * Text size for a figure `imageWidth` wide, px: about 1/36 of the width, so the strip reads the
 * same at any resolution, within 10 … 48 px (legible small, not a banner on a 6000-px photo).
 */
export function figureFontSize(imageWidth: number): number {
  return Math.max(10, Math.min(48, Math.round(imageWidth / 36)));
}

/** The figure's layout for an image of `imageWidth × imageHeight` and `captionLines` caption lines. */
export function figureLayout(imageWidth: number, imageHeight: number, captionLines: number): FigureLayout {
  if (!(Number.isInteger(imageWidth) && Number.isInteger(imageHeight) && imageWidth > 0 && imageHeight > 0)) {
    throw new Error(`image size must be positive whole pixels, got ${imageWidth}×${imageHeight}`);
  }
  const fontSize = figureFontSize(imageWidth);
  const margin = Math.round(fontSize * 0.75);
  const lineHeight = Math.round(fontSize * 1.35);
  const bar: Rect = { x: margin, y: imageHeight + margin, width: Math.max(1, imageWidth - 2 * margin), height: Math.round(fontSize * 0.9) };
  const labelTop = bar.y + bar.height + Math.round(fontSize * 0.25);
  const captionTop = labelTop + lineHeight + Math.round(fontSize * 0.25);
  const height = captionTop + Math.max(1, captionLines) * lineHeight + margin;
  return { width: imageWidth, height, image: { x: 0, y: 0, width: imageWidth, height: imageHeight }, bar, labelTop, captionTop, lineHeight, margin, fontSize };
}

/** A label under the colour bar: its text, where along the bar (0 … 1), and how it is aligned there. */
export interface BarLabel {
  text: string;
  position: number;
  align: 'left' | 'center' | 'right';
}

/**
 * The colour bar's labels: the painted range's ends (3 significant digits, like the page's bar),
 * and for a signed map its neutral 0 in the middle.
 */
export function barLabels(range: Range): BarLabel[] {
  const labels: BarLabel[] = [
    { text: range.min.toPrecision(3), position: 0, align: 'left' },
    { text: range.max.toPrecision(3), position: 1, align: 'right' },
  ];
  if (range.signed) labels.splice(1, 0, { text: '0', position: 0.5, align: 'center' });
  return labels;
}

/** `clip-lens_<image>_<method>.<ext>`, the image name without its extension, unsafe characters as `-`. */
export function exportFileName(imageName: string, method: string, ext: 'png' | 'json'): string {
  const safe = (s: string) => s.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'image';
  return `clip-lens_${safe(imageName.replace(/\.[^.]+$/, ''))}_${safe(method)}.${ext}`;
}
