import { describe, expect, it } from 'vitest';
import { useLens, type ViewOptions } from '../state/store';
import {
  appliedOptions, barLabels, captionText, exportFileName, figureFontSize, figureLayout, mapExport, wrapText,
  MAP_FORMAT, MAP_FORMAT_VERSION, type ExportInput,
} from './exportView';

const view = (patch: Partial<ViewOptions> = {}): ViewOptions => ({ ...useLens.getState().view, ...patch });

function input(patch: Partial<ExportInput> = {}): ExportInput {
  return {
    image: { name: 'scene-1.png', width: 320, height: 240 },
    cropBox: { x: 40, y: 0, width: 240, height: 240 },
    map: { width: 2, height: 2, values: new Float32Array([0.1, 0.2, 0.30000001192092896, 0.4]) },
    range: { min: 0.1, max: 0.4, signed: false },
    colormap: 'inferno',
    opacity: 0.6,
    model: { id: 'clip-lens-shapes', variant: 'fp32', backend: 'wasm' },
    view: view(),
    vision: { layers: 4, heads: 4 },
    prompt: { text: 'a red circle', ids: [49406, 320, 736, 7117, 49407] },
    promptB: { text: 'a blue square', ids: [49406, 320, 1746, 5625, 49407] },
    scores: [{ prompt: 'a red circle', cosine: 0.31, probability: 0.7 }, { prompt: 'a blue square', cosine: 0.2, probability: 0.3 }],
    exportedAt: new Date('2025-01-02T03:04:05.000Z'),
    ...patch,
  };
}

describe('appliedOptions: only what changes the painted map', () => {
  it('raw attention: the resolved layer (-1 = last), the heads that are on, fusion and query', () => {
    expect(appliedOptions(view({ method: 'attention', layer: -1, heads: [] }), 4, 3))
      .toEqual({ layer: 3, heads: [0, 1, 2], fusion: 'mean', queryPatch: null });
    expect(appliedOptions(view({ method: 'attention', layer: 1, heads: [false, true, true], fusion: 'max', queryPatch: 5 }), 4, 3))
      .toEqual({ layer: 1, heads: [1, 2], fusion: 'max', queryPatch: 5 });
  });
  it('rollout: fusion, discard ratio and query, no layer or heads', () => {
    expect(appliedOptions(view({ method: 'rollout', rolloutDiscard: 0.25 }), 4, 3)).toEqual({ fusion: 'mean', rolloutDiscard: 0.25, queryPatch: null });
  });
  it('relevance: the start layer; dense maps: nothing; contributions: which layers', () => {
    expect(appliedOptions(view({ method: 'relevance', relevanceStart: 0 }), 4, 3)).toEqual({ relevanceStart: 0 });
    expect(appliedOptions(view({ method: 'maskclip' }), 4, 3)).toEqual({});
    expect(appliedOptions(view({ method: 'contributions', contributionLayers: 'selected', layer: 2 }), 4, 3))
      .toEqual({ contributionLayers: 'selected', layer: 2 });
  });
  it('difference: its base and the base\'s options', () => {
    expect(appliedOptions(view({ method: 'difference', differenceBase: 'relevance', relevanceStart: -1 }), 4, 3))
      .toEqual({ differenceBase: 'relevance', relevanceStart: -1 });
  });
});

describe('mapExport: the clip-lens.map file', () => {
  it('carries the format, the map values unchanged, crop box, image, range and time', () => {
    const out = mapExport(input());
    expect(out.format).toBe(MAP_FORMAT);
    expect(out.version).toBe(MAP_FORMAT_VERSION);
    expect(out.map.width * out.map.height).toBe(out.map.values.length);
    // float32 values survive a JSON round trip bit for bit
    const back = JSON.parse(JSON.stringify(out)) as typeof out;
    expect(Float32Array.from(back.map.values as number[])).toEqual(new Float32Array([0.1, 0.2, 0.30000001192092896, 0.4]));
    expect(back.cropBox).toEqual({ x: 40, y: 0, width: 240, height: 240 });
    expect(back.image).toEqual({ name: 'scene-1.png', width: 320, height: 240 });
    expect(back.range).toEqual({ min: 0.1, max: 0.4 });
    expect(back.exportedAt).toBe('2025-01-02T03:04:05.000Z');
  });
  it('a NaN patch is null, not a JSON syntax error', () => {
    const out = mapExport(input({ map: { width: 1, height: 2, values: new Float32Array([NaN, 1]) } }));
    expect(JSON.parse(JSON.stringify(out)).map.values).toEqual([null, 1]);
  });
  it('context: model, method and label, options, scores, paint; no prompt for prompt-free methods', () => {
    const { context } = mapExport(input());
    expect(context.model).toEqual({ id: 'clip-lens-shapes', variant: 'fp32', backend: 'wasm' });
    expect(context.method).toBe('attention');
    expect(context.methodLabel).toBe('Raw attention (one layer)');
    expect(context.options).toEqual({ layer: 3, heads: [0, 1, 2, 3], fusion: 'mean', queryPatch: null });
    expect(context.prompt).toBeNull();
    expect(context.promptB).toBeNull();
    expect(context.scores).toHaveLength(2);
    expect(context.paint).toEqual({ colormap: 'inferno', opacity: 0.6, signed: false });
    expect(context).not.toHaveProperty('relevance');
  });
  it('prompt-dependent methods carry the prompt and its token ids; a difference also prompt B', () => {
    const rel = mapExport(input({ view: view({ method: 'relevance' }), relevance: { backend: 'wasm', threads: 1, visionBy: 'tfjs' } })).context;
    expect(rel.prompt).toEqual({ text: 'a red circle', ids: [49406, 320, 736, 7117, 49407] });
    expect(rel.promptB).toBeNull();
    expect(rel.relevance).toEqual({ backend: 'wasm', threads: 1, visionBy: 'tfjs' });
    const diff = mapExport(input({ view: view({ method: 'difference' }), range: { min: -0.5, max: 0.5, signed: true } })).context;
    expect(diff.prompt?.text).toBe('a red circle');
    expect(diff.promptB?.text).toBe('a blue square');
    expect(diff.paint.signed).toBe(true);
  });
});

describe('caption', () => {
  it('raw attention: model and variant, method label, layer and heads 1-based as on the page, fusion', () => {
    expect(captionText(input({ view: view({ method: 'attention', layer: 0, heads: [true, false, true, false] }) })))
      .toBe('clip-lens-shapes (fp32) · Raw attention (one layer) · layer 1 · heads 1, 3 · fusion mean · CLS query');
    expect(captionText(input())).toContain('layer 4 · all heads');
  });
  it('prompt maps name the prompt; a difference names A, B and its base', () => {
    expect(captionText(input({ view: view({ method: 'maskclip' }) }))).toBe('clip-lens-shapes (fp32) · Dense prompt map: MaskCLIP · prompt “a red circle”');
    const diff = captionText(input({ view: view({ method: 'difference', differenceBase: 'maskclip' }) }));
    expect(diff).toBe('clip-lens-shapes (fp32) · Prompt difference (A − B) · of Dense map: MaskCLIP · A “a red circle” · B “a blue square”');
  });
  it('wraps at spaces within the width; a long word keeps a line of its own', () => {
    const measure = (s: string) => s.length * 10;
    expect(wrapText('aa bb cc dd', 50, measure)).toEqual(['aa bb', 'cc dd']);
    expect(wrapText('a verylongword b', 50, measure)).toEqual(['a', 'verylongword', 'b']);
    expect(wrapText('', 50, measure)).toEqual([]);
  });
});

describe('figure layout', () => {
  it('is the image\'s width; the image at its own size on top, then bar, labels, caption, all inside', () => {
    const l = figureLayout(320, 240, 2);
    expect(l.width).toBe(320);
    expect(l.image).toEqual({ x: 0, y: 0, width: 320, height: 240 });
    expect(l.bar.y).toBeGreaterThanOrEqual(240);
    expect(l.bar.x + l.bar.width).toBeLessThanOrEqual(320);
    expect(l.labelTop).toBeGreaterThanOrEqual(l.bar.y + l.bar.height);
    expect(l.captionTop).toBeGreaterThanOrEqual(l.labelTop + l.fontSize);
    expect(l.height).toBeGreaterThanOrEqual(l.captionTop + 2 * l.lineHeight);
    expect(figureLayout(320, 240, 3).height - l.height).toBe(l.lineHeight);
  });
  it('text scales with the image within 10 … 48 px', () => {
    expect(figureFontSize(100)).toBe(10);
    expect(figureFontSize(720)).toBe(20);
    expect(figureFontSize(8000)).toBe(48);
  });
  it('refuses a size that is not whole pixels', () => {
    expect(() => figureLayout(0, 10, 1)).toThrow(/positive whole pixels/);
  });
});

describe('colour-bar labels and file names', () => {
  it('min and max; a signed map also its neutral 0 in the middle', () => {
    expect(barLabels({ min: 0.0123, max: 0.5, signed: false }).map((l) => [l.text, l.position])).toEqual([['0.0123', 0], ['0.500', 1]]);
    expect(barLabels({ min: -2, max: 2, signed: true }).map((l) => [l.text, l.position, l.align]))
      .toEqual([['-2.00', 0, 'left'], ['0', 0.5, 'center'], ['2.00', 1, 'right']]);
  });
  it('clip-lens_<image>_<method>, without the image extension or unsafe characters', () => {
    expect(exportFileName('scene-1.png', 'maskclip', 'png')).toBe('clip-lens_scene-1_maskclip.png');
    expect(exportFileName('my cat/photo.JPG', 'relevance', 'json')).toBe('clip-lens_my-cat-photo_relevance.json');
  });
});
