/**
 * Golden references written by tools/models/goldens.py (PyTorch, same weights as the bundled
 * model). Each tensor is little-endian float32 at `offset` in golden.bin with the given shape.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const GOLDEN_DIR = fileURLToPath(new URL('../../tools/models/golden/', import.meta.url));
export const MODEL_DIR = fileURLToPath(new URL('../../public/models/clip-lens-shapes/', import.meta.url));

export interface TensorRef {
  offset: number;
  shape: number[];
}

export interface GoldenImage {
  file: string;
  pixel_values: TensorRef; // (3, S, S)
  image_embeds: TensorRef; // (D,)
  /** Per layer (heads, seq, seq); empty for images stored without them (goldens.py ATTENTION_IMAGES). */
  attentions: TensorRef[];
  rollout?: Record<'mean' | 'max' | 'min', TensorRef>; // (seq, seq), where attentions are stored
}

export interface GoldenPrompt {
  text: string;
  input_ids: number[];
  text_embeds: TensorRef;
  attentions: TensorRef[]; // per layer (heads, seq, seq), seq = input_ids.length
}

export interface GoldenPair {
  image: number;
  prompt: number;
  score: number; // exp(logit_scale) * cosine
  image_relevance_last_layer: TensorRef; // (patches,)
  image_relevance_all_layers: TensorRef;
  text_relevance_last_layer: TensorRef; // (tokens between start and end of text,)
  text_relevance_all_layers: TensorRef;
  patch_contributions: TensorRef; // (patches,), explain_torch.py patch_contributions
}

export interface Golden {
  model: string;
  image_size: number;
  patch_grid: number;
  images: GoldenImage[];
  prompts: GoldenPrompt[];
  pairs: GoldenPair[];
}

let cache: { meta: Golden; bin: ArrayBuffer } | undefined;

export function golden(): Golden {
  return load().meta;
}

/** A golden image stored with its vision attention stack and rollout. */
export type GoldenImageWithAttentions = GoldenImage & { rollout: NonNullable<GoldenImage['rollout']> };

/** The golden images stored with their vision attention stacks and rollout. */
export function imagesWithAttentions(): GoldenImageWithAttentions[] {
  return golden().images.filter((im): im is GoldenImageWithAttentions => im.attentions.length > 0 && im.rollout !== undefined);
}

/** The tensor's values, as a fresh Float32Array. */
export function tensor(ref: TensorRef): Float32Array {
  const { bin } = load();
  const n = ref.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(bin.slice(ref.offset, ref.offset + 4 * n));
}

export function goldenFile(name: string): Uint8Array {
  return new Uint8Array(readFileSync(GOLDEN_DIR + name));
}

export function modelFile(path: string): Uint8Array {
  return new Uint8Array(readFileSync(MODEL_DIR + path));
}

/** Largest absolute difference between two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/**
 * Pearson correlation of two equally long arrays. A constant array correlates only with an
 * equal constant one (1), else 0 (e.g. an all-zero relevance map, every gradient·attention ≤ 0).
 */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] as number;
    mb += b[i] as number;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = (a[i] as number) - ma;
    const y = (b[i] as number) - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  if (saa === 0 || sbb === 0) return saa === sbb && ma === mb ? 1 : 0;
  return sab / Math.sqrt(saa * sbb);
}

function load(): { meta: Golden; bin: ArrayBuffer } {
  if (!cache) {
    const meta = JSON.parse(readFileSync(GOLDEN_DIR + 'golden.json', 'utf8')) as Golden;
    const buf = readFileSync(GOLDEN_DIR + 'golden.bin');
    cache = { meta, bin: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) };
  }
  return cache;
}
