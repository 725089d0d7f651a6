/**
 * Blob -> RGBA pixels, in the worker (createImageBitmap + OffscreenCanvas).
 * EXIF orientation is applied (`imageOrientation: 'from-image'`), as an <img> shows it.
 */
import { formatWorkerError } from '../protocol';

export interface DecodedImage {
  data: Uint8ClampedArray; // RGBA, row-major, width × height
  width: number;
  height: number;
  /** Size of the oriented original (larger than width × height when a huge image was reduced). */
  originalWidth: number;
  originalHeight: number;
  /** Scale from `data` pixels to original pixels: > 1 when a huge image was reduced. */
  scale: number;
  /**
   * A PNG of at most {@link DISPLAY_MAX_SIDE} px a side, to show instead of the file, when the
   * file has more than {@link DISPLAY_MAX_PIXELS} pixels and a copy was asked for; else null.
   */
  display: Blob | null;
}

/**
 * Files with more pixels than this (more than any view shows) are shown through a smaller copy:
 * the page's <img> decodes the whole file on the compositor's path, and a JPEG whose header claims
 * 2138 × 33290 (71 MP of grey from 1 KB of data, which Chrome decodes) held up every frame for two
 * seconds; one that claims 3999 × 3999, half a second.
 */
export const DISPLAY_MAX_PIXELS = 4_000_000;
/** Longest side of that copy: the focus view is at most 760 CSS px, twice that on a HiDPI screen. */
export const DISPLAY_MAX_SIDE = 1600;

/**
 * Images whose short side exceeds this are reduced on decode: the model sees at most a few
 * hundred pixels, and a 12000×9000 RGBA buffer alone is 432 MB.
 */
export const MAX_DECODE_SHORT_SIDE = 1536;

function bad(message: string): Error {
  return new Error(formatWorkerError('bad-image', message));
}

/** Decodes `blob`; with `display`, a very large image also gets its display copy (see {@link DecodedImage.display}). */
export async function decodeImage(blob: Blob, options: { display?: boolean } = {}): Promise<DecodedImage> {
  if (blob.size === 0) throw bad('The file is empty (0 bytes).');
  if (blob.type === 'image/svg+xml') {
    throw bad('SVG images are not supported: export the drawing as PNG or JPEG and drop that instead.');
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none',
      colorSpaceConversion: 'default' });
  } catch {
    const head = new Uint8Array(await blob.slice(0, 16).arrayBuffer());
    const looksText = head.length > 0 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
    throw bad(looksText
      ? 'This file is text, not an image (its name may say otherwise). Drop a PNG, JPEG, WebP, GIF or BMP file.'
      : 'The image could not be decoded: the file is damaged, cut short or in a format this browser cannot read.');
  }
  const { width, height } = bitmap;
  if (width === 0 || height === 0) throw bad('The image has no pixels.');
  let scale = 1;
  const short = Math.min(width, height);
  if (short > MAX_DECODE_SHORT_SIDE) {
    scale = short / MAX_DECODE_SHORT_SIDE;
    const reduced = await createImageBitmap(bitmap, {
      resizeWidth: Math.round(width / scale),
      resizeHeight: Math.round(height / scale),
      resizeQuality: 'high',
    });
    bitmap.close();
    bitmap = reduced;
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw bad('This browser cannot read image pixels in a worker (no OffscreenCanvas 2D).');
  ctx.drawImage(bitmap, 0, 0);
  const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  let display: Blob | null = null;
  try {
    if (options.display && width * height > DISPLAY_MAX_PIXELS) display = await displayCopy(bitmap);
  } catch {
    display = null; // the file itself is shown then, slowly
  }
  const out = { data, width: bitmap.width, height: bitmap.height, originalWidth: width, originalHeight: height, scale, display };
  bitmap.close();
  return out;
}

/** `bitmap` scaled to fit DISPLAY_MAX_SIDE (each side at least 1 px), as a PNG (alpha kept). */
async function displayCopy(bitmap: ImageBitmap): Promise<Blob> {
  const fit = Math.min(1, DISPLAY_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = new OffscreenCanvas(Math.max(1, Math.round(bitmap.width * fit)), Math.max(1, Math.round(bitmap.height * fit)));
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D context');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return canvas.convertToBlob({ type: 'image/png' });
}
