/**
 * Export of the focused view: the PNG is the picture at its own resolution with the overlay over
 * the model's crop (the page's dim grey outside it), then the colour bar and caption; the JSON
 * holds exactly the numbers the page paints, with what produced them.
 */
import { expect, test, type Download, type Page } from './test';
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { LensPage, repoFile } from './lensPage';

const SAMPLE = 'scene-1.png'; // 320 × 240: the crop box is its centre square, so the outside shows too
const OUTSIDE = { rgb: 24, alpha: 140 / 255 }; // OUTSIDE_RGBA in src/render/heatmap.ts
const INFERNO_ENDS: readonly [number[], number[]] = [[0, 0, 4], [252, 255, 164]]; // d3's interpolateInferno at 0 and 1, the default colormap

async function download(page: Page, testId: string): Promise<{ download: Download; bytes: Buffer }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  const path = await download.path();
  return { download, bytes: readFileSync(path) };
}

interface MapFile {
  format: string;
  version: number;
  map: { width: number; height: number; values: number[] };
  cropBox: { x: number; y: number; width: number; height: number };
  image: { name: string; width: number; height: number };
  context: {
    model: { id: string; variant: string; backend: string };
    method: string;
    methodLabel: string;
    options: Record<string, unknown>;
    prompt: { text: string; ids: number[] | null } | null;
    scores: { prompt: string; cosine: number; probability: number }[];
  };
  range: { min: number; max: number };
  exportedAt: string;
}

test('Export PNG and Export numbers: the painted map at the image\'s resolution, and its exact numbers', async ({ page }, info) => {
  test.setTimeout(180_000);
  const lens = await LensPage.open(page, info);
  await lens.setPrompts(['a yellow circle']);
  const file = repoFile(`public/samples/${SAMPLE}`);
  const source = PNG.sync.read(file.buffer);
  await lens.dropFiles([file]);
  await lens.waitForImages(1);
  await lens.focusImage(0, SAMPLE);
  const stage = page.getByTestId('focus-stage');

  for (const method of ['attention', 'rollout', 'relevance', 'maskclip']) {
    await page.getByTestId('method').selectOption(method);
    await expect(stage).toHaveAttribute('data-method', method);
    await expect(stage).toHaveAttribute('data-ready', 'yes', { timeout: 60_000 });

    const json = await download(page, 'export-json');
    expect(json.download.suggestedFilename()).toBe(`clip-lens_scene-1_${method}.json`);
    const data = JSON.parse(json.bytes.toString('utf8')) as MapFile;
    expect(data.format).toBe('clip-lens.map');
    expect(data.version).toBe(1);
    expect(data.map.values.length).toBe(data.map.width * data.map.height);
    const shown = await page.evaluate(() => window.clipLensDebug.focusMap());
    expect(shown).not.toBeNull();
    expect(data.map.values.length).toBe(shown?.length);
    data.map.values.forEach((v, i) => expect(Math.abs(v - (shown?.[i] ?? NaN))).toBeLessThan(1e-6));
    expect(data.image).toEqual({ name: SAMPLE, width: source.width, height: source.height });
    expect(data.range).toEqual({ min: Math.min(...data.map.values), max: Math.max(...data.map.values) });
    expect(data.context.model).toEqual({ id: 'clip-lens-shapes', variant: 'fp32', backend: 'wasm' });
    expect(data.context.method).toBe(method);
    expect(data.context.methodLabel).toBe(await page.getByTestId('method').locator('option:checked').textContent());
    expect(data.context.scores.map((s) => s.prompt)).toEqual(['a yellow circle']);
    expect(Date.parse(data.exportedAt)).not.toBeNaN();
    if (method === 'attention') expect(Object.keys(data.context.options).sort()).toEqual(['fusion', 'heads', 'layer', 'queryPatch']);
    if (method === 'rollout') expect(Object.keys(data.context.options).sort()).toEqual(['fusion', 'queryPatch', 'rolloutDiscard']);
    if (method === 'relevance') expect(data.context.options).toEqual({ relevanceStart: -1 });
    if (method === 'relevance' || method === 'maskclip') {
      expect(data.context.prompt?.text).toBe('a yellow circle');
      expect(data.context.prompt?.ids?.length).toBeGreaterThan(2); // start, words, end
    } else {
      expect(data.context.prompt).toBeNull();
    }

    const png = await download(page, 'export-png');
    expect(png.download.suggestedFilename()).toBe(`clip-lens_scene-1_${method}.png`);
    const figure = PNG.sync.read(png.bytes);
    expect(figure.width).toBe(source.width);
    expect(figure.height).toBeGreaterThan(source.height); // the colour bar and caption below
    const box = data.cropBox;
    let inside = 0;
    let changed = 0;
    let outsideOff = 0;
    for (let y = 0; y < source.height; y++) {
      for (let x = 0; x < source.width; x++) {
        const o = 4 * (y * source.width + x);
        const isInside = x + 0.5 >= box.x && x + 0.5 < box.x + box.width && y + 0.5 >= box.y && y + 0.5 < box.y + box.height;
        for (let c = 0; c < 3; c++) {
          const src = source.data[o + c] ?? 0;
          const got = figure.data[o + c] ?? 0;
          if (isInside) {
            if (c === 0) inside++;
            if (c === 0 && [0, 1, 2].some((k) => Math.abs((figure.data[o + k] ?? 0) - (source.data[o + k] ?? 0)) > 8)) changed++;
          } else if (Math.abs(got - (src * (1 - OUTSIDE.alpha) + OUTSIDE.rgb * OUTSIDE.alpha)) > 3) {
            outsideOff++;
          }
        }
      }
    }
    // Inside the crop box the overlay is painted; outside it, the picture under the page's dim grey.
    expect(changed / inside).toBeGreaterThan(0.5);
    expect(outsideOff).toBe(0);
    // Below the picture: the colour bar, both ends of the (inferno) colormap among its pixels.
    const below = (rgb: number[]) => {
      for (let o = 4 * source.width * source.height; o < figure.data.length; o += 4) {
        if (rgb.every((v, k) => Math.abs((figure.data[o + k] ?? 0) - v) <= 3)) return true;
      }
      return false;
    };
    expect(below(INFERNO_ENDS[0])).toBe(true);
    expect(below(INFERNO_ENDS[1])).toBe(true);
  }
});

/** Pixels of a decoded PNG that are not the white background (maps, images, bars, text). */
function inkedPixels(png: PNG): number {
  let n = 0;
  for (let o = 0; o < png.data.length; o += 4) if ([0, 1, 2].some((k) => (png.data[o + k] ?? 255) < 245)) n++;
  return n;
}

test('Export grid and Export comparison: one PNG each, every cell and panel drawn at export size', async ({ page }, info) => {
  test.setTimeout(180_000);
  const lens = await LensPage.open(page, info);
  await lens.setPrompts(['a yellow circle']);
  await lens.dropFiles([repoFile(`public/samples/${SAMPLE}`)]);
  await lens.waitForImages(1);
  await lens.focusImage(0, SAMPLE);
  await page.getByTestId('method').selectOption('attention');
  await expect(page.getByTestId('focus-stage')).toHaveAttribute('data-ready', 'yes', { timeout: 60_000 });

  const gridButton = page.getByTestId('export-grid-png');
  await expect(gridButton).toBeEnabled({ timeout: 60_000 });
  const grid = page.getByTestId('layer-grid');
  const [rows, columns] = [Number(await grid.getAttribute('data-rows')), Number(await grid.getAttribute('data-columns'))];
  const [cellW, cellH] = [Number(await gridButton.getAttribute('data-cell-width')), Number(await gridButton.getAttribute('data-cell-height'))];
  expect(cellW).toBeGreaterThanOrEqual(84); // the export size, not the screen's thumbnails
  const gridFile = await download(page, 'export-grid-png');
  expect(gridFile.download.suggestedFilename()).toBe('clip-lens_scene-1_layers-heads.png');
  const gridPng = PNG.sync.read(gridFile.bytes);
  expect(columns * cellW).toBeLessThanOrEqual(gridPng.width);
  expect(rows * cellH).toBeLessThanOrEqual(gridPng.height);
  // Every cell is the dimmed picture under its map: nearly the whole cell area is inked.
  expect(inkedPixels(gridPng)).toBeGreaterThan(0.95 * rows * columns * cellW * cellH);

  await page.getByTestId('compare-toggle').click();
  const panels = page.locator('[data-testid^="compare-panel-"]');
  const count = await panels.count();
  for (let i = 0; i < count; i++) await expect(page.getByTestId(`compare-panel-${i}`)).toHaveAttribute('data-ready', 'yes', { timeout: 60_000 });
  const compareButton = page.getByTestId('export-compare-png');
  await expect(compareButton).toBeEnabled();
  const [panelW, panelH] = [Number(await compareButton.getAttribute('data-panel-width')), Number(await compareButton.getAttribute('data-panel-height'))];
  const compareFile = await download(page, 'export-compare-png');
  const comparePng = PNG.sync.read(compareFile.bytes);
  expect(comparePng.width).toBeGreaterThanOrEqual(count * panelW);
  expect(comparePng.height).toBeGreaterThan(panelH);
  expect(inkedPixels(comparePng)).toBeGreaterThan(0.95 * count * panelW * panelH);
});
