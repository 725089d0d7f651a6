import { expect, test } from './test';
import { PNG } from 'pngjs';
import { APP } from './hubPage';
import { LensPage, pixelDifference, repoFile } from './lensPage';

test.describe('CLIP Lens on the bundled model', () => {
  test('reports the backend it runs on', async ({ page }, info) => {
    const lens = await LensPage.open(page, info);
    await expect(page.getByTestId('model-status')).toHaveAttribute('data-backend', lens.backend);
  });

  test('a dropped scene: its caption wins, a heatmap is painted, view changes repaint without re-running', async ({ page }, info) => {
    const lens = await LensPage.open(page, info);
    // scene-1.png is "a yellow circle" (see public/samples/index.json).
    await lens.setPrompts(['a red square', 'a yellow circle', 'a blue star', 'a green triangle']);
    await lens.dropFiles([repoFile('public/samples/scene-1.png')]);
    await lens.waitForImages(1);
    await expect(page.locator('[data-testid^="score-0-"]')).toHaveCount(4);
    const ranking = await lens.ranking(0);
    expect(ranking[0]?.prompt).toBe('a yellow circle');

    const before = await lens.canvasPixels('heatmap-0');
    const painted = before.filter((v, i) => i % 4 === 3 && v > 0).length;
    expect(painted).toBeGreaterThan(before.length / 4 / 2); // most of the overlay is painted

    const runs = await lens.runCounters();
    await page.getByTestId('layer').fill('0');
    await expect(page.getByTestId('layer-value')).toHaveText('1');
    await expect.poll(async () => pixelDifference(before, await lens.canvasPixels('heatmap-0'))).toBeGreaterThan(0.01);

    const afterLayer = await lens.canvasPixels('heatmap-0');
    await page.getByTestId('head-0').click();
    await expect.poll(async () => pixelDifference(afterLayer, await lens.canvasPixels('heatmap-0'))).toBeGreaterThan(0.01);

    const afterHead = await lens.canvasPixels('heatmap-0');
    await page.getByTestId('colormap').selectOption('viridis');
    await expect.poll(async () => pixelDifference(afterHead, await lens.canvasPixels('heatmap-0'))).toBeGreaterThan(0.01);

    expect(await lens.runCounters()).toEqual(runs);
  });

  test('clicking a patch shows where it attends: one encoder run for its rows, then layer changes are free', async ({ page }, info) => {
    test.setTimeout(240_000);
    const lens = await LensPage.open(page, info);
    await lens.dropFiles([repoFile('public/samples/scene-1.png')]);
    await lens.waitForImages(1);
    await lens.focusImage(0, 'scene-1.png');
    await expect(page.getByTestId('focus-stage')).toHaveAttribute('data-ready', 'yes');
    await lens.nextFrames();
    const cls = await lens.canvasPixels('focus-heatmap');
    const before = await lens.runCounters();

    const box = await page.getByTestId('focus-heatmap').boundingBox();
    if (!box) throw new Error('focus heatmap has no box');
    await page.getByTestId('focus-heatmap').click({ position: { x: box.width * 0.3, y: box.height * 0.6 } });
    await expect(page.getByText(/Showing where patch \d+ attends/)).toBeVisible();
    await expect(page.getByTestId('focus-stage')).toHaveAttribute('data-ready', 'yes', { timeout: 30_000 });
    await expect.poll(async () => pixelDifference(cls, await lens.canvasPixels('focus-heatmap'))).toBeGreaterThan(0.01);
    const afterClick = await lens.runCounters();
    // The clicked patch's rows come from one more vision run; nothing else re-runs.
    expect(afterClick).toEqual({ ...before, queryRuns: before.queryRuns + 1 });

    const query = await lens.canvasPixels('focus-heatmap');
    await page.getByTestId('layer').fill('0');
    await expect(page.getByTestId('layer-value')).toHaveText('1');
    await expect.poll(async () => pixelDifference(query, await lens.canvasPixels('focus-heatmap'))).toBeGreaterThan(0.01);
    await page.getByTestId('method').selectOption('rollout');
    await expect(page.getByTestId('focus-stage')).toHaveAttribute('data-ready', 'yes');
    expect(await lens.runCounters()).toEqual(afterClick);

    await page.getByTestId('method').selectOption('attention');
    await page.getByTestId('layer').fill((await page.getByTestId('layer').getAttribute('max')) ?? ''); // back to the last layer
    await page.getByRole('button', { name: 'Back to the CLS token' }).click();
    await expect.poll(async () => pixelDifference(cls, await lens.canvasPixels('focus-heatmap'))).toBe(0);
    expect(await lens.runCounters()).toEqual(afterClick);

    // The layers × heads small multiples (the bundled model's, from its config.json) share one
    // canvas: every cell is painted, the 2-px gaps between cells are not; a cell's button picks that head.
    const vision = (JSON.parse(repoFile('public/models/clip-lens-shapes/config.json').buffer.toString('utf8')) as {
      vision_config: { num_hidden_layers: number; num_attention_heads: number };
    }).vision_config;
    const layers = vision.num_hidden_layers;
    const heads = vision.num_attention_heads;
    const grid = page.getByTestId('layer-grid');
    await expect(grid.locator('button.cell')).toHaveCount(layers * heads);
    await expect(grid.locator('canvas')).toHaveAttribute('data-pending', '0'); // cells are painted a few per frame
    const size = await grid.locator('canvas').evaluate((c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]);
    const [width = 0, height = 0] = size;
    const cellW = (width - (heads - 1) * 2) / heads;
    const cellH = (height - (layers - 1) * 2) / layers;
    const pixels = await lens.canvasPixels(grid.locator('canvas'));
    const alphaAt = (x: number, y: number) => pixels[(Math.round(y) * width + Math.round(x)) * 4 + 3] ?? -1;
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < heads; h++) expect(alphaAt(h * (cellW + 2) + cellW / 2, l * (cellH + 2) + cellH / 2), `cell ${l},${h}`).toBe(255);
    }
    expect(alphaAt(cellW + 1, cellH / 2)).toBe(0);
    const focusBefore = await lens.canvasPixels('focus-heatmap');
    await page.getByRole('button', { name: 'Show layer 2, head 3' }).click();
    await expect(page.getByTestId('layer-value')).toHaveText('2');
    await expect(page.getByRole('button', { name: 'Show layer 2, head 3' })).toHaveAttribute('aria-pressed', 'true');
    await expect(page.getByRole('button', { name: 'Show layer 4, head 1' })).toHaveAttribute('aria-pressed', 'false');
    await expect.poll(async () => pixelDifference(focusBefore, await lens.canvasPixels('focus-heatmap'))).toBeGreaterThan(0.01);
    expect(await lens.runCounters()).toEqual(afterClick);
  });

  test('bad files each get a message while good images are analysed', async ({ page }, info) => {
    const lens = await LensPage.open(page, info);
    await lens.setPrompts(['a red circle']);
    // A 12000×9000 image, made in the page (a PNG of that size is too big to keep in git).
    const huge = await page.evaluate(async () => {
      const c = new OffscreenCanvas(12000, 9000);
      const ctx = c.getContext('2d');
      if (!ctx) throw new Error('no 2d');
      ctx.fillStyle = '#808080';
      ctx.fillRect(0, 0, 12000, 9000);
      ctx.fillStyle = '#d02020';
      ctx.beginPath();
      ctx.arc(6000, 4500, 1500, 0, 2 * Math.PI);
      ctx.fill();
      const blob = await c.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    });
    const files = [
      repoFile('e2e/fixtures/truncated.jpg', 'image/jpeg'),
      { name: 'empty.png', mimeType: 'image/png', buffer: Buffer.alloc(0) },
      { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are my notes, not a picture\n') },
      repoFile('e2e/fixtures/foo3x5x4indexed.png'),
      repoFile('public/samples/camera.png'), // grayscale
      repoFile('public/samples/horse.png'), // RGBA
      { name: 'huge.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(huge, 'base64') },
      { name: 'drawing.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>') },
      repoFile('public/samples/scene-2.png'),
    ];
    await lens.addFiles(files);
    await lens.waitForImages(files.length, 120_000);
    const status = async (i: number) => page.getByTestId(`image-${i}`).getAttribute('data-status');
    // Broken, empty, text and SVG: a clear message each.
    await expect(page.getByTestId('image-error-0')).toContainText(/damaged|cut short|could not be decoded/i);
    await expect(page.getByTestId('image-error-1')).toContainText(/empty/i);
    await expect(page.getByTestId('image-error-2')).toContainText(/text, not an image/i);
    await expect(page.getByTestId('image-error-7')).toContainText(/SVG/);
    // Tiny palette, grayscale, RGBA, huge and the good scene: analysed.
    for (const i of [3, 4, 5, 6, 8]) expect(await status(i)).toBe('done');
    await expect(page.locator('[data-testid^="score-8-"]')).toHaveCount(1);
    // The session still works: a new image is analysed after all that.
    await lens.addFiles([repoFile('public/samples/scene-3.png')]);
    await lens.waitForImages(files.length + 1);
    expect(await status(files.length)).toBe('done');
  });

  test('extreme aspect ratios (65535 × 1 and 1 × 65535): analysed and painted inside their cards, no page error', async ({ page }, info) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const lens = await LensPage.open(page, info);
    await lens.setPrompts(['a red circle']);
    const strip = (width: number, height: number): Buffer => {
      const img = new PNG({ width, height });
      for (let i = 0; i < width * height; i++) img.data.set([200, 40, 40, 255], i * 4);
      return PNG.sync.write(img);
    };
    await lens.addFiles([
      { name: 'wide.png', mimeType: 'image/png', buffer: strip(65535, 1) },
      { name: 'tall.png', mimeType: 'image/png', buffer: strip(1, 65535) },
    ]);
    await lens.waitForImages(2);
    for (const [i, name] of [[0, 'wide.png'], [1, 'tall.png']] as const) {
      await expect(page.getByTestId(`image-${i}`)).toHaveAttribute('data-status', 'done');
      const canvas = page.getByTestId(`heatmap-${i}`);
      const size = await canvas.evaluate((c) => ({ width: (c as HTMLCanvasElement).width, height: (c as HTMLCanvasElement).height }));
      expect(size.width, name).toBeGreaterThanOrEqual(1);
      expect(size.height, name).toBeGreaterThanOrEqual(1);
      expect(size.width * size.height, name).toBeLessThanOrEqual(220 * 440);
      await lens.focusImage(i, name);
      await expect(page.getByTestId('focus-stage')).toHaveAttribute('data-ready', 'yes');
    }
    expect(errors).toEqual([]);
  });

  test('20 images dropped at once all finish, and no request leaves the origin', async ({ page }, info) => {
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(APP) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    const lens = await LensPage.open(page, info);
    const scenes = Array.from({ length: 20 }, (_, i) => repoFile(`public/samples/scene-${(i % 6) + 1}.png`, 'image/png', `scene-copy-${i + 1}.png`));
    await lens.dropFiles(scenes);
    await lens.waitForImages(20, 200_000);
    await expect(page.locator('[data-status="done"]')).toHaveCount(20);
    expect(foreign).toEqual([]);
  });
});
