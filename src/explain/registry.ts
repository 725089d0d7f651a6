/**
 * The explanation methods the app offers, in menu order. To add one, write a
 * `defineMethod({...})` (see method.ts and README.md) and append it to `EXPLAIN_METHODS`.
 * The list is a constant, not a mutable registry, so what the app offers is visible here.
 */
import { allHeads, clsRow, patchToken, queryRow, textRow } from './attention';
import {
  defineMethod,
  type ChoiceOption,
  type ExplainInput,
  type ExplainMethod,
  type HeadsOption,
  type LayerOption,
} from './method';
import { imageRelevance, textRelevanceTokens } from './relevance';
import { rolloutMap, rolloutRow } from './rollout';
import { FUSIONS, type AttentionStack, type Fusion, type HeadSelection } from './types';

const FUSION_LABELS: Record<Fusion, string> = { mean: 'Mean', max: 'Max', min: 'Min' };

const fusionOption: ChoiceOption<Fusion> = {
  kind: 'choice',
  label: 'Head fusion',
  help: 'How the selected heads are combined, element-wise.',
  choices: FUSIONS.map((value) => ({ value, label: FUSION_LABELS[value] })),
  default: 'mean',
};

const visionHeads: HeadsOption = { kind: 'heads', encoder: 'vision', label: 'Heads' };

function layerOption(encoder: 'vision' | 'text', label: string, fallback: number, help?: string): LayerOption {
  return help === undefined ? { kind: 'layer', encoder, label, default: fallback } : { kind: 'layer', encoder, label, default: fallback, help };
}

function headsOf(sel: HeadSelection | 'all', stack: AttentionStack): HeadSelection {
  return sel === 'all' ? allHeads(stack.heads) : sel;
}

/** Token of the image view: CLS, or the clicked patch (checked against the grid). */
function queryTokenOf(input: ExplainInput): number {
  const { queryPatch, grid } = input;
  if (queryPatch === undefined) return 0;
  const patches = grid.width * grid.height;
  if (!Number.isInteger(queryPatch) || queryPatch < 0 || queryPatch >= patches) {
    throw new Error(`queryPatch ${queryPatch} is out of range for a ${grid.width}×${grid.height} grid: use 0..${patches - 1}, or omit it for CLS`);
  }
  return patchToken(queryPatch);
}

export const rawAttention = defineMethod({
  id: 'raw-attention',
  label: 'Raw attention',
  description:
    'Where the CLS token (or the clicked patch) looks in one layer, with the selected heads fused. ' +
    'Fast and literal, but one layer rarely tells the whole story.',
  citation: 'Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words" (attention maps); Vig 2019, bertviz',
  needs: ['vision-attention'],
  supportsQuery: true,
  options: {
    layer: layerOption('vision', 'Layer', -1),
    heads: visionHeads,
    fusion: fusionOption,
    textLayer: layerOption('text', 'Text layer', -1, 'Layer of the text encoder for the prompt-word view (all heads).'),
  },
  compute(input, o) {
    const { vision, grid } = input;
    if (!vision) return null;
    const heads = headsOf(o.heads, vision);
    return input.queryPatch === undefined
      ? clsRow(vision, o.layer, heads, o.fusion, grid)
      : queryRow(vision, o.layer, heads, o.fusion, queryTokenOf(input), grid);
  },
  tokens: {
    needs: ['text-attention'],
    compute(input, o) {
      const { text } = input;
      return text ? textRow(text, o.textLayer, allHeads(text.heads), o.fusion) : null;
    },
  },
});

export const attentionRollout = defineMethod({
  id: 'rollout',
  label: 'Attention rollout',
  description:
    'Follows attention through the layers (with the residual connection as ½·I) and multiplies ' +
    'them: how much each patch flows into the CLS token (or the clicked patch) overall.',
  citation: 'Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers"; discard as in jacobgil/vit-explain',
  needs: ['vision-attention'],
  supportsQuery: true,
  options: {
    fusion: fusionOption,
    discardRatio: {
      kind: 'number',
      label: 'Discard lowest',
      help: "Fraction of each layer's weakest attention entries set to zero before rolling out.",
      min: 0,
      max: 0.99,
      step: 0.01,
      default: 0,
    },
    startLayer: layerOption('vision', 'From layer', 0),
    endLayer: layerOption('vision', 'To layer', -1),
    heads: visionHeads,
  },
  compute(input, o) {
    const { vision, grid } = input;
    if (!vision) return null;
    const opts = {
      fusion: o.fusion,
      heads: headsOf(o.heads, vision),
      discardRatio: o.discardRatio,
      startLayer: o.startLayer,
      endLayer: o.endLayer,
    };
    return rolloutMap(vision, grid, opts, queryTokenOf(input));
  },
  tokens: {
    needs: ['text-attention'],
    // All text layers and heads: the vision layer range and heads do not apply to the text encoder.
    compute(input, o) {
      const { text } = input;
      return text ? rolloutRow(text, text.seq - 1, { fusion: o.fusion, discardRatio: o.discardRatio }) : null;
    },
  },
});

export const gradientRelevance = defineMethod({
  id: 'relevance',
  label: 'Gradient relevance',
  description:
    'Weights each attention map by how much it changes the image–prompt score (its gradient), keeps ' +
    'the positive part and accumulates it over the layers: where the model finds the prompt.',
  citation:
    'Chefer, Gur & Wolf 2021, "Generic Attention-model Explainability for Interpreting Bi-Modal and ' +
    'Encoder-Decoder Transformers" (ICCV); CLIP notebook of hila-chefer/Transformer-MM-Explainability',
  // Gradients are of the (image, prompt) score: the worker computes them per pair (relevance with
  // includeGradients, which differentiates every layer so any start layer works here).
  needs: ['vision-attention', 'gradients'],
  supportsQuery: false,
  options: {
    startLayer: layerOption('vision', 'From layer', -1, 'First layer accumulated; the last layer alone is the reference notebook\'s default.'),
    textStartLayer: layerOption('text', 'Text from layer', -1, 'First text layer accumulated for the prompt-word view.'),
  },
  compute(input, o) {
    const { vision, gradients, grid } = input;
    if (!vision || !gradients) return null;
    return imageRelevance(vision, gradients.vision, grid, o.startLayer);
  },
  tokens: {
    needs: ['text-attention', 'gradients'],
    compute(input, o) {
      const { text, gradients } = input;
      return text && gradients ? textRelevanceTokens(text, gradients.text, o.textStartLayer) : null;
    },
  },
});

/** Every method the app offers, in menu order. */
export const EXPLAIN_METHODS: readonly ExplainMethod[] = [rawAttention, attentionRollout, gradientRelevance];

/** The method with this id; throws with the list of known ids. */
export function getMethod(id: string): ExplainMethod {
  const m = EXPLAIN_METHODS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown explanation method "${id}"; known: ${EXPLAIN_METHODS.map((x) => x.id).join(', ')}`);
  return m;
}
