/**
 * Difference of two prompts' maps: where the image speaks more for prompt A than for prompt B.
 *
 * Contrastive reading of a prompt map, as in the "class-contrastive" variants of Grad-CAM
 * (Selvaraju et al. 2017, counterfactual maps) and Chefer et al. 2021's per-class relevance: a
 * map for one prompt alone also lights up what any prompt would (the salient object, attention
 * sinks); subtracting a second prompt's map on the same image cancels that shared part, so
 * positive patches are "more A", negative ones "more B" and 0 "the same for both".
 *
 * Both maps must be in the same units (one method, one set of options): the UI shows the result
 * on a signed range (`rangeOf(values, 'signed')`) with a diverging colormap.
 */
import type { PatchMap } from './types';

/**
 * `a − b`, patch by patch.
 *
 * @param a map for prompt A, `a.width × a.height` patches, row-major (any method's units)
 * @param b map for prompt B on the same image and grid, same method and units as `a`
 * @returns a new map on the same grid; `values[i] = a.values[i] − b.values[i]` in float32, so
 *          `difference(a, b)` is exactly `−difference(b, a)` and `difference(a, a)` is all zeros
 *          (NaN only where an input is NaN or both are the same infinity)
 * @throws when the grids differ (maps of two images or two models) or a map's values do not fill
 *         its grid
 */
export function differenceMap(a: PatchMap, b: PatchMap): PatchMap {
  for (const [name, m] of [['A', a], ['B', b]] as const) {
    if (m.values.length !== m.width * m.height) {
      throw new Error(
        `prompt ${name}'s map has ${m.values.length} values for a ${m.width}×${m.height} grid: ` +
          `pass one value per patch, row-major`,
      );
    }
  }
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(
      `cannot subtract maps on different patch grids (A ${a.width}×${a.height}, B ${b.width}×${b.height}): ` +
        `compute both prompts' maps on the same image with the same model`,
    );
  }
  const values = new Float32Array(a.values.length);
  for (let i = 0; i < values.length; i++) values[i] = (a.values[i] as number) - (b.values[i] as number);
  return { width: a.width, height: a.height, values };
}
