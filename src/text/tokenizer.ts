/**
 * CLIP prompt → token ids, from a model folder's tokenizer.json (+ tokenizer_config.json).
 *
 * The byte-level BPE itself is `@huggingface/tokenizers` (the tokenizer of transformers.js),
 * which reads CLIP's tokenizer.json as it is: NFC + whitespace collapsing + lowercasing, the CLIP
 * split regex, byte-level symbols, BPE with the `</w>` end-of-word suffix, and the
 * RobertaProcessing that wraps the ids in <|startoftext|> … <|endoftext|>. This module adds what
 * CLIP needs around it: the 77-token context, padding for batches, and readable token strings.
 *
 * Before that it runs the part of OpenAI's `basic_clean` that tokenizer.json cannot express:
 * HTML character references are decoded twice and the ends stripped (see {@link basicClean}), so
 * `Tom &amp; Jerry` gets the ids CLIP was trained on. `basic_clean` first runs ftfy.fix_text
 * (mojibake repair such as "cafÃ©" → "café"); that is left out: it is a large heuristic library
 * with no browser port, and typed prompts are rarely mojibake. (ftfy also decodes `&name;`
 * references once more outside HTML, so only a triple-escaped `&amp;amp;amp;` differs: `&amp;`
 * here, `&` in OpenAI's.) The token strings shown in the UI are those of the cleaned text.
 *
 * Like Hugging Face's tokenizers, a prompt that contains the literal text `<|endoftext|>` gets
 * that special token in the middle; CLIP pools the first end-of-text token, so the words after
 * it no longer count.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { decodeHTML, replaceCodePoint } from 'entities/decode';
import { describeJson, isRecord } from '../model/json';

/** One prompt, ready for the text encoder. */
export interface EncodedPrompt {
  /** Token ids, <|startoftext|> first and <|endoftext|> last; at most `maxLength` of them. */
  ids: number[];
  /**
   * One display string per id: the token's text without the `</w>` end-of-word marker
   * ("photo"); special tokens as they are ("<|startoftext|>"). A character split over several
   * byte tokens (CJK, emoji) is shown on the token that completes it; a token holding only part
   * of a character shows its bytes, e.g. "<0xEA><0xB3>".
   */
  tokens: string[];
  /** True when the prompt was longer than the context and its end was cut off. */
  truncated: boolean;
}

/**
 * Several prompts padded to a common length, as the text encoder takes them. Plain numbers so
 * that the data is easy to post between threads; `toBigInt64(batch.ids)` makes the int64 tensor
 * data of shape (batch, length).
 */
export interface EncodedBatch {
  /** (batch, length) row-major token ids; rows shorter than `length` end with `padId`. */
  ids: number[];
  /** (batch, length) row-major: 1 for real tokens, 0 for padding. */
  attentionMask: number[];
  batch: number;
  /** Tokens per row after padding (the longest row). */
  length: number;
  /** Real tokens per row, start and end-of-text included. */
  lengths: number[];
  truncated: boolean[];
  /** Display strings per row, unpadded (see `EncodedPrompt.tokens`). */
  tokens: string[][];
}

/** Thrown by `ClipTextTokenizer.fromJSON`; the message says which file and field is wrong. */
export class TokenizerLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerLoadError';
  }
}

/** CLIP's text context length (position embeddings), used when tokenizer_config.json does not say. */
export const CLIP_CONTEXT_LENGTH = 77;

/**
 * transformers writes model_max_length = int(1e30) for "no limit"; a CLIP text model still has
 * only its position embeddings, so such values mean "use the default".
 */
const NO_LIMIT = 1e12;

export interface ClipTokenizerOptions {
  /**
   * Context length in tokens, e.g. config.json's text_config.max_position_embeddings; overrides
   * tokenizer_config.json's model_max_length.
   */
  maxLength?: number;
}

export class ClipTextTokenizer {
  /** Longest id sequence the encoder accepts (77 for CLIP), special tokens included. */
  readonly maxLength: number;
  /** <|startoftext|> */
  readonly bosId: number;
  /** <|endoftext|> */
  readonly eosId: number;
  /** Padding id for batches: tokenizer_config's pad_token, <|endoftext|> for OpenAI CLIP. */
  readonly padId: number;

  private readonly inner: Tokenizer;
  /** Special and other added tokens, shown verbatim. */
  private readonly added: ReadonlySet<string>;
  private readonly suffix: string;
  /** Whether the post-processor already adds start and end tokens. */
  private readonly wraps: boolean;

  private constructor(inner: Tokenizer, fields: { maxLength: number; bosId: number; eosId: number; padId: number; added: Set<string>; suffix: string }) {
    this.inner = inner;
    this.maxLength = fields.maxLength;
    this.bosId = fields.bosId;
    this.eosId = fields.eosId;
    this.padId = fields.padId;
    this.added = fields.added;
    this.suffix = fields.suffix;
    const empty = inner.encode('').ids;
    this.wraps = empty.length === 2 && empty[0] === this.bosId && empty[1] === this.eosId;
  }

  /**
   * Builds the tokenizer from the parsed JSON files of a model folder.
   *
   * @param tokenizerJson tokenizer.json (a byte-level BPE, as CLIP's).
   * @param tokenizerConfig tokenizer_config.json: model_max_length, bos/eos/pad tokens (optional).
   * @throws TokenizerLoadError with a message naming the file and the field.
   */
  static fromJSON(tokenizerJson: unknown, tokenizerConfig?: unknown, options: ClipTokenizerOptions = {}): ClipTextTokenizer {
    if (!isRecord(tokenizerJson)) throw new TokenizerLoadError(`tokenizer.json must be a JSON object, got ${describeJson(tokenizerJson)}.`);
    const config = tokenizerConfig ?? {};
    if (!isRecord(config)) throw new TokenizerLoadError(`tokenizer_config.json must be a JSON object, got ${describeJson(config)}.`);
    const model = tokenizerJson['model'];
    if (!isRecord(model) || model['type'] !== 'BPE' || !isRecord(model['vocab']) || !Array.isArray(model['merges'])) {
      throw new TokenizerLoadError(
        'tokenizer.json: "model" must be a BPE model with "vocab" and "merges", as CLIP\'s is' +
          (isRecord(model) ? ` (got type ${JSON.stringify(model['type'])}).` : '.'),
      );
    }
    const addedTokens = tokenizerJson['added_tokens'] ?? [];
    if (!Array.isArray(addedTokens)) throw new TokenizerLoadError('tokenizer.json: "added_tokens" must be a list.');

    // The library requires these keys to exist; a missing stage means "none" in tokenizer.json.
    const json: Record<string, unknown> = {
      normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
      ...tokenizerJson,
      added_tokens: addedTokens,
    };
    let inner: Tokenizer;
    try {
      inner = new Tokenizer(json, config);
    } catch (e) {
      throw new TokenizerLoadError(`tokenizer.json could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
    }

    const idOf = (field: string, fallback: string): number => {
      const raw = config[field] ?? fallback;
      // Older configs store an AddedToken object: {"content": "<|endoftext|>", ...}.
      const name = isRecord(raw) ? raw['content'] : raw;
      if (typeof name !== 'string') {
        throw new TokenizerLoadError(`tokenizer_config.json: "${field}" must be a token string, got ${describeJson(raw)}.`);
      }
      const id = inner.token_to_id(name);
      if (id === undefined) throw new TokenizerLoadError(`tokenizer_config.json: "${field}" ${JSON.stringify(name)} is not in the vocabulary of tokenizer.json.`);
      return id;
    };
    const bosId = idOf('bos_token', '<|startoftext|>');
    const eosId = idOf('eos_token', '<|endoftext|>');
    const eosName = inner.id_to_token(eosId) ?? '<|endoftext|>';
    const padId = idOf('pad_token', eosName);

    const maxLength = options.maxLength ?? parseMaxLength(config['model_max_length']);
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new TokenizerLoadError(`The context length must be an integer ≥ 2 tokens, got ${maxLength}.`);
    }
    const added = new Set<string>();
    for (const t of addedTokens) if (isRecord(t) && typeof t['content'] === 'string') added.add(t['content']);
    const suffix = typeof model['end_of_word_suffix'] === 'string' ? model['end_of_word_suffix'] : '';
    return new ClipTextTokenizer(inner, { maxLength, bosId, eosId, padId, added, suffix });
  }

  /**
   * Tokenizes one prompt. Longer prompts are cut to `maxLength` ids, the last one being
   * <|endoftext|>, and flagged `truncated`. A text of more than {@link MAX_PROMPT_CHARS}
   * characters is cut to that (at a space, when there is one near the end) before tokenizing:
   * BPE over one 100,000-character word takes a second, and no more than the first few hundred
   * characters fit the 77 tokens anyway.
   *
   * @returns null when the prompt has no tokens (empty or whitespace only): there is nothing to encode.
   */
  encode(text: string): EncodedPrompt | null {
    const cut = cutLongText(text);
    let { ids, tokens } = this.inner.encode(basicClean(cut));
    if (!this.wraps) {
      // A tokenizer.json without a post-processor: add CLIP's start and end tokens here.
      ids = [this.bosId, ...ids, this.eosId];
      tokens = [this.inner.id_to_token(this.bosId) ?? '', ...tokens, this.inner.id_to_token(this.eosId) ?? ''];
    }
    if (ids.length <= 2) return null;
    let truncated = cut.length < text.length;
    if (ids.length > this.maxLength) {
      truncated = true;
      ids = [...ids.slice(0, this.maxLength - 1), this.eosId];
      tokens = [...tokens.slice(0, this.maxLength - 1), tokens[tokens.length - 1] ?? ''];
    }
    return { ids, tokens: this.display(tokens), truncated };
  }

  /**
   * Tokenizes several prompts and pads them to the longest with `padId`.
   * Padding after <|endoftext|> does not change CLIP's text embedding: attention is causal and
   * the embedding is read at the (first) end-of-text position.
   *
   * @throws RangeError if a prompt is empty: filter those out first (`encode` returns null for them).
   */
  encodeBatch(texts: readonly string[]): EncodedBatch {
    const rows = texts.map((t, i) => {
      const row = this.encode(t);
      if (!row) throw new RangeError(`Prompt ${i} is empty (only whitespace): leave it out of the batch.`);
      return row;
    });
    const length = rows.reduce((m, r) => Math.max(m, r.ids.length), 0);
    const ids: number[] = [];
    const attentionMask: number[] = [];
    for (const r of rows) {
      const pad = length - r.ids.length;
      ids.push(...r.ids, ...new Array<number>(pad).fill(this.padId));
      attentionMask.push(...new Array<number>(r.ids.length).fill(1), ...new Array<number>(pad).fill(0));
    }
    return {
      ids,
      attentionMask,
      batch: rows.length,
      length,
      lengths: rows.map((r) => r.ids.length),
      truncated: rows.map((r) => r.truncated),
      tokens: rows.map((r) => r.tokens),
    };
  }

  /** Byte-level token strings → readable text, one string per token (see `EncodedPrompt.tokens`). */
  private display(pieces: readonly string[]): string[] {
    let decoder = new TextDecoder('utf-8');
    return pieces.map((piece) => {
      if (this.added.has(piece)) {
        decoder = new TextDecoder('utf-8'); // a special token ends any pending partial character
        return piece;
      }
      const body = this.suffix && piece.endsWith(this.suffix) ? piece.slice(0, -this.suffix.length) : piece;
      const bytes = Uint8Array.from(body, (ch) => BYTE_OF_SYMBOL.get(ch) ?? 0x3f /* '?' */);
      const text = decoder.decode(bytes, { stream: true });
      if (text !== '' || bytes.length === 0) return text;
      return Array.from(bytes, (b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`).join('');
    });
  }
}

/**
 * Characters of a prompt that are tokenized; the rest is cut off first. CLIP's longest tokens are
 * about 15 characters, so 77 of them with spaces fit well inside this.
 */
export const MAX_PROMPT_CHARS = 2048;

/** `text` cut to {@link MAX_PROMPT_CHARS}, back to the last whitespace of its last 64 characters if any, and never inside a surrogate pair. */
export function cutLongText(text: string): string {
  if (text.length <= MAX_PROMPT_CHARS) return text;
  let end = MAX_PROMPT_CHARS;
  const space = text.slice(end - 64, end).search(/\s\S*$/);
  if (space >= 0) end = end - 64 + space;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--; // a high surrogate whose pair would be cut off
  return text.slice(0, end);
}

/**
 * OpenAI CLIP's `basic_clean` without ftfy: `html.unescape(html.unescape(text)).strip()`.
 * Twice, because caption scrapes are often escaped twice (`&amp;amp;` → `&`). The whitespace
 * collapsing of `whitespace_clean` is left to tokenizer.json's normalizer.
 */
export function basicClean(text: string): string {
  return htmlUnescape(htmlUnescape(text)).replace(PY_STRIP, '');
}

/**
 * Python's str.strip(): its whitespace (str.isspace) differs from String.prototype.trim's, which
 * also strips U+FEFF, a character CLIP's tokenizer keeps as a token.
 */
const PY_STRIP = /^[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/**
 * Python's `html.unescape`, the same references found by the same pattern. Named references
 * (with the HTML spec's legacy forms that need no `;`, `&ampx` → `&x`) are `entities`' decodeHTML,
 * which follows the spec as Python does. Numeric ones are decoded here because Python drops the
 * code points the spec calls invalid (controls, noncharacters: `&#1;` → ""), where decodeHTML
 * keeps them.
 */
function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, (ref: string, body: string) => {
    if (body[0] !== '#') return decodeHTML(ref);
    const hex = body[1] === 'x' || body[1] === 'X';
    const num = parseInt(body.slice(hex ? 2 : 1), hex ? 16 : 10); // parseInt stops at the ';'
    // Python's _invalid_charrefs (NUL, CR and the windows-1252 block) are the spec's table.
    if (num === 0 || num === 0x0d || (num >= 0x80 && num <= 0x9f)) return String.fromCodePoint(replaceCodePoint(num));
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\uFFFD';
    if (invalidCodePoint(num)) return '';
    return String.fromCodePoint(num);
  });
}

/** Python's html._charref; `u` so that a name's 32 characters are code points, as in Python. */
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** Python's html._invalid_codepoints: C0 and C1 controls but tab, LF, FF and CR; noncharacters. */
function invalidCodePoint(n: number): boolean {
  return (n >= 0x1 && n <= 0x8) || n === 0xb || (n >= 0xe && n <= 0x1f) || (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) || (n & 0xfffe) === 0xfffe;
}

/** Token ids as int64 tensor data, e.g. `new ort.Tensor('int64', toBigInt64(b.ids), [b.batch, b.length])`. */
export function toBigInt64(ids: readonly number[]): BigInt64Array {
  return BigInt64Array.from(ids, (i) => BigInt(i));
}

function parseMaxLength(v: unknown): number {
  if (v === undefined || v === null) return CLIP_CONTEXT_LENGTH;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 2) {
    throw new TokenizerLoadError(`tokenizer_config.json: "model_max_length" must be an integer ≥ 2, got ${describeJson(v)}.`);
  }
  return v >= NO_LIMIT ? CLIP_CONTEXT_LENGTH : v;
}

/**
 * GPT-2's byte-level alphabet (used by CLIP): bytes that are printable Latin-1 stand for
 * themselves, the other 68 are moved to U+0100…; inverted here to turn tokens back into bytes.
 */
const BYTE_OF_SYMBOL: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    map.set(String.fromCharCode(printable ? b : next++), b);
  }
  return map;
})();

