import { afterEach, describe, expect, it } from 'vitest';
import { reduceStack, tokenRows } from '../explain/reduce';
import { randomStack } from '../testing/attention';
import type { ImageResult } from '../protocol';
import {
  ATTENTION_KEPT_IMAGES, QUERY_ROWS_PER_IMAGE, attentionBytesOf, clearResults, forgetImage, imageResults, imageSummaries, isReleased,
  keepImageResult, queryRowsOf, rememberQueryRows, touchImageResult,
} from './results';

/** An image result as the worker posts it, from a synthetic stack (`seq = 1 + side²`). */
function imageResult(layers: number, heads: number, side: number, seed: number): { result: ImageResult; stack: ReturnType<typeof randomStack> } {
  const stack = randomStack(layers, heads, 1 + side * side, seed);
  const result: ImageResult = {
    imageId: `img${seed}`,
    width: 224,
    height: 224,
    cropBox: { x: 0, y: 0, width: 224, height: 224 },
    embeds: new Float32Array(512),
    attention: reduceStack(stack),
    grid: { width: side, height: side },
  };
  return { result, stack };
}

afterEach(clearResults);

describe('attention kept per image', () => {
  it('ViT-B/16 (12 layers, 12 heads, 197 tokens): ≤ 8 MB with the most query patches kept', () => {
    const { result, stack } = imageResult(12, 12, 14, 16);
    imageResults.set('b16', result);
    const reduced = attentionBytesOf('b16');
    // The clicked patches' rows the cache keeps at most, fetched one after another.
    for (let p = 0; p < QUERY_ROWS_PER_IMAGE + 3; p++) rememberQueryRows('b16', tokenRows(stack, 1 + p * 10));
    const atRest = attentionBytesOf('b16');
    console.log(
      `B/16 vision attention per image at rest: ${atRest} B (${(atRest / 1e6).toFixed(2)} MB) = reduced ${reduced} B + ` +
        `${QUERY_ROWS_PER_IMAGE} query patches' rows; the full fp32 stack was ${stack.data.byteLength} B`,
    );
    expect(reduced).toBe(7_564_800);
    expect(atRest).toBe(reduced + QUERY_ROWS_PER_IMAGE * 12 * 12 * 197 * 4);
    expect(atRest).toBeLessThanOrEqual(8e6);
  });

  it('keeps the most recently used query rows of each image, and forgets them with the image', () => {
    const { result, stack } = imageResult(2, 2, 3, 1);
    imageResults.set('a', result);
    for (const t of [1, 2, 3]) rememberQueryRows('a', tokenRows(stack, t));
    expect(queryRowsOf('a', 1)).toBeUndefined();
    expect(queryRowsOf('a', 2)?.token).toBe(2); // now the most recent
    rememberQueryRows('a', tokenRows(stack, 4));
    expect(queryRowsOf('a', 3)).toBeUndefined();
    expect(queryRowsOf('a', 2)?.token).toBe(2);
    forgetImage('a');
    expect(queryRowsOf('a', 2)).toBeUndefined();
    expect(attentionBytesOf('a')).toBe(0);
  });
});

describe('attention of the most recent images only', () => {
  it('200 analysed images keep the attention of the last ATTENTION_KEPT_IMAGES, every summary, and the bytes stay under the cap', () => {
    const { result } = imageResult(12, 12, 14, 1); // ViT-B/16-sized attention
    const perImage = attentionBytesOf((imageResults.set('one', result), 'one'));
    imageResults.clear();
    let released: string[] = [];
    for (let i = 0; i < 200; i++) released = [...released, ...keepImageResult(`img${i}`, { ...result, imageId: `img${i}` })];
    expect(imageResults.size).toBe(ATTENTION_KEPT_IMAGES);
    expect(imageSummaries.size).toBe(200);
    expect(released).toEqual(Array.from({ length: 200 - ATTENTION_KEPT_IMAGES }, (_, i) => `img${i}`));
    expect([...imageResults.keys()]).toEqual(Array.from({ length: ATTENTION_KEPT_IMAGES }, (_, i) => `img${200 - ATTENTION_KEPT_IMAGES + i}`));
    const total = [...imageResults.keys()].reduce((a, id) => a + attentionBytesOf(id), 0);
    expect(total).toBeLessThanOrEqual(ATTENTION_KEPT_IMAGES * perImage);
    expect(isReleased('img0')).toBe(true);
    expect(isReleased('img199')).toBe(false);
    expect(imageSummaries.get('img0')).not.toHaveProperty('attention');
  });

  it('releases the least recently used: a touched image stays, its query rows go with a released one', () => {
    const { result, stack } = imageResult(2, 2, 3, 2);
    keepImageResult('a', result, 2);
    keepImageResult('b', result, 2);
    rememberQueryRows('b', tokenRows(stack, 1));
    touchImageResult('a');
    expect(keepImageResult('c', result, 2)).toEqual(['b']);
    expect(queryRowsOf('b', 1)).toBeUndefined();
    expect([...imageResults.keys()]).toEqual(['a', 'c']);
    // Analysed again: kept again, and the oldest goes.
    expect(keepImageResult('b', result, 2)).toEqual(['a']);
    forgetImage('b');
    expect(imageSummaries.has('b')).toBe(false);
    expect(isReleased('b')).toBe(false);
  });
});
