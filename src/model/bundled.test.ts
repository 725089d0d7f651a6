/**
 * The bundled model keeps what it achieved: on freshly drawn scenes (a seed the training never
 * saw), the committed ONNX files retrieve the right captions. Runs ONNX Runtime (web build) in Node.
 *
 * The floors are the levels the committed model reaches minus a margin (tools/models/README.md
 * has the numbers), so a broken export or a worse retrain fails here. Top-1 is near the 95 % the
 * model was trained for (0.983 on evaluate.py's held-out scenes); "both objects above every absent
 * caption" (target 90 %) is met (0.907 on evaluate.py's 300 pairs), with less room.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePreprocessorConfig } from '../image/preprocess';
import { ClipTextTokenizer } from '../text/tokenizer';
import { CLASSES, makeScene, seededRandom } from '../testing/scenes';
import { MODEL_DIR } from '../testing/golden';

const json = (name: string): unknown => JSON.parse(readFileSync(MODEL_DIR + name, 'utf8'));
const N = 200;
/** Measured on the committed model minus a margin; see the file's header. */
const TOP1_FLOOR = 0.95; // measured 0.98 (196/200)
const PAIRS_FLOOR = 0.985; // measured 0.998
const BOTH_FLOOR = 0.86; // measured 0.92 (184/200)

let vision: ort.InferenceSession;
let captionEmbeds: Float32Array[];
let size: number;
let mean: readonly number[];
let std: readonly number[];

function normalised(e: Float32Array): Float32Array {
  const n = Math.hypot(...e);
  return e.map((v) => v / n);
}

async function imageEmbed(rgba: Uint8ClampedArray): Promise<Float32Array> {
  const px = new Float32Array(3 * size * size);
  for (let i = 0; i < size * size; i++) {
    for (let c = 0; c < 3; c++) px[c * size * size + i] = ((rgba[4 * i + c] as number) / 255 - (mean[c] as number)) / (std[c] as number);
  }
  const out = await vision.run({ pixel_values: new ort.Tensor('float32', px, [1, 3, size, size]) });
  return normalised(out['image_embeds']?.data as Float32Array);
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * (b[i] as number), 0);

beforeAll(async () => {
  ort.env.wasm.numThreads = 1;
  const pre = parsePreprocessorConfig(json('preprocessor_config.json'));
  size = pre.cropSize.width;
  mean = pre.imageMean;
  std = pre.imageStd;
  vision = await ort.InferenceSession.create(readFileSync(MODEL_DIR + 'onnx/vision_model.onnx'));
  const text = await ort.InferenceSession.create(readFileSync(MODEL_DIR + 'onnx/text_model.onnx'));
  const tok = ClipTextTokenizer.fromJSON(json('tokenizer.json'), json('tokenizer_config.json'));
  captionEmbeds = [];
  for (const c of CLASSES) {
    const ids = tok.encode(c.caption)?.ids ?? [];
    const out = await text.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]) });
    captionEmbeds.push(normalised(out['text_embeds']?.data as Float32Array));
  }
});

describe('bundled model on fresh scenes', () => {
  it('ranks a present object first among the 24 captions', async () => {
    const rand = seededRandom(20261127);
    let hits = 0;
    for (let i = 0; i < N; i++) {
      const scene = makeScene(rand, { width: size, height: size });
      const e = await imageEmbed(scene.rgba);
      const sims = captionEmbeds.map((t) => dot(e, t));
      const best = sims.indexOf(Math.max(...sims));
      if (scene.objects.some((o) => o.label === best)) hits++;
    }
    console.log(`top-1 caption present: ${hits}/${N}`);
    expect(hits / N).toBeGreaterThanOrEqual(TOP1_FLOOR);
  });

  it('ranks the objects of two-object scenes above absent captions', async () => {
    const rand = seededRandom(777001);
    let hits = 0;
    let pairs = 0;
    let orderedPairs = 0;
    for (let i = 0; i < N; i++) {
      const scene = makeScene(rand, { width: size, height: size, objects: 2, distinct: true });
      const e = await imageEmbed(scene.rgba);
      const sims = captionEmbeds.map((t) => dot(e, t));
      const present = new Set(scene.objects.map((o) => o.label));
      const lowestPresent = Math.min(...[...present].map((l) => sims[l] as number));
      const highestAbsent = Math.max(...sims.filter((_, l) => !present.has(l)));
      if (lowestPresent > highestAbsent) hits++;
      for (const l of present) {
        for (let a = 0; a < sims.length; a++) {
          if (present.has(a)) continue;
          pairs++;
          if ((sims[l] as number) > (sims[a] as number)) orderedPairs++;
        }
      }
    }
    console.log(`both objects above every absent caption: ${hits}/${N}; present-vs-absent pairs ordered: ${(orderedPairs / pairs).toFixed(3)}`);
    expect(orderedPairs / pairs).toBeGreaterThanOrEqual(PAIRS_FLOOR);
    expect(hits / N).toBeGreaterThanOrEqual(BOTH_FLOOR);
  });
});
