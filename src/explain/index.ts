/** Public API of explain/: pure explanation methods over attention tensors (see README.md). */
export type { AttentionStack, Fusion, Grid, HeadSelection, PatchMap } from './types';
export { FUSIONS } from './types';
export { allHeads, soloHead, patchToken, fuseHeads, clsRow, queryRow, textRow } from './attention';
export { differenceMap } from './difference';
export { rolloutMatrix, rolloutRow, rolloutMap, clsRowOf, type RolloutOptions } from './rollout';
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
