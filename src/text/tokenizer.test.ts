import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { golden, MODEL_DIR } from '../testing/golden';
import { ClipTextTokenizer, TokenizerLoadError, toBigInt64 } from './tokenizer';

const tokenizerJson: unknown = JSON.parse(readFileSync(MODEL_DIR + 'tokenizer.json', 'utf8'));
const tokenizerConfig: unknown = JSON.parse(readFileSync(MODEL_DIR + 'tokenizer_config.json', 'utf8'));
const tok = ClipTextTokenizer.fromJSON(tokenizerJson, tokenizerConfig);

function ids(text: string): number[] | undefined {
  return tok.encode(text)?.ids;
}

describe('ClipTextTokenizer ids', () => {
  it.each([
    ['a photo of a cat', '49406 320 1125 539 320 2368 49407'],
    ['a photo of a dog', '49406 320 1125 539 320 1929 49407'],
    ['A Red CIRCLE!!', '49406 320 736 7117 748 49407'],
    ["it's a dog's life, isn't it?", '49406 585 568 320 1929 568 970 267 2923 713 585 286 49407'],
    ['고양이 사진', '49406 36216 254 31625 239 34746 31061 105 38890 49407'],
    // Whitespace of any kind collapses and the ends are trimmed.
    ['  a\tphoto\n\nof  a cat ', '49406 320 1125 539 320 2368 49407'],
  ])('%j', (text, expected) => {
    expect(ids(text)).toEqual(expected.split(' ').map(Number));
  });

  it.each(golden().prompts.map((p) => [p.text, p.input_ids] as const))('golden prompt %j', (text, expected) => {
    expect(ids(text)).toEqual(expected);
  });

  it('reads the special ids and the context length from the config', () => {
    expect([tok.bosId, tok.eosId, tok.padId, tok.maxLength]).toEqual([49406, 49407, 49407, 77]);
  });
});

describe('display strings', () => {
  it('drop </w> and keep special tokens', () => {
    expect(tok.encode("A Red CIRCLE!! it's")?.tokens).toEqual(['<|startoftext|>', 'a', 'red', 'circle', '!!', 'it', "'s", '<|endoftext|>']);
  });

  it('show sub-word pieces of one word separately', () => {
    const r = tok.encode('photographers');
    expect(r?.tokens.slice(1, -1).join('')).toBe('photographers');
    expect(r?.tokens.length).toBe(r?.ids.length);
  });

  it('show accented letters and CJK characters on the token that completes them', () => {
    expect(tok.encode('café')?.tokens).toEqual(['<|startoftext|>', 'café', '<|endoftext|>']);
    // 고 = EA B3 A0 is split as [EA B3][A0]; 양 = EC 96 91 as [EC 96][91].
    expect(tok.encode('고양이 사진')?.tokens).toEqual([
      '<|startoftext|>', '<0xEA><0xB3>', '고', '<0xEC><0x96>', '양', '이', '<0xEC><0x82>', '사', '진', '<|endoftext|>',
    ]);
  });
});

describe('empty prompts', () => {
  it.each(['', '   ', '\n\t '])('%j → null', (text) => {
    expect(tok.encode(text)).toBeNull();
  });

  it('encodeBatch refuses them with the index', () => {
    expect(() => tok.encodeBatch(['a cat', ' '])).toThrow(/Prompt 1 is empty/);
  });
});

describe('truncation to the 77-token context', () => {
  const long = Array.from({ length: 200 }, (_, i) => ['red', 'green', 'blue', 'square'][i % 4]).join(' ');

  it('cuts a 200-word prompt to 77 ids ending with <|endoftext|>', () => {
    const r = tok.encode(long);
    expect(r?.ids.length).toBe(77);
    expect(r?.ids[0]).toBe(49406);
    expect(r?.ids[76]).toBe(49407);
    expect(r?.ids.slice(1, 76)).toEqual(ids(long.split(' ').slice(0, 75).join(' '))?.slice(1, -1));
    expect(r?.tokens.length).toBe(77);
    expect(r?.tokens[76]).toBe('<|endoftext|>');
    expect(r?.truncated).toBe(true);
  });

  it('does not flag a prompt of exactly 77 ids', () => {
    const text = long.split(' ').slice(0, 75).join(' ');
    expect(tok.encode(text)).toMatchObject({ truncated: false });
    expect(tok.encode(text)?.ids.length).toBe(77);
  });

  it('honours model_max_length and the maxLength option', () => {
    const short = ClipTextTokenizer.fromJSON(tokenizerJson, { model_max_length: 5 });
    expect(short.encode('a photo of a cat')).toEqual({
      ids: [49406, 320, 1125, 539, 49407], tokens: ['<|startoftext|>', 'a', 'photo', 'of', '<|endoftext|>'], truncated: true,
    });
    expect(ClipTextTokenizer.fromJSON(tokenizerJson, tokenizerConfig, { maxLength: 4 }).encode('a photo of a cat')?.ids).toEqual([49406, 320, 1125, 49407]);
    // transformers' "no limit" sentinel, int(1e30): fall back to CLIP's 77.
    expect(ClipTextTokenizer.fromJSON(tokenizerJson, { model_max_length: 1e30 }).maxLength).toBe(77);
  });
});

describe('encodeBatch', () => {
  it('pads to the longest row with the pad id', () => {
    const b = tok.encodeBatch(['a red square', 'a photo of a cat']);
    expect(b.batch).toBe(2);
    expect(b.length).toBe(7);
    expect(b.lengths).toEqual([5, 7]);
    expect(b.ids).toEqual([49406, 320, 736, 3999, 49407, 49407, 49407, 49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(b.attentionMask).toEqual([1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
    expect(b.truncated).toEqual([false, false]);
    expect(b.tokens[0]).toEqual(['<|startoftext|>', 'a', 'red', 'square', '<|endoftext|>']);
    const data = toBigInt64(b.ids);
    expect(data).toBeInstanceOf(BigInt64Array);
    expect(data[2]).toBe(736n);
  });

  it('uses tokenizer_config pad_token', () => {
    const b = ClipTextTokenizer.fromJSON(tokenizerJson, { ...(tokenizerConfig as object), pad_token: '!' }).encodeBatch(['a', 'a cat']);
    expect(b.ids.slice(0, 4)).toEqual([49406, 320, 49407, 0]);
  });
});

describe('loading errors', () => {
  it.each([
    [null, undefined, /tokenizer.json must be a JSON object, got null/],
    [{ model: { type: 'WordPiece', vocab: {} } }, undefined, /BPE model .*got type "WordPiece"/],
    [tokenizerJson, [], /tokenizer_config.json must be a JSON object/],
    [tokenizerJson, { eos_token: '<|end|>' }, /"eos_token" "<\|end\|>" is not in the vocabulary/],
    [tokenizerJson, { pad_token: 3 }, /"pad_token" must be a token string, got number 3/],
    [tokenizerJson, { model_max_length: 'long' }, /"model_max_length" must be an integer/],
  ])('%#', (json, config, message) => {
    expect(() => ClipTextTokenizer.fromJSON(json, config)).toThrow(TokenizerLoadError);
    expect(() => ClipTextTokenizer.fromJSON(json, config)).toThrow(message);
  });

  it('accepts AddedToken objects in tokenizer_config and a missing config', () => {
    const t = ClipTextTokenizer.fromJSON(tokenizerJson, { eos_token: { content: '<|endoftext|>', __type: 'AddedToken' } });
    expect(t.eosId).toBe(49407);
    expect(ClipTextTokenizer.fromJSON(tokenizerJson).encode('a cat')?.ids).toEqual([49406, 320, 2368, 49407]);
  });

  it('adds start and end tokens itself when tokenizer.json has no post-processor', () => {
    const t = ClipTextTokenizer.fromJSON({ ...(tokenizerJson as object), post_processor: null }, tokenizerConfig);
    expect(t.encode('a photo of a cat')?.ids).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
  });
});
