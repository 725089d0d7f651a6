import { describe, expect, it } from 'vitest';
import { useLens } from '../state/store';
import { addressOf } from './session';
import { decodeViewHash, encodeViewHash } from './viewAddress';

describe('the address of the page view', () => {
  it('names the prompts, the selected ones, the focused image and the heads that are on', () => {
    const s = useLens.getState();
    const prompts = [{ id: 'x1', text: 'a cat' }, { id: 'x2', text: 'a dog' }];
    const view = { ...s.view, method: 'difference', layer: 2, heads: [true, false, true, true], promptId: 'x2', promptBId: 'x1', focusImageId: 'i2' };
    const images = [{ id: 'i1', name: 'a.png', url: '', status: 'done' as const }, { id: 'i2', name: 'b.png', url: '', status: 'done' as const }];
    const address = addressOf({ view, prompts, images, compare: { ...s.compare, open: true } }, null);
    expect(address).toMatchObject({ method: 'difference', layer: 2, heads: [0, 2, 3], prompts: ['a cat', 'a dog'], promptIndex: 1, promptBIndex: 0, image: 'b.png', compareOpen: true });
    expect(decodeViewHash(encodeViewHash(address), ['difference'])).toEqual(address);
  });

  it('leaves out all heads on, and names the image a link asked for until it is dropped', () => {
    const s = useLens.getState();
    const address = addressOf({ view: { ...s.view, heads: [true, true] }, prompts: s.prompts, images: [], compare: s.compare }, 'scene-1.png');
    expect(address.heads).toEqual([]);
    expect(address.image).toBe('scene-1.png');
    expect(encodeViewHash(address)).not.toContain('heads=');
  });
});
