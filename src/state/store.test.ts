import { describe, expect, it } from 'vitest';
import { useLens } from './store';

describe('bumpResults', () => {
  it('bumps one image without touching the others or the global version', () => {
    const before = useLens.getState();
    useLens.getState().bumpResults('img-a');
    useLens.getState().bumpResults('img-a');
    useLens.getState().bumpResults('img-b');
    const after = useLens.getState();
    expect(after.imageVersions['img-a']).toBe((before.imageVersions['img-a'] ?? 0) + 2);
    expect(after.imageVersions['img-b']).toBe((before.imageVersions['img-b'] ?? 0) + 1);
    expect(after.resultsVersion).toBe(before.resultsVersion);
  });

  it('bumps the global version, and only it, without an image id', () => {
    const before = useLens.getState();
    useLens.getState().bumpResults();
    const after = useLens.getState();
    expect(after.resultsVersion).toBe(before.resultsVersion + 1);
    expect(after.imageVersions).toBe(before.imageVersions);
  });
});
