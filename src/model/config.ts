/**
 * The parts of a Hugging Face CLIP config.json that the app needs, validated with messages that
 * say which field is missing.
 */

export interface TowerShape {
  layers: number;
  heads: number;
  hidden: number;
}

export interface ClipShape {
  vision: TowerShape & { imageSize: number; patchSize: number };
  text: TowerShape & { contextLength: number };
  projectionDim: number;
  /** exp(logit scale): multiplies cosine similarities before the softmax over prompts. */
  logitScale: number;
}

function field(obj: unknown, path: string): number {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[key] : undefined;
  }
  if (typeof cur !== 'number' || !Number.isFinite(cur)) {
    throw new Error(`config.json has no numeric "${path}": is this a CLIP model folder?`);
  }
  return cur;
}

/**
 * OpenAI's CLIP checkpoints keep the trained logit scale (100) in the weights, not in
 * config.json (whose logit_scale_init_value is the initial 2.6592). Our exports record the
 * trained value in logit_scale_init_value.
 */
function logitScale(config: unknown, modelId: string): number {
  if (/clip-vit-(base|large)/i.test(modelId)) return 100;
  const v = typeof config === 'object' && config !== null
    ? (config as Record<string, unknown>)['logit_scale_init_value'] : undefined;
  return typeof v === 'number' ? Math.min(100, Math.exp(v)) : 100;
}

export function parseClipConfig(config: unknown, modelId: string): ClipShape {
  const textMax = (() => {
    try {
      return field(config, 'text_config.max_position_embeddings');
    } catch {
      return 77;
    }
  })();
  return {
    vision: {
      layers: field(config, 'vision_config.num_hidden_layers'),
      heads: field(config, 'vision_config.num_attention_heads'),
      hidden: field(config, 'vision_config.hidden_size'),
      imageSize: field(config, 'vision_config.image_size'),
      patchSize: field(config, 'vision_config.patch_size'),
    },
    text: {
      layers: field(config, 'text_config.num_hidden_layers'),
      heads: field(config, 'text_config.num_attention_heads'),
      hidden: field(config, 'text_config.hidden_size'),
      contextLength: textMax,
    },
    projectionDim: field(config, 'projection_dim'),
    logitScale: logitScale(config, modelId),
  };
}
