/**
 * The parts of a Hugging Face CLIP config.json that the app needs, validated with messages that
 * name the field.
 *
 * transformers writes only the fields that differ from their defaults when it saves a config
 * (`vision_config` may be just `{"dropout": 0.0, "model_type": "clip_vision_model"}`, and
 * `text_config` or `projection_dim` may be missing), so an absent field takes the default of
 * CLIPVisionConfig / CLIPTextConfig / CLIPConfig, as `CLIPModel.from_pretrained` would. A field
 * that is present must be valid: a wrong value is an error, never silently replaced.
 */
import { describeJson, isRecord } from './json';

export interface TowerShape {
  layers: number;
  heads: number;
  hidden: number;
}

/**
 * Where {@link ClipShape.logitScale} comes from:
 * - `trained`: config.json records a trained value (our own exports do), used as exp(value);
 * - `initial`: config.json holds transformers' initial value ln(1/0.07) = 2.6592, which is not
 *   what the weights were trained to, so CLIP's trained 100 is used instead;
 * - `absent`: config.json has no logit_scale_init_value; CLIP's trained 100 is used.
 */
export type LogitScaleSource = 'trained' | 'initial' | 'absent';

export interface ClipShape {
  vision: TowerShape & { imageSize: number; patchSize: number };
  text: TowerShape & { contextLength: number };
  projectionDim: number;
  /**
   * exp(logit scale), unitless: multiplies cosine similarities before the softmax over prompts
   * (the inverse temperature). At most 100, the clamp CLIP training applies.
   */
  logitScale: number;
  /** Why `logitScale` has its value; see {@link describeLogitScale} for a sentence. */
  logitScaleSource: LogitScaleSource;
}

/** CLIP's trained exp(logit scale) (OpenAI's checkpoints all reach the clamp at 100). */
export const CLIP_TRAINED_LOGIT_SCALE = 100;

/** transformers' CLIPConfig.logit_scale_init_value: ln(1 / 0.07), the value training starts from. */
export const HF_INITIAL_LOGIT_SCALE = 2.6592;

/** The defaults of transformers' CLIPVisionConfig, CLIPTextConfig and CLIPConfig (ViT-B/32). */
const DEFAULTS = {
  'vision_config.hidden_size': 768,
  'vision_config.num_hidden_layers': 12,
  'vision_config.num_attention_heads': 12,
  'vision_config.image_size': 224,
  'vision_config.patch_size': 32,
  'text_config.hidden_size': 512,
  'text_config.num_hidden_layers': 12,
  'text_config.num_attention_heads': 8,
  'text_config.max_position_embeddings': 77,
  projection_dim: 512,
} as const;

type FieldPath = keyof typeof DEFAULTS;

function fail(message: string): never {
  throw new Error(`config.json: ${message}`);
}

/**
 * One tower's sub-config. Absent or null means "all defaults" (transformers logs "text_config is
 * None. Initializing the CLIPTextConfig with default values."). Older exports also carry
 * `text_config_dict` / `vision_config_dict`, whose values CLIPConfig lets win over `*_config`.
 */
function tower(config: Record<string, unknown>, key: 'vision_config' | 'text_config'): Record<string, unknown> {
  const parts: Record<string, unknown>[] = [];
  for (const k of [key, `${key}_dict`]) {
    const v = config[k];
    if (v === undefined || v === null) continue;
    if (!isRecord(v)) fail(`"${k}" must be an object, got ${describeJson(v)}: fix it or remove it to use transformers' defaults.`);
    parts.push(v);
  }
  return Object.assign({}, ...parts) as Record<string, unknown>;
}

/** A count or size in the config: absent or null → transformers' default; otherwise a positive integer. */
function field(config: Record<string, unknown>, towers: Record<'vision_config' | 'text_config', Record<string, unknown>>, path: FieldPath): number {
  const [head, key] = path.split('.') as [string, string | undefined];
  const v = key === undefined ? config[head] : towers[head as 'vision_config' | 'text_config'][key];
  if (v === undefined || v === null) return DEFAULTS[path];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    fail(`"${path}" must be a positive integer, got ${describeJson(v)}: fix it, or remove it to use transformers' default ${DEFAULTS[path]}.`);
  }
  return v;
}

/**
 * The model_type of a full CLIP model ("clip", and relatives such as "chinese_clip"), not one
 * tower alone ("clip_vision_model" has no text encoder) nor another architecture ("bert").
 */
function checkModelType(config: Record<string, unknown>): void {
  const type = config['model_type'];
  if (type === undefined) return; // hand-written configs often leave it out
  if (typeof type !== 'string') fail(`"model_type" must be a string such as "clip", got ${describeJson(type)}: is this a CLIP model folder?`);
  if (/clip_(vision|text)_model$/i.test(type)) {
    fail(`"model_type" is ${JSON.stringify(type)}, one tower only: the app needs a full CLIP model (model_type "clip") with both the image and the text encoder.`);
  }
  if (!/clip/i.test(type)) fail(`"model_type" is ${JSON.stringify(type)}, not a CLIP model: is this a CLIP model folder?`);
}

/**
 * The exp(logit scale) to use, and why.
 *
 * Every Hugging Face CLIP config stores logit_scale_init_value, the value training *starts* from
 * (2.6592 by default); the trained value lives in the weights, which the ONNX encoders do not
 * output. Trained CLIPs end at the clamp, exp = 100, so the initial value (or none) means 100: with
 * exp(2.6592) ≈ 14.3 zero-shot probabilities come out far too flat. Our own exports record their
 * trained value there instead (the bundled model's 3.37942 → exp = 29.35), which is used as it is.
 */
function logitScale(config: Record<string, unknown>): Pick<ClipShape, 'logitScale' | 'logitScaleSource'> {
  const v = config['logit_scale_init_value'];
  if (v === undefined || v === null) return { logitScale: CLIP_TRAINED_LOGIT_SCALE, logitScaleSource: 'absent' };
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    fail(`"logit_scale_init_value" must be a number (the log of the logit scale), got ${describeJson(v)}: fix it or remove it to use CLIP's trained 100.`);
  }
  // Configs round-trip through float32 and JSON, so compare with a tolerance, not ===.
  if (Math.abs(v - HF_INITIAL_LOGIT_SCALE) < 1e-3) return { logitScale: CLIP_TRAINED_LOGIT_SCALE, logitScaleSource: 'initial' };
  return { logitScale: Math.min(CLIP_TRAINED_LOGIT_SCALE, Math.exp(v)), logitScaleSource: 'trained' };
}

/**
 * Reads a parsed config.json, filling absent fields with transformers' CLIP defaults.
 *
 * @param config The parsed JSON.
 * @param _modelId Unused; kept so that existing callers need not change.
 * @throws Error naming the field when a present field is invalid, or when the config is not a
 *   JSON object or not a CLIP model's.
 */
export function parseClipConfig(config: unknown, _modelId?: string): ClipShape {
  if (!isRecord(config)) fail(`expected a JSON object, got ${describeJson(config)}: is this a CLIP model folder?`);
  checkModelType(config);
  const towers = { vision_config: tower(config, 'vision_config'), text_config: tower(config, 'text_config') };
  const f = (path: FieldPath) => field(config, towers, path);
  return {
    vision: {
      layers: f('vision_config.num_hidden_layers'),
      heads: f('vision_config.num_attention_heads'),
      hidden: f('vision_config.hidden_size'),
      imageSize: f('vision_config.image_size'),
      patchSize: f('vision_config.patch_size'),
    },
    text: {
      layers: f('text_config.num_hidden_layers'),
      heads: f('text_config.num_attention_heads'),
      hidden: f('text_config.hidden_size'),
      contextLength: f('text_config.max_position_embeddings'),
    },
    projectionDim: f('projection_dim'),
    ...logitScale(config),
  };
}

/** One sentence for the UI: which scale the probabilities use and where it came from. */
export function describeLogitScale(shape: Pick<ClipShape, 'logitScale' | 'logitScaleSource'>): string {
  const scale = formatScale(shape.logitScale);
  switch (shape.logitScaleSource) {
    case 'trained':
      return `Probabilities are a softmax over the prompts of ${scale} × cosine similarity; ${scale} = exp(logit_scale_init_value), the trained value this model's config.json records.`;
    case 'initial':
      return `Probabilities are a softmax over the prompts of ${scale} × cosine similarity: config.json holds only transformers' initial value 2.6592 (exp ≈ 14.3), so CLIP's trained ${scale} is used.`;
    case 'absent':
      return `Probabilities are a softmax over the prompts of ${scale} × cosine similarity: config.json has no logit_scale_init_value, so CLIP's trained ${scale} is used.`;
  }
}

/** The scale as the UI prints it: "100", "29.35". */
export function formatScale(scale: number): string {
  return Number.isInteger(scale) ? String(scale) : scale.toFixed(2);
}
