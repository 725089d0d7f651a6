import { describe, expect, it } from 'vitest';
import { withinCap } from './sessionStorage';

const image = (name: string, size: number) => ({ name, blob: { size } });

describe('the stored session cap', () => {
  it('keeps everything within the cap, in order', () => {
    const images = [image('a', 10), image('b', 20)];
    expect(withinCap(images, { images: 2, bytes: 30 })).toEqual({ kept: images, dropped: 0 });
  });

  it('drops the oldest first, by count and by bytes', () => {
    const images = [image('a', 10), image('b', 20), image('c', 5)];
    expect(withinCap(images, { images: 2, bytes: 1000 })).toEqual({ kept: images.slice(1), dropped: 1 });
    expect(withinCap(images, { images: 10, bytes: 24 })).toEqual({ kept: images.slice(2), dropped: 2 });
    expect(withinCap(images, { images: 10, bytes: 4 })).toEqual({ kept: [], dropped: 3 });
    expect(withinCap([], { images: 10, bytes: 4 })).toEqual({ kept: [], dropped: 0 });
  });
});
