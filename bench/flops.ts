/**
 * Multiply-adds of a CLIP vision encoder (Hugging Face CLIPVisionModelWithProjection), counted from
 * config.json. OpenAI ViT-B/32 at 224 px: 4.41 G multiply-adds (8.8 GFLOP).
 */

export interface VisionShape {
  imageSize: number;
  patchSize: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  projection: number;
  /** Tokens: CLS + (imageSize / patchSize)². */
  seq: number;
}

export interface VisionMacs {
  /** Patch embedding: a convolution with stride = kernel = patch size. */
  patch: number;
  /** q, k, v, out projections and the two MLP layers, all layers: L·S·(4D² + 2DI). */
  linear: number;
  /** Q·Kᵀ and P·V, all layers: L·2S²D. */
  attention: number;
  projection: number;
  total: number;
}

function num(obj: unknown, path: string): number {
  let cur: unknown = obj;
  for (const key of path.split('.')) cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[key] : undefined;
  if (typeof cur !== 'number') throw new Error(`config.json has no number at ${path}`);
  return cur;
}

export function visionShape(config: unknown): VisionShape {
  const v = (k: string) => num(config, `vision_config.${k}`);
  const imageSize = v('image_size');
  const patchSize = v('patch_size');
  const grid = Math.floor(imageSize / patchSize);
  return {
    imageSize, patchSize,
    hidden: v('hidden_size'), intermediate: v('intermediate_size'),
    layers: v('num_hidden_layers'), heads: v('num_attention_heads'),
    projection: num(config, 'projection_dim'),
    seq: 1 + grid * grid,
  };
}

export function visionMacs(s: VisionShape): VisionMacs {
  const patches = s.seq - 1;
  const patch = patches * 3 * s.patchSize ** 2 * s.hidden;
  const linear = s.layers * s.seq * (4 * s.hidden ** 2 + 2 * s.hidden * s.intermediate);
  const attention = s.layers * 2 * s.seq ** 2 * s.hidden;
  const projection = s.hidden * s.projection;
  return { patch, linear, attention, projection, total: patch + linear + attention + projection };
}

/** Bytes of all attention probabilities of one image, float32: layers·heads·seq²·4. */
export function attentionBytes(s: VisionShape): number {
  return s.layers * s.heads * s.seq ** 2 * 4;
}
