import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MODEL_DIR } from '../testing/golden';
import { describeLogitScale, parseClipConfig } from './config';

const bundled: unknown = JSON.parse(readFileSync(MODEL_DIR + 'config.json', 'utf8'));

/** ViT-B/32 shape, transformers' defaults for CLIPVisionConfig, CLIPTextConfig and CLIPConfig. */
const B32 = {
  vision: { layers: 12, heads: 12, hidden: 768, imageSize: 224, patchSize: 32 },
  text: { layers: 12, heads: 8, hidden: 512, contextLength: 77 },
  projectionDim: 512,
};

describe('parseClipConfig shapes', () => {
  it('reads the bundled model config', () => {
    expect(parseClipConfig(bundled)).toEqual({
      vision: { layers: 4, heads: 8, hidden: 128, imageSize: 144, patchSize: 12 },
      text: { layers: 3, heads: 4, hidden: 48, contextLength: 77 },
      projectionDim: 64,
      logitScale: Math.exp(3.37942),
      logitScaleSource: 'trained',
    });
  });

  it('fills the defaults into a config saved by newer transformers (only non-default fields written)', () => {
    // The shape of a real B/32 repo: the towers hold nothing but dropout and model_type.
    const config = {
      architectures: ['CLIPModel'],
      model_type: 'clip',
      text_config: { dropout: 0.0, model_type: 'clip_text_model' },
      vision_config: { dropout: 0.0, model_type: 'clip_vision_model' },
      logit_scale_init_value: 2.6592,
    };
    expect(parseClipConfig(config)).toMatchObject(B32);
  });

  it('fills whole towers and projection_dim when they are missing or null', () => {
    expect(parseClipConfig({ model_type: 'clip' })).toMatchObject(B32);
    expect(parseClipConfig({ text_config: null, vision_config: { patch_size: 16 } })).toMatchObject({
      ...B32, vision: { ...B32.vision, patchSize: 16 },
    });
  });

  it('lets the legacy *_config_dict values win, as CLIPConfig does', () => {
    const s = parseClipConfig({ vision_config: { patch_size: 32 }, vision_config_dict: { patch_size: 16, image_size: 336 } });
    expect(s.vision).toMatchObject({ patchSize: 16, imageSize: 336 });
  });

  it('keeps the values that are present (a ViT-L/14-336)', () => {
    const s = parseClipConfig({
      projection_dim: 768,
      text_config: { hidden_size: 768, num_attention_heads: 12 },
      vision_config: { hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, image_size: 336, patch_size: 14 },
    });
    expect(s).toMatchObject({
      vision: { layers: 24, heads: 16, hidden: 1024, imageSize: 336, patchSize: 14 },
      text: { layers: 12, heads: 12, hidden: 768, contextLength: 77 },
      projectionDim: 768,
    });
  });
});

describe('parseClipConfig errors', () => {
  // A present field that is wrong must not quietly become the default: the message names it.
  it.each([
    [{ vision_config: { num_hidden_layers: '12' } }, /"vision_config.num_hidden_layers" must be a positive integer, got string "12".*default 12/],
    [{ vision_config: { patch_size: 0 } }, /"vision_config.patch_size" must be a positive integer, got number 0/],
    [{ vision_config: { image_size: Number.NaN } }, /"vision_config.image_size" must be a positive integer/],
    [{ text_config: { num_attention_heads: -8 } }, /"text_config.num_attention_heads" must be a positive integer, got number -8/],
    [{ text_config: { max_position_embeddings: 76.5 } }, /"text_config.max_position_embeddings" must be a positive integer/],
    [{ projection_dim: '512' }, /"projection_dim" must be a positive integer.*default 512/],
    [{ vision_config: 'ViT-B/32' }, /"vision_config" must be an object, got string/],
    [{ logit_scale_init_value: '2.6592' }, /"logit_scale_init_value" must be a number/],
  ])('%j', (config, message) => {
    expect(() => parseClipConfig(config)).toThrow(message);
    expect(() => parseClipConfig(config)).toThrow(/^config\.json: /);
  });

  it.each([null, [], 'clip', 3])('refuses %j, which is not a JSON object', (config) => {
    expect(() => parseClipConfig(config)).toThrow(/config\.json: expected a JSON object.*is this a CLIP model folder\?/);
  });

  it.each(['bert', 'vit', 'llama'])('refuses model_type %j', (type) => {
    expect(() => parseClipConfig({ model_type: type })).toThrow(new RegExp(`"model_type" is "${type}", not a CLIP model: is this a CLIP model folder\\?`));
  });

  it('refuses a single tower, which has no other encoder', () => {
    expect(() => parseClipConfig({ model_type: 'clip_vision_model', num_hidden_layers: 12 })).toThrow(/one tower only.*full CLIP model/);
  });

  it('accepts CLIP relatives and configs without model_type', () => {
    expect(parseClipConfig({ model_type: 'chinese_clip' })).toMatchObject(B32);
    expect(parseClipConfig({})).toMatchObject(B32);
  });
});

describe('logit scale (the inverse temperature of the zero-shot softmax)', () => {
  it.each([
    // transformers' initial ln(1/0.07), as every Hub CLIP config stores it, also after float32 rounding.
    [2.6592, 100, 'initial'],
    [2.659260036932778, 100, 'initial'],
    [undefined, 100, 'absent'],
    [null, 100, 'absent'],
    // A recorded trained value is used: the bundled model's 3.37942 → 29.35.
    [3.37942, Math.exp(3.37942), 'trained'],
    [2.0, Math.exp(2.0), 'trained'],
    // exp(4.6052) = 100.0; training clamps at 100, so larger values are capped.
    [5, 100, 'trained'],
  ] as const)('logit_scale_init_value %j → %f (%s)', (value, scale, source) => {
    const s = parseClipConfig(value === undefined ? {} : { logit_scale_init_value: value });
    expect(s.logitScale).toBeCloseTo(scale, 10);
    expect(s.logitScaleSource).toBe(source);
  });

  it('no longer depends on the model id', () => {
    const config = { logit_scale_init_value: 3.37942 };
    expect(parseClipConfig(config, 'openai/clip-vit-base-patch32').logitScale).toBeCloseTo(29.35, 2);
    expect(parseClipConfig({ logit_scale_init_value: 2.6592 }, 'someone/my-clip').logitScale).toBe(100);
  });

  it('describes where the scale came from', () => {
    expect(describeLogitScale(parseClipConfig(bundled))).toMatch(/29\.35 × cosine.*trained value/);
    expect(describeLogitScale(parseClipConfig({ logit_scale_init_value: 2.6592 }))).toMatch(/100 × cosine.*initial value 2\.6592.*trained 100/);
    expect(describeLogitScale(parseClipConfig({}))).toMatch(/no logit_scale_init_value.*trained 100/);
  });
});
