/**
 * The model worker dies mid-queue (as from running out of memory): the page notices by itself
 * (the debug hook terminates the worker without telling the pipeline), says so, starts a new
 * worker, loads the model again and finishes every image; images, prompts and the view stay.
 */
import { expect, test } from './test';
import { LensPage, repoFile } from './lensPage';
import type { HubServer } from './hubServer';
import { appWithHub, withLocalHub } from './hubPage';

let hub: HubServer;
withLocalHub((server) => (hub = server));

const SCENES = ['scene-1.png', 'scene-2.png', 'scene-3.png', 'scene-4.png', 'scene-5.png', 'scene-6.png'];
const PROMPTS = ['a red square', 'a yellow circle', 'a blue star'];

test('a worker that dies mid-queue is replaced: the model is reloaded, every image finishes, nothing is lost', async ({ page }, info) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const lens = await LensPage.open(page, info);
  await lens.setPrompts(PROMPTS);
  // The view a person had set up: layer 2, head 1 off.
  await page.getByTestId('layer').fill('1');
  await page.getByTestId('head-0').click();
  await expect(page.getByTestId('head-0')).toHaveAttribute('aria-pressed', 'false');

  const count = 18;
  await lens.dropFiles(Array.from({ length: count }, (_, i) => repoFile(`public/samples/${SCENES[i % SCENES.length]}`, 'image/png', `scene-${i}.png`)));
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="queue"]')?.getAttribute('data-done')) >= 2);
  const doneAtCrash = await page.evaluate(() => {
    window.clipLensDebug.killWorker();
    return Number(document.querySelector('[data-testid="queue"]')?.getAttribute('data-done'));
  });
  expect(doneAtCrash).toBeLessThan(count); // the queue was still running

  // The page says what happened, and comes back by itself.
  await expect(page.getByTestId('model-note')).toContainText(/model worker stopped unexpectedly/i);
  await expect(page.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
  await lens.waitForImages(count);
  for (let i = 0; i < count; i++) await expect(page.getByTestId(`image-${i}`)).toHaveAttribute('data-status', 'done');
  expect(page.workers().filter((w) => w.url().includes('lens.worker'))).toHaveLength(1);

  // Prompts and view as they were; the results are the new worker's and right.
  for (const [i, text] of PROMPTS.entries()) await expect(page.getByTestId(`prompt-${i}`)).toHaveValue(text);
  await expect(page.getByTestId('layer-value')).toHaveText('2');
  await expect(page.getByTestId('head-0')).toHaveAttribute('aria-pressed', 'false');
  expect((await lens.ranking(0))[0]?.prompt).toBe('a yellow circle'); // scene-1.png
  await expect.poll(async () => {
    const px = await lens.canvasPixels('heatmap-0');
    return px.filter((v, i) => i % 4 === 3 && v > 0).length;
  }).toBeGreaterThan(0);
  expect((await lens.runCounters()).imageRuns).toBeGreaterThanOrEqual(count - doneAtCrash);

  // The new worker is watched as the first was: a second crash is recovered too.
  await page.evaluate(() => window.clipLensDebug.killWorker());
  await expect(page.getByTestId('model-note')).toContainText(/model worker stopped unexpectedly/i);
  await expect(page.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
  await lens.waitForImages(count);
  expect(errors).toEqual([]);
});

test('a worker that dies while loading another model (as when it runs out of memory) brings back the model before', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(appWithHub(hub));
  await expect(page.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
  await expect(page.getByTestId('model-name')).toHaveText('clip-lens-shapes');
  const lens = new LensPage(page, 'wasm');
  await lens.setPrompts(['a red square', 'a yellow circle']);

  // The Slow owner trickles its files: the load is surely still under way when the worker dies.
  await page.getByTestId('model-picker').selectOption('custom');
  await page.getByTestId('hub-repo-input').fill('Slow/clip-lens-shapes');
  await page.getByTestId('hub-repo-load').click();
  await expect.poll(async () => Number(await page.getByTestId('model-progress').getAttribute('data-loaded'))).toBeGreaterThan(0);
  await page.evaluate(() => window.clipLensDebug.killWorker());

  await expect(page.getByTestId('model-note')).toContainText(/Loading Slow\/clip-lens-shapes stopped the model worker/);
  await expect(page.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
  await expect(page.getByTestId('model-name')).toHaveText('clip-lens-shapes');
  await lens.dropFiles([repoFile('public/samples/scene-1.png')]);
  await lens.waitForImages(1);
  expect((await lens.ranking(0))[0]?.prompt).toBe('a yellow circle');
  expect(errors).toEqual([]);
});
