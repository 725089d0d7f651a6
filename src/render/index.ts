/** Public API of render/: pure "heatmap + options → pixels" functions (see README.md). */
export type { PixelBuffer, CropBox } from './types';
export {
  COLORMAPS,
  COLORMAP_IDS,
  LUT_SIZE,
  colormapLut,
  getColormap,
  isColormapId,
  type ColormapEntry,
  type ColormapId,
  type ColormapLut,
} from './colormap';
export {
  DEFAULT_PERCENTILES,
  RANGE_MODES,
  SIGNED_UNIT_RANGE,
  UNIT_RANGE,
  isDegenerate,
  normalize,
  rangeOf,
  sharedRangeOf,
  type Percentiles,
  type Range,
  type RangeMode,
} from './normalize';
export { OUTSIDE_RGBA, renderHeatmap, type HeatmapOptions } from './heatmap';
export { colorbarTicks, colorbarPixels, type Tick } from './colorbar';
export { patchAt, patchRect, type PatchHit } from './geometry';
