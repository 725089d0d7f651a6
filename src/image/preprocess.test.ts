import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { golden, goldenFile, MODEL_DIR, tensor } from '../testing/golden';
import {
  parsePreprocessorConfig,
  preprocess,
  preprocessGeometry,
  PreprocessorConfigError,
  type PreprocessorConfig,
  type RgbaImage,
} from './preprocess';
import { resize } from './resize';

const cfg = parsePreprocessorConfig(JSON.parse(readFileSync(MODEL_DIR + 'preprocessor_config.json', 'utf8')));
/** The geometry tests' fixed size (64 px), whatever the bundled model's input is. */
const cfg64 = { ...cfg, size: { shortestEdge: 64 }, cropSize: { height: 64, width: 64 } };

/** pngjs decodes every PNG (RGB, grey, palette) to RGBA, like a canvas does. */
function readPng(name: string): RgbaImage {
  const png = PNG.sync.read(Buffer.from(goldenFile(name)));
  return { data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), width: png.width, height: png.height };
}

/** Deterministic RGBA noise with some smooth structure, so both flat areas and edges occur. */
function synthetic(width: number, height: number): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const n = (Math.imul(y * width + x, 2654435761) >>> 13) & 63;
      data[i] = (x * 255) / width + n;
      data[i + 1] = (y * 255) / height - n;
      data[i + 2] = ((x ^ y) & 16) * 12 + n;
      data[i + 3] = 255;
    }
  }
  return { data, width, height };
}

/** Model values back to [0, 1] pixel units: x · std + mean (undoes the normalisation). */
function toUnit(values: Float32Array, c: PreprocessorConfig, plane: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const ch = Math.floor(i / plane);
    out[i] = (values[i] as number) * (c.imageStd[ch] as number) + (c.imageMean[ch] as number);
  }
  return out;
}

describe('preprocess vs PyTorch/PIL goldens', () => {
  const g = golden();
  it.each(g.images.map((im) => [im.file, im] as const))('%s', (file, im) => {
    const img = readPng(file);
    const { pixelValues, width, height } = preprocess(img, cfg);
    expect([3, height, width]).toEqual(im.pixel_values.shape);
    const want = tensor(im.pixel_values);
    const plane = width * height;
    const ours = toUnit(pixelValues, cfg, plane);
    const ref = toUnit(want, cfg, plane);
    let max = 0;
    let differingBytes = 0;
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let i = c * plane; i < (c + 1) * plane; i++) {
        const d = Math.abs((ours[i] as number) - (ref[i] as number));
        sum += d;
        max = Math.max(max, d);
        if (Math.round((ours[i] as number) * 255) !== Math.round((ref[i] as number) * 255)) differingBytes++;
      }
      expect(sum / plane).toBeLessThanOrEqual(1 / 255); // the acceptance bar, per channel
    }
    // In fact the 8-bit resize is Pillow's exactly: only float32 rounding remains.
    expect(differingBytes).toBe(0);
    expect(max).toBeLessThan(1e-6);
    console.log(`${file} ${img.width}×${img.height}: max |Δ| = ${max.toExponential(2)} (pixel units in [0, 1]), bytes differing: ${differingBytes}`);
  });
});

describe('crop box (original image coordinates)', () => {
  it('landscape: full height, centred horizontally', () => {
    // 200×150 → 85×64 (floor(64·200/150) = 85); left = floor(21/2) = 10.
    const geo = preprocessGeometry(200, 150, cfg64);
    expect(geo.resized).toEqual({ width: 85, height: 64 });
    expect(geo.crop).toEqual({ left: 10, top: 0, width: 64, height: 64 });
    expect(geo.cropBox.x).toBeCloseTo((10 * 200) / 85, 12);
    expect(geo.cropBox.y).toBe(0);
    expect(geo.cropBox.width).toBeCloseTo((64 * 200) / 85, 12);
    expect(geo.cropBox.height).toBe(150);
  });

  it('portrait: full width, centred vertically', () => {
    // 120×180 → 64×96; top = 16 → 16 · 180/96 = 30 in the original; 64 · 1.875 = 120 tall.
    expect(preprocess(readPng('scene1.png'), cfg64).cropBox).toEqual({ x: 0, y: 30, width: 120, height: 120 });
  });

  it('square: the whole image', () => {
    expect(preprocess(readPng('camera.png'), cfg64).cropBox).toEqual({ x: 0, y: 0, width: 512, height: 512 });
  });

  it('a 5×3 image is enlarged (106×64) and cropped like a big one', () => {
    const img = synthetic(5, 3);
    const { pixelValues, cropBox, width, height } = preprocess(img, cfg64);
    expect([width, height]).toEqual([64, 64]);
    expect(preprocessGeometry(5, 3, cfg64).crop).toEqual({ left: 21, top: 0, width: 64, height: 64 });
    expect(cropBox.x).toBeCloseTo((21 * 5) / 106, 12);
    expect(cropBox.width).toBeCloseTo((64 * 5) / 106, 12);
    expect(cropBox.height).toBe(3);
    expectCropOfFullResize(img, pixelValues, 106, 64, 21, 0);
  });

  it('crop larger than the resized image: black padding, box past the edges (CLIPImageProcessor pads)', () => {
    const c = { ...cfg64, size: { shortestEdge: 60 }, cropSize: { height: 64, width: 64 } };
    const img = synthetic(61, 60); // → 61×60; crop offsets floor(-3/2) = -2, floor(-4/2) = -2
    const geo = preprocessGeometry(61, 60, c);
    expect(geo.crop).toEqual({ left: -2, top: -2, width: 64, height: 64 });
    expect(geo.cropBox).toEqual({ x: -2, y: -2, width: 64, height: 64 });
    const { pixelValues } = preprocess(img, c);
    const black = (ch: number) => -(c.imageMean[ch] as number) / (c.imageStd[ch] as number);
    // Row 0, 1 and 63 and columns 0, 1 and 63 (61 + 2 = 63) are padding.
    for (const [x, y] of [[0, 0], [1, 30], [63, 10], [30, 63], [30, 1]] as const) {
      for (let ch = 0; ch < 3; ch++) expect(pixelValues[ch * 4096 + y * 64 + x]).toBeCloseTo(black(ch), 5);
    }
    // Inside, image pixel (0, 0) sits at (2, 2): no resize happened (60 is already the short edge).
    expect(pixelValues[2 * 64 + 2]).toBeCloseTo(((img.data[0] as number) / 255 - c.imageMean[0]) / c.imageStd[0], 5);
  });

  it('without centre crop the input is the whole resized image', () => {
    const c = { ...cfg64, doCenterCrop: false };
    const r = preprocess(synthetic(200, 150), c);
    expect([r.width, r.height, r.pixelValues.length]).toEqual([85, 64, 3 * 85 * 64]);
    expect(r.cropBox).toEqual({ x: 0, y: 0, width: 200, height: 150 });
  });

  it('{height, width} size resizes to that exact size', () => {
    const c = { ...cfg64, size: { height: 70, width: 80 } };
    const geo = preprocessGeometry(200, 150, c);
    expect(geo.resized).toEqual({ width: 80, height: 70 });
    expect(geo.crop).toEqual({ left: 8, top: 3, width: 64, height: 64 });
    expect(geo.cropBox).toEqual({ x: 20, y: (3 * 150) / 70, width: 160, height: (64 * 150) / 70 });
  });
});

describe('big images: only the crop is resampled', () => {
  it('equals resizing the whole image and cropping (moderate image)', () => {
    const img = synthetic(1203, 907); // → 84×64, left = 10
    const geo = preprocessGeometry(img.width, img.height, cfg64);
    expect(geo.resized).toEqual({ width: 84, height: 64 });
    expectCropOfFullResize(img, preprocess(img, cfg64).pixelValues, 84, 64, geo.crop.left, geo.crop.top);
  });

  it('a portrait 1×2000 strip works (its resized width would be 64, height 128000)', () => {
    const img = synthetic(1, 2000);
    const r = preprocess(img, cfg64);
    expect(preprocessGeometry(1, 2000, cfg64).resized).toEqual({ width: 64, height: 128000 });
    expect(r.cropBox).toEqual({ x: 0, y: 999.5, width: 1, height: 1 });
    expect(r.pixelValues.every(Number.isFinite)).toBe(true);
  });
});

describe('bad input', () => {
  it('rejects RGBA data of the wrong length', () => {
    expect(() => preprocess({ data: new Uint8ClampedArray(12), width: 2, height: 2 }, cfg64)).toThrow(/needs 16/);
  });
  it('rejects empty images', () => {
    expect(() => preprocess({ data: new Uint8ClampedArray(0), width: 0, height: 3 }, cfg64)).toThrow(/positive integers/);
  });
});

describe('parsePreprocessorConfig', () => {
  it('reads the bundled model config', () => {
    expect(cfg).toEqual({
      doResize: true,
      size: { shortestEdge: 144 },
      resample: 3,
      doCenterCrop: true,
      cropSize: { height: 144, width: 144 },
      doRescale: true,
      rescaleFactor: 0.00392156862745098,
      doNormalize: true,
      imageMean: [0.48145466, 0.4578275, 0.40821073],
      imageStd: [0.26862954, 0.26130258, 0.27577711],
      doConvertRgb: true,
    });
  });

  it("fills in CLIPImageProcessor's defaults for absent or null fields", () => {
    const d = parsePreprocessorConfig({ size: null, feature_extractor_type: 'CLIPFeatureExtractor' });
    expect(d).toMatchObject({ doResize: true, size: { shortestEdge: 224 }, resample: 3, cropSize: { height: 224, width: 224 } });
    expect(d.rescaleFactor).toBe(1 / 255);
    expect(d.imageStd).toEqual([0.26862954, 0.26130258, 0.27577711]);
  });

  it('centre-crops to 224×224 when do_center_crop and crop_size are absent, as CLIPImageProcessor does', () => {
    // Python's CLIPImageProcessor defaults to do_center_crop=True, crop_size 224; transformers.js
    // takes absent as "no crop". Python's is the one a CLIP ViT can run: its position embeddings
    // fit one square grid, and a 640×480 photo resized to shortest edge 224 is 298×224 uncropped.
    const d = parsePreprocessorConfig({ size: { shortest_edge: 224 } });
    expect(d).toMatchObject({ doCenterCrop: true, cropSize: { height: 224, width: 224 } });
    expect(preprocessGeometry(640, 480, d)).toMatchObject({
      resized: { width: 298, height: 224 },
      crop: { left: 37, top: 0, width: 224, height: 224 },
    });
    // An explicit false is still honoured.
    expect(preprocessGeometry(640, 480, parsePreprocessorConfig({ do_center_crop: false })).crop).toMatchObject({ width: 298, height: 224 });
  });

  it('accepts the legacy integer sizes of openai/clip-vit-base-patch32', () => {
    const d = parsePreprocessorConfig({ size: 224, crop_size: 224, resample: 3, image_mean: 0.5, image_std: [0.5, 0.5, 0.5] });
    expect(d.size).toEqual({ shortestEdge: 224 });
    expect(d.cropSize).toEqual({ height: 224, width: 224 });
    expect(d.imageMean).toEqual([0.5, 0.5, 0.5]);
  });

  it('use_square_size turns the shortest edge into a square', () => {
    expect(parsePreprocessorConfig({ size: { shortest_edge: 32 }, use_square_size: true }).size).toEqual({ height: 32, width: 32 });
  });

  it.each([
    [[], '', /expected a JSON object, got an array/],
    [{ size: { shortest_edge: -3 } }, 'size.shortest_edge', /"size.shortest_edge" must be a positive integer/],
    [{ size: { longest_edge: 3 } }, 'size', /"size" must be an integer, \{"shortest_edge"/],
    [{ size: { height: 3 } }, 'size.width', /"size.width" must be a positive integer \(pixels\), got undefined/],
    [{ crop_size: { height: 224, width: 22.5 } }, 'crop_size.width', /got number 22.5/],
    [{ crop_size: '224' }, 'crop_size', /"crop_size" must be/],
    [{ resample: 0 }, 'resample', /0 \(nearest\) is not supported/],
    [{ resample: 7 }, 'resample', /Pillow filter number .*3 bicubic/],
    [{ do_resize: 'yes' }, 'do_resize', /"do_resize" must be true or false/],
    [{ rescale_factor: 0 }, 'rescale_factor', /positive number/],
    [{ image_mean: [0.5, 0.5] }, 'image_mean', /list of 3 numbers/],
    [{ image_std: [0.5, 0, 0.5] }, 'image_std', /list of 3 positive numbers/],
  ] as const)('%j → error on %s', (json, field, message) => {
    let error: unknown;
    try {
      parsePreprocessorConfig(json);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PreprocessorConfigError);
    expect((error as PreprocessorConfigError).field).toBe(field);
    expect((error as PreprocessorConfigError).message).toMatch(message);
    expect((error as PreprocessorConfigError).message).toMatch(/^preprocessor_config\.json: /);
  });
});

/** pixelValues must be the (left, top) 64×64 crop of the full `resize` to rw × rh, normalised. */
function expectCropOfFullResize(img: RgbaImage, pixelValues: Float32Array, rw: number, rh: number, left: number, top: number): void {
  const full = resize({ ...img, channels: 4 }, rw, rh);
  const unit = toUnit(pixelValues, cfg64, 64 * 64);
  let differing = 0;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const byte = full.data[((y + top) * rw + x + left) * 3 + c] as number;
        if (Math.round((unit[c * 4096 + y * 64 + x] as number) * 255) !== byte) differing++;
      }
    }
  }
  expect(differing).toBe(0);
}
