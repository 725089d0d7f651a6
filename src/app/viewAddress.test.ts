import { describe, expect, it } from 'vitest';
import { decodeViewHash, encodeViewHash, MAX_ADDRESS_PROMPTS, MAX_PROMPT_LENGTH, type AddressView } from './viewAddress';

const METHODS = ['attention', 'rollout', 'relevance', 'difference'];

describe('the view in the address hash', () => {
  it('round-trips every field', () => {
    const view: AddressView = {
      method: 'rollout', layer: 3, heads: [0, 2], fusion: 'max', colormap: 'viridis', divergingColormap: 'rdbu', opacity: 0.45,
      rolloutDiscard: 0.9, relevanceStart: 0, differenceBase: 'clearclip', contributionLayers: 'selected',
      prompts: ['a red circle', 'a blue & green, square?', '', 'été #1'], promptIndex: 1, promptBIndex: 3,
      image: 'scene 1 (copy).png', compareOpen: true,
    };
    const hash = encodeViewHash(view);
    expect(hash).toMatch(/^#method=rollout&layer=3&heads=0,2&/);
    expect(hash).not.toContain('+');
    expect(decodeViewHash(hash, METHODS)).toEqual(view);
  });

  it('leaves out the model-dependent defaults and what is absent', () => {
    expect(encodeViewHash({ method: 'attention', layer: -1, heads: [], compareOpen: false })).toBe('#method=attention');
    expect(encodeViewHash({})).toBe('');
    expect(decodeViewHash('', METHODS)).toEqual({});
    expect(decodeViewHash('#', METHODS)).toEqual({});
  });

  it('reads a hash written by hand', () => {
    expect(decodeViewHash('method=attention&layer=0&heads=3,1,1&p=a+cat&p=a%20dog&a=1', METHODS))
      .toEqual({ method: 'attention', layer: 0, heads: [1, 3], prompts: ['a cat', 'a dog'], promptIndex: 1 });
  });

  it('ignores bad values and keeps the good ones', () => {
    const bad = '#method=nonsense&layer=-3&heads=0,x&fusion=sum&colormap=rainbow&diverging=&opacity=2&discard=abc'
      + '&relstart=-2&base=attention&contrib=some&a=5&b=0&image=&compare=yes&p=one&p=two&unknown=1';
    expect(decodeViewHash(bad, METHODS)).toEqual({ prompts: ['one', 'two'], promptBIndex: 0 });
    expect(decodeViewHash('#layer=1.5&opacity=NaN&heads=&a=0&b=0', METHODS)).toEqual({ promptIndex: 0 });
    expect(decodeViewHash('#%E0%A4%A&layer=2', METHODS)).toEqual({ layer: 2 });
  });

  it('caps the prompts a link can add', () => {
    const hash = Array.from({ length: 100 }, (_, i) => `p=${i}`).join('&');
    expect(decodeViewHash(hash, METHODS).prompts).toHaveLength(MAX_ADDRESS_PROMPTS);
  });

  it('writes no prompts a link could not give back (a flood stays in the stored session), and keeps prompt A', () => {
    const many = Array.from({ length: 500 }, (_, i) => `prompt ${i}`);
    const flood = encodeViewHash({ prompts: many, promptIndex: 3, layer: 1 });
    expect(flood.length).toBeLessThan(100);
    expect(decodeViewHash(flood, METHODS)).toEqual({ promptIndex: 3, layer: 1 });
    const long = encodeViewHash({ prompts: ['a', 'x'.repeat(MAX_PROMPT_LENGTH + 1)] });
    expect(decodeViewHash(long, METHODS).prompts).toBeUndefined();
    const fits = Array.from({ length: MAX_ADDRESS_PROMPTS }, (_, i) => `p${i}`);
    expect(decodeViewHash(encodeViewHash({ prompts: fits }), METHODS).prompts).toEqual(fits);
  });
});
