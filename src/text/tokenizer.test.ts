import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { golden, MODEL_DIR } from '../testing/golden';
import { basicClean, ClipTextTokenizer, cutLongText, MAX_PROMPT_CHARS, TokenizerLoadError, toBigInt64 } from './tokenizer';

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

describe("OpenAI's basic_clean before BPE (HTML references decoded twice, ends stripped)", () => {
  // Reference ids from the project's Python BPE, which cleans as OpenAI's simple_tokenizer.py does
  // (less ftfy): cd tools/models && python3 clip_bpe.py bpe_simple_vocab_16e6.txt.gz 'Tom & Jerry &amp; friends' …
  it.each([
    ['Tom & Jerry &amp; friends', '49406 2435 261 9164 261 1574 49407'],
    // Twice decoded: &amp;amp; → &amp; → &. A third level stays (ftfy, left out here, decodes it once more).
    ['&amp;amp;', '49406 261 49407'],
    ['a &amp;amp;amp; b', '49406 320 261 6259 282 321 49407'],
    ['I &lt;3 cats', '49406 328 283 274 3989 49407'],
    ['it&#39;s a dog', '49406 585 568 320 1929 49407'],
    ['it&#x27;s a dog', '49406 585 568 320 1929 49407'],
    // HTML's legacy references need no semicolon, also before letters.
    ['&ampx', '49406 261 343 49407'],
    ['fish &ampchips', '49406 2759 261 8855 49407'],
    // Decoded whitespace (&#32;, &nbsp;, U+3000) at the ends is stripped like typed whitespace.
    ['&#32; &nbsp;a photo&#x3000;', '49406 320 1125 49407'],
    // Python drops references to control characters; U+FEFF is not whitespace to Python's strip.
    ['&#1;a cat', '49406 320 2368 49407'],
    ['a&#xfeff;cat', '49406 320 171 119 379 2368 49407'],
    // The windows-1252 replacement of the HTML spec: &#x80; is €.
    ['a&#x80;', '49406 320 6309 49407'],
  ])('%j', (text, expected) => {
    expect(ids(text)).toEqual(expected.split(' ').map(Number));
  });

  it('shows the token strings of the cleaned text', () => {
    // Uncleaned, "&amp;" would be the three tokens "&", "amp", ";".
    expect(tok.encode('Tom &amp; Jerry')?.tokens).toEqual(['<|startoftext|>', 'tom', '&', 'jerry', '<|endoftext|>']);
  });

  // Expected strings from /usr/bin/python3 -c 'import html; print(html.unescape(html.unescape(s)).strip())'.
  it.each([
    ['Tom & Jerry &amp; friends', 'Tom & Jerry & friends'],
    ['&amp;amp;', '&'],
    ['&amp;amp;amp;', '&amp;'],
    ['&lt;3', '<3'],
    ['it&#39;s', "it's"],
    ['it&#x27;s', "it's"],
    ['&ampx', '&x'],
    ['&notit;', '\u00acit;'],
    ['&#x80;', '\u20ac'],
    ['&#1;x', 'x'],
    ['&#0;', '\ufffd'],
    ['&#xD800;', '\ufffd'],
    ['  \t a cat &nbsp;', 'a cat'],
    ['\ufeffa', '\ufeffa'],
    ['AT&T', 'AT&T'],
    ['a photo of a cat', 'a photo of a cat'],
  ])('basicClean(%j) = %j, as Python', (text, expected) => {
    expect(basicClean(text)).toBe(expected);
  });

  it('leaves plain prompts as they are', () => {
    for (const p of ['a photo of a cat', "it's a dog's life, isn't it?", '고양이 사진', 'A Red CIRCLE!!', '100% & more']) {
      expect(basicClean(p)).toBe(p);
    }
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

describe('floods and odd characters', () => {
  it('tokenizes a 100,000-character prompt as its first part: the same 77 ids, flagged truncated', () => {
    const words = Array.from({ length: 20_000 }, (_, i) => ['red', 'green', 'blue', 'square'][i % 4]).join(' ');
    expect(words.length).toBeGreaterThan(100_000);
    const r = tok.encode(words);
    expect(r?.ids).toEqual(tok.encode(words.slice(0, 1000))?.ids);
    expect(r?.truncated).toBe(true);
    // One enormous word (no space to cut at) and a flood of emoji: cut too, never inside a pair.
    expect(tok.encode('x'.repeat(100_000))).toMatchObject({ truncated: true });
    const emoji = cutLongText('🙂'.repeat(50_000));
    expect(emoji.length).toBeLessThanOrEqual(MAX_PROMPT_CHARS);
    expect(emoji.length % 2).toBe(0);
    expect(tok.encode('🙂'.repeat(50_000))?.ids.length).toBe(77);
  });

  it('cuts at the last space near the limit, and leaves shorter prompts alone', () => {
    const text = `${'a'.repeat(MAX_PROMPT_CHARS - 10)} tail-word-beyond-the-limit`;
    expect(cutLongText(text)).toBe('a'.repeat(MAX_PROMPT_CHARS - 10));
    expect(cutLongText('a red circle')).toBe('a red circle');
    expect(tok.encode('a red circle')?.truncated).toBe(false);
  });

  it('gives ids for emoji, right-to-left text, zero-width and control characters, or null when nothing is left', () => {
    for (const text of ['a 🐱 on a 🛹', 'חתול על שטיח', 'قطة حمراء', 'red\u200bcircle', 'a\u200d\u200cb', 'red\u0000\u0007circle\u001b[0m', '\u202eelcric der', '\ud800 lone surrogate']) {
      const r = tok.encode(text);
      expect(r?.ids[0]).toBe(49406);
      expect(r?.ids[r.ids.length - 1]).toBe(49407);
      expect(r?.ids.every((id) => Number.isInteger(id) && id >= 0)).toBe(true);
      expect(r?.tokens.length).toBe(r?.ids.length);
    }
    // Zero-width spaces are not whitespace to CLIP's cleaning (Python's isspace): they are tokens.
    expect(tok.encode('\u200b\u200b')?.ids.length).toBeGreaterThan(2);
    expect(tok.encode(' \t\n\u3000')).toBeNull(); // whitespace only: nothing to encode
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
