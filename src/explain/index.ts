/** Public API of explain/: pure explanation methods over attention tensors (see README.md). */
export type { AttentionStack, Fusion, FusedLayers, Grid, HeadSelection, PatchMap, ReducedAttention, TokenRows } from './types';
export { FUSIONS } from './types';
export { allHeads, soloHead, patchToken, fuseHeads, clsRow, queryRow, rowMap, textRow } from './attention';
export { reduceLayers, reduceStack, reducedAttentionBytes, reducedBytes, tokenRows, tokenRowsBytes, tokenRowsOfLayers } from './reduce';
export { differenceMap } from './difference';
export { rolloutMatrix, rolloutRow, rolloutMap, clsRowOf, type RolloutOptions, type RolloutSource } from './rollout';
export type {
  Need,
  GradientStack,
  ExplainInput,
  OptionSpec,
  ChoiceOption,
  NumberOption,
  LayerOption,
  HeadsOption,
  OptionsSchema,
  OptionsOf,
  RawOptions,
  MethodDefinition,
  ExplainMethod,
} from './method';
export { defineMethod, resolveOptions, defaultOf } from './method';
export { EXPLAIN_METHODS, getMethod, rawAttention, attentionRollout } from './registry';
