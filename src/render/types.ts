/**
 * Plain pixel shapes for the pure renderers. Nothing here touches the DOM, so the renderers also
 * run in tests (Node) and could run in a worker on an OffscreenCanvas.
 */

/**
 * An RGBA8 pixel buffer, straight (not premultiplied) alpha, row-major, top row first:
 * pixel (x, y) is `data[4 * (y * width + x) + 0..3]`. An `ImageData` is one.
 */
export interface PixelBuffer {
  readonly data: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

/**
 * The part of the output the model saw (its centre crop), in OUTPUT pixel coordinates
 * (fractional allowed): pixel (px, py) is inside when its centre (px + ½, py + ½) lies in
 * `[x, x + width) × [y, y + height)`. Same fields as the worker protocol's `CropBox`, which is
 * in the decoded image's pixels: scale it to the canvas before passing it here.
 */
export interface CropBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Throws unless `out` is a consistent RGBA buffer. */
export function checkPixelBuffer(out: PixelBuffer, what = 'output buffer'): void {
  const { width, height, data } = out;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new Error(`${what}: width and height must be non-negative integers, got ${width}×${height}`);
  }
  if (data.length !== width * height * 4) {
    throw new Error(`${what}: data has ${data.length} bytes but ${width}×${height} RGBA needs ${width * height * 4}`);
  }
}

/** Throws unless the crop box has a finite position and a positive size. */
export function checkCropBox(box: CropBox): void {
  const finite = [box.x, box.y, box.width, box.height].every(Number.isFinite);
  if (!finite || box.width <= 0 || box.height <= 0) {
    throw new Error(
      `crop box ${JSON.stringify(box)} is invalid: it needs finite x, y and a positive width and height ` +
        `(output pixels)`,
    );
  }
}
