/**
 * Colormaps as 256-entry RGBA lookup tables, built once from d3-scale-chromatic's interpolators
 * (Bostock; viridis family by van der Walt & Smith, turbo by Mikhailov, cividis by Nuñez et al.,
 * RdBu/Greys from ColorBrewer) and cached.
 *
 * Entry i (0..255) of a table is the colour at t = i / 255 ("low" at 0, "high" at 255); a
 * diverging map has its neutral colour in the middle, so a signed value 0 lands there.
 */
import {
  interpolateCividis,
  interpolateGreys,
  interpolateInferno,
  interpolateMagma,
  interpolatePlasma,
  interpolateRdBu,
  interpolateTurbo,
  interpolateViridis,
} from 'd3-scale-chromatic';

/** RGBA8 lookup table, `256 × 4` bytes, alpha 255. Shared and cached: do not modify. */
export type ColormapLut = Uint8ClampedArray;

export const LUT_SIZE = 256;

export type ColormapId = 'viridis' | 'magma' | 'inferno' | 'plasma' | 'turbo' | 'cividis' | 'greys' | 'rdbu';

export interface ColormapEntry {
  readonly id: ColormapId;
  readonly label: string;
  /** Sequential maps suit non-negative maps; diverging ones suit signed maps (e.g. a difference). */
  readonly kind: 'sequential' | 'diverging';
  /** Colour at t ∈ [0, 1] as a CSS colour string. */
  readonly interpolate: (t: number) => string;
}

/** Every colormap, in menu order: sequential first, then diverging. */
export const COLORMAPS: readonly ColormapEntry[] = [
  { id: 'inferno', label: 'Inferno', kind: 'sequential', interpolate: interpolateInferno },
  { id: 'viridis', label: 'Viridis', kind: 'sequential', interpolate: interpolateViridis },
  { id: 'magma', label: 'Magma', kind: 'sequential', interpolate: interpolateMagma },
  { id: 'plasma', label: 'Plasma', kind: 'sequential', interpolate: interpolatePlasma },
  { id: 'cividis', label: 'Cividis', kind: 'sequential', interpolate: interpolateCividis },
  { id: 'turbo', label: 'Turbo', kind: 'sequential', interpolate: interpolateTurbo },
  // d3's Greys runs white → black; reversed so that "more" is brighter, like the others.
  { id: 'greys', label: 'Greys', kind: 'sequential', interpolate: (t) => interpolateGreys(1 - t) },
  // d3's RdBu runs red → blue; reversed so negative is blue and positive red (matplotlib's RdBu_r),
  // the usual reading of "more" vs "less" in difference maps.
  { id: 'rdbu', label: 'Blue–red (diverging)', kind: 'diverging', interpolate: (t) => interpolateRdBu(1 - t) },
];

/** The ids of `COLORMAPS`, in the same order. */
export const COLORMAP_IDS: readonly ColormapId[] = COLORMAPS.map((c) => c.id);

/** Whether a string (e.g. from a URL or saved settings) names a colormap. */
export function isColormapId(id: string): id is ColormapId {
  return COLORMAPS.some((c) => c.id === id);
}

/** The registry entry of `id`; throws with the list of known ids. */
export function getColormap(id: string): ColormapEntry {
  const entry = COLORMAPS.find((c) => c.id === id);
  if (!entry) throw new Error(`unknown colormap "${id}"; known: ${COLORMAP_IDS.join(', ')}`);
  return entry;
}

/**
 * Parses the two forms d3-scale-chromatic returns, `#rrggbb` and `rgb(r, g, b)`, into `out`
 * at `offset` — without a DOM, so this also runs in Node and workers.
 */
function parseInto(css: string, out: Uint8ClampedArray, offset: number): void {
  const hex = /^#([0-9a-f]{6})$/i.exec(css);
  if (hex?.[1]) {
    const v = parseInt(hex[1], 16);
    out[offset] = v >> 16;
    out[offset + 1] = (v >> 8) & 255;
    out[offset + 2] = v & 255;
    out[offset + 3] = 255;
    return;
  }
  const rgb = /^rgb\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*\)$/.exec(css);
  if (rgb?.[1] && rgb[2] && rgb[3]) {
    out[offset] = Math.round(Number(rgb[1]));
    out[offset + 1] = Math.round(Number(rgb[2]));
    out[offset + 2] = Math.round(Number(rgb[3]));
    out[offset + 3] = 255;
    return;
  }
  throw new Error(`cannot parse colour "${css}": expected #rrggbb or rgb(r, g, b)`);
}

const cache = new Map<ColormapId, ColormapLut>();

/** The 256-entry RGBA table of colormap `id`, built on first use and cached. */
export function colormapLut(id: ColormapId): ColormapLut {
  let lut = cache.get(id);
  if (!lut) {
    const { interpolate } = getColormap(id);
    lut = new Uint8ClampedArray(LUT_SIZE * 4);
    for (let i = 0; i < LUT_SIZE; i++) parseInto(interpolate(i / (LUT_SIZE - 1)), lut, i * 4);
    cache.set(id, lut);
  }
  return lut;
}

/** A table given directly, or looked up by id; checks a given table's size. */
export function resolveLut(colormap: ColormapId | ColormapLut): ColormapLut {
  if (typeof colormap === 'string') return colormapLut(colormap);
  if (colormap.length !== LUT_SIZE * 4) {
    throw new Error(`colormap table has ${colormap.length} bytes; expected ${LUT_SIZE}×4 RGBA = ${LUT_SIZE * 4}`);
  }
  return colormap;
}
