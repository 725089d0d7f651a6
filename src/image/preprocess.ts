/**
 * CLIP image preprocessing as Hugging Face's `CLIPImageProcessor` does it, configured by a model
 * folder's preprocessor_config.json: convert to RGB → resize (shortest edge, Pillow filter) →
 * centre crop → rescale → normalise → channel-first float32.
 *
 * Only the crop is ever resampled (see `resizeRegion`), so a huge photo costs what its cropped
 * part costs and the full-size resized image is never allocated. The result is identical to
 * resizing everything and then cropping.
 *
 * Alpha: CLIPImageProcessor's `convert('RGB')` drops alpha without compositing, and so does this
 * module (whatever `do_convert_rgb` says: the model needs 3 channels). Canvas `getImageData`
 * returns un-premultiplied RGBA, but the browser stores premultiplied pixels, so a fully
 * transparent pixel comes back as black where Pillow would keep the file's hidden colour.
 */
import { RESAMPLE_NAMES, Resample, resizeRegion, type ResampleFilter } from './resize';
import { isRecord } from '../model/json';

/** OpenAI CLIP's per-channel statistics, CLIPImageProcessor's defaults. RGB, [0, 1] units. */
export const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** How to resize: the shortest edge to a length (aspect kept), or to an exact size. Pixels. */
export type ResizeTarget =
  | { readonly shortestEdge: number }
  | { readonly height: number; readonly width: number };

/**
 * preprocessor_config.json, validated, with CLIPImageProcessor's defaults filled in.
 * Field names follow the JSON (`crop_size` → `cropSize`).
 */
export interface PreprocessorConfig {
  readonly doResize: boolean;
  readonly size: ResizeTarget;
  /** Pillow filter number; 3 = bicubic (CLIP). */
  readonly resample: ResampleFilter;
  readonly doCenterCrop: boolean;
  /** Model input size when `doCenterCrop`, pixels. */
  readonly cropSize: { readonly height: number; readonly width: number };
  readonly doRescale: boolean;
  /** Multiplies 0..255 pixel values; usually 1/255. */
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  /** Per channel (R, G, B), in rescaled units. */
  readonly imageMean: readonly [number, number, number];
  readonly imageStd: readonly [number, number, number];
  readonly doConvertRgb: boolean;
}

/** Thrown by `parsePreprocessorConfig`; `field` is the JSON path of the offending value. */
export class PreprocessorConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`preprocessor_config.json: ${message}`);
    this.name = 'PreprocessorConfigError';
    this.field = field;
  }
}

/** Pixels as a canvas gives them: RGBA, row-major, `data.length === width * height * 4`. */
export interface RgbaImage {
  readonly data: Uint8ClampedArray | Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** A rectangle in the original image's pixel coordinates (floats; may extend past the edges). */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where the model input comes from, without touching pixels. */
export interface PreprocessGeometry {
  /** Size of the image after the resize step (before the crop), pixels. */
  resized: { width: number; height: number };
  /**
   * The crop in resized pixels. `left`/`top` are negative, and the crop reaches past the resized
   * image, when the image is smaller than the crop: CLIPImageProcessor pads with black there.
   */
  crop: { left: number; top: number; width: number; height: number };
  /** The crop in original image coordinates: draw a map of the model input over this box. */
  cropBox: CropBox;
}

export interface PreprocessResult {
  /** (3, height, width), channel-first (CHW) float32: the model's `pixel_values` without the batch axis. */
  pixelValues: Float32Array;
  /** Model input width, pixels (crop width, or the resized width without centre crop). */
  width: number;
  /** Model input height, pixels. */
  height: number;
  /** The model input's rectangle in original image coordinates. */
  cropBox: CropBox;
}

/**
 * Sizes and offsets of each step for an image of `width × height` pixels, following
 * CLIPImageProcessor: shortest edge → `shortest_edge`, long edge → floor(shortest_edge · long / short);
 * crop top = floor((resizedH − cropH) / 2), left = floor((resizedW − cropW) / 2).
 */
export function preprocessGeometry(width: number, height: number, cfg: PreprocessorConfig): PreprocessGeometry {
  checkSize(width, height);
  let rw = width;
  let rh = height;
  if (cfg.doResize) {
    if ('shortestEdge' in cfg.size) {
      const s = cfg.size.shortestEdge;
      const short = Math.min(width, height);
      const long = Math.max(width, height);
      // Python's int(s * long / short): same IEEE operations in the same order.
      const newLong = Math.floor((s * long) / short);
      [rw, rh] = width <= height ? [s, newLong] : [newLong, s];
    } else {
      rw = cfg.size.width;
      rh = cfg.size.height;
    }
  }
  const cw = cfg.doCenterCrop ? cfg.cropSize.width : rw;
  const ch = cfg.doCenterCrop ? cfg.cropSize.height : rh;
  // Python's `//` floors, also for the negative offsets of a crop larger than the image.
  const left = Math.floor((rw - cw) / 2);
  const top = Math.floor((rh - ch) / 2);
  // Output pixel i covers input [i, i + 1) · (in / out) (Pillow's pixel-centre convention).
  const sx = width / rw;
  const sy = height / rh;
  return {
    resized: { width: rw, height: rh },
    crop: { left, top, width: cw, height: ch },
    cropBox: { x: left * sx, y: top * sy, width: cw * sx, height: ch * sy },
  };
}

/**
 * Turns RGBA pixels into the vision model's input, as CLIPImageProcessor would (within float32
 * rounding: the 8-bit resize is Pillow's exactly, the arithmetic after it is numpy's float32).
 *
 * @param image RGBA pixels (alpha dropped, see the module comment).
 * @param cfg from `parsePreprocessorConfig`.
 * @returns `pixelValues` (3, height, width) CHW float32 and the crop box in `image` coordinates.
 */
export function preprocess(image: RgbaImage, cfg: PreprocessorConfig): PreprocessResult {
  const { width, height, data } = image;
  checkSize(width, height);
  if (data.length !== width * height * 4) {
    throw new RangeError(
      `RGBA data has ${data.length} bytes; a ${width}×${height} image needs ${width * height * 4} (4 per pixel).`,
    );
  }
  const g = preprocessGeometry(width, height, cfg);
  const { left, top, width: cw, height: ch } = g.crop;
  const luts = channelLuts(cfg);
  const plane = cw * ch;
  const out = new Float32Array(3 * plane);
  // Padding (crop larger than the image) is black before rescaling, as in CLIPImageProcessor.
  for (let c = 0; c < 3; c++) out.fill((luts[c] as Float32Array)[0] as number, c * plane, (c + 1) * plane);

  // The part of the crop that lies on the resized image; empty only in degenerate configs.
  const x0 = Math.max(0, left);
  const y0 = Math.max(0, top);
  const x1 = Math.min(g.resized.width, left + cw);
  const y1 = Math.min(g.resized.height, top + ch);
  if (x1 > x0 && y1 > y0) {
    const rgb = resizeRegion(
      { data, width, height, channels: 4 },
      g.resized.width,
      g.resized.height,
      { x: x0, y: y0, width: x1 - x0, height: y1 - y0 },
      cfg.resample,
    ).data;
    const [lr, lg, lb] = luts;
    const rowLen = x1 - x0;
    let p = 0;
    for (let y = y0; y < y1; y++) {
      let o = (y - top) * cw + (x0 - left);
      for (let x = 0; x < rowLen; x++, o++) {
        out[o] = (lr as Float32Array)[rgb[p++] as number] as number;
        out[o + plane] = (lg as Float32Array)[rgb[p++] as number] as number;
        out[o + 2 * plane] = (lb as Float32Array)[rgb[p++] as number] as number;
      }
    }
  }
  return { pixelValues: out, width: cw, height: ch, cropBox: g.cropBox };
}

/**
 * Per channel, the model value of each byte 0..255. Rounds like CLIPImageProcessor: rescale in
 * float64 then cast to float32, normalise in float32 ((x − mean) / std, each step rounded).
 */
function channelLuts(cfg: PreprocessorConfig): Float32Array[] {
  const f = Math.fround;
  return [0, 1, 2].map((c) => {
    const lut = new Float32Array(256);
    const mean = f(cfg.imageMean[c] as number);
    const std = f(cfg.imageStd[c] as number);
    for (let v = 0; v < 256; v++) {
      let x = cfg.doRescale ? f(v * cfg.rescaleFactor) : v;
      if (cfg.doNormalize) x = f(f(x - mean) / std);
      lut[v] = x;
    }
    return lut;
  });
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`Image size must be positive integers, got ${width}×${height}.`);
  }
}

// ---------------------------------------------------------------------------------------------
// preprocessor_config.json

const DEFAULT_SIZE = 224;

/**
 * Validates a parsed preprocessor_config.json and fills in CLIPImageProcessor's defaults for
 * absent (or null) fields: resize the shortest edge to 224 with bicubic, centre crop 224×224,
 * rescale by 1/255, normalise with OpenAI CLIP's mean and std, convert to RGB.
 * Accepts the legacy integer forms (`"size": 224`, `"crop_size": 224`) and `{height, width}` sizes.
 *
 * @throws PreprocessorConfigError naming the field and what it should be.
 */
export function parsePreprocessorConfig(json: unknown): PreprocessorConfig {
  if (!isRecord(json)) {
    throw new PreprocessorConfigError('', `expected a JSON object, got ${describe(json)}.`);
  }
  const field = (key: string): unknown => json[key] ?? undefined; // null means "use the default"

  let size = parseResizeTarget(field('size'));
  // Configs written before transformers 4.36 may carry `use_square_size` (resize to a square).
  if (field('use_square_size') === true && 'shortestEdge' in size) {
    size = { height: size.shortestEdge, width: size.shortestEdge };
  }
  return {
    doResize: parseBool(field('do_resize'), 'do_resize', true),
    size,
    resample: parseResample(field('resample')),
    // Absent means crop, as in CLIPImageProcessor's __init__ (transformers.js reads absent as
    // "no crop"): without the crop a shortest-edge resize gives a non-square input (224×298 for
    // 4:3), which a ViT's fixed grid of position embeddings cannot take.
    doCenterCrop: parseBool(field('do_center_crop'), 'do_center_crop', true),
    cropSize: parseCropSize(field('crop_size')),
    doRescale: parseBool(field('do_rescale'), 'do_rescale', true),
    rescaleFactor: parseRescaleFactor(field('rescale_factor')),
    doNormalize: parseBool(field('do_normalize'), 'do_normalize', true),
    imageMean: parseTriple(field('image_mean'), 'image_mean', OPENAI_CLIP_MEAN, false),
    imageStd: parseTriple(field('image_std'), 'image_std', OPENAI_CLIP_STD, true),
    doConvertRgb: parseBool(field('do_convert_rgb'), 'do_convert_rgb', true),
  };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array [${v.map((x) => JSON.stringify(x)).join(', ')}]`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new PreprocessorConfigError(name, `"${name}" must be a positive integer (pixels), got ${describe(v)}.`);
  }
  return v;
}

function parseBool(v: unknown, name: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new PreprocessorConfigError(name, `"${name}" must be true or false, got ${describe(v)}.`);
  return v;
}

function parseResizeTarget(v: unknown): ResizeTarget {
  if (v === undefined) return { shortestEdge: DEFAULT_SIZE };
  if (typeof v === 'number') return { shortestEdge: positiveInt(v, 'size') };
  if (isRecord(v)) {
    // CLIPImageProcessor.resize prefers shortest_edge; `longest_edge`, if present, is ignored there too.
    if (v['shortest_edge'] != null) return { shortestEdge: positiveInt(v['shortest_edge'], 'size.shortest_edge') };
    if (v['height'] != null || v['width'] != null) {
      return { height: positiveInt(v['height'], 'size.height'), width: positiveInt(v['width'], 'size.width') };
    }
  }
  throw new PreprocessorConfigError(
    'size',
    `"size" must be an integer, {"shortest_edge": n} or {"height": h, "width": w}, got ${describe(v)}.`,
  );
}

function parseCropSize(v: unknown): { height: number; width: number } {
  if (v === undefined) return { height: DEFAULT_SIZE, width: DEFAULT_SIZE };
  if (typeof v === 'number') {
    const n = positiveInt(v, 'crop_size');
    return { height: n, width: n };
  }
  if (isRecord(v)) {
    return { height: positiveInt(v['height'], 'crop_size.height'), width: positiveInt(v['width'], 'crop_size.width') };
  }
  throw new PreprocessorConfigError('crop_size', `"crop_size" must be an integer or {"height": h, "width": w}, got ${describe(v)}.`);
}

function parseResample(v: unknown): ResampleFilter {
  if (v === undefined) return Resample.BICUBIC;
  if (v === Resample.NEAREST) {
    throw new PreprocessorConfigError(
      'resample',
      '"resample": 0 (nearest) is not supported; CLIP models use 3 (bicubic). Supported: 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming.',
    );
  }
  if (v === 1 || v === 2 || v === 3 || v === 4 || v === 5) return v;
  throw new PreprocessorConfigError(
    'resample',
    `"resample" must be a Pillow filter number (${Object.entries(RESAMPLE_NAMES).map(([k, n]) => `${k} ${n}`).join(', ')}), got ${describe(v)}.`,
  );
}

function parseRescaleFactor(v: unknown): number {
  if (v === undefined) return 1 / 255;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new PreprocessorConfigError('rescale_factor', `"rescale_factor" must be a positive number (usually 1/255), got ${describe(v)}.`);
  }
  return v;
}

function parseTriple(
  v: unknown,
  name: string,
  fallback: readonly [number, number, number],
  nonZero: boolean,
): readonly [number, number, number] {
  if (v === undefined) return fallback;
  // A single number applies to every channel, as in transformers' normalize().
  const values = typeof v === 'number' ? [v, v, v] : v;
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && (!nonZero || x > 0);
  if (Array.isArray(values)) {
    const list: unknown[] = values;
    const [r, g, b] = list;
    if (list.length === 3 && ok(r) && ok(g) && ok(b)) return [r, g, b];
  }
  const what = nonZero ? 'positive numbers' : 'numbers';
  throw new PreprocessorConfigError(name, `"${name}" must be a list of 3 ${what} (R, G, B) or one number, got ${describe(v)}.`);
}
