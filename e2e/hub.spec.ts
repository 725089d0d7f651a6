/**
 * Models from the Hugging Face Hub, the way real visitors get them — against a local server with
 * the Hub's URLs (e2e/hubServer.ts), never the network: download with progress, the cache, faults,
 * cancel, the storage manager, model folders from disk, and the fp16 / q8 weights.
 */
import { expect, test, type Page } from './test';
import { LensPage, repoFile, ROOT } from './lensPage';
import type { HubServer } from './hubServer';
import { APP, appWithHub, cachedFiles, MODEL_CACHE, modelFileRequests, withLocalHub } from './hubPage';


let hub: HubServer;
withLocalHub((server) => (hub = server));

const cached = cachedFiles;
const modelRequests = () => modelFileRequests(hub);

class HubLens extends LensPage {
  /**
   * Opens the app with the local Hub; the starting model is the remembered (bundled) one. These
   * tests name the fp32 files, so the visitor once picked fp32 in the Weights menu (the default on
   * WASM is q8: hubVariants.spec.ts).
   */
  static async openWithHub(page: Page, extra = ''): Promise<HubLens> {
    const lens = new HubLens(page, 'wasm');
    await page.addInitScript(() => {
      if (localStorage.getItem('clip-lens.variant') === null) localStorage.setItem('clip-lens.variant', 'fp32');
    });
    await page.goto(appWithHub(hub, extra));
    await lens.waitReady();
    return lens;
  }

  async waitReady(): Promise<void> {
    await expect(this.page.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
  }

  /** Types a repo id into the picker's "Other Hub repo…" field and loads it. */
  async loadRepo(repo: string): Promise<void> {
    await this.page.getByTestId('model-picker').selectOption('custom');
    await this.page.getByTestId('hub-repo-input').fill(repo);
    await this.page.getByTestId('hub-repo-load').click();
  }

  async modelName(): Promise<string> {
    return (await this.page.getByTestId('model-name').textContent()) ?? '';
  }

  /** Drops a scene and checks that it is analysed and its heatmap painted. */
  async analyseScene(index: number, scene = 'scene-1.png'): Promise<void> {
    await this.dropFiles([repoFile(`public/samples/${scene}`, 'image/png', `hub-${index}.png`)]);
    await this.waitForImages(index + 1);
    await expect(this.page.getByTestId(`image-${index}`)).toHaveAttribute('data-status', 'done');
    await expect.poll(async () => {
      const px = await this.canvasPixels(`heatmap-${index}`);
      return px.filter((v, i) => i % 4 === 3 && v > 0).length / Math.max(1, px.length / 4);
    }).toBeGreaterThan(0.5);
  }
}

test('a Hub model: progress, analysed, stored whole; a reload uses the cache with no request; fp16 and q8 paint; storage manager', async ({ page }) => {
  const lens = await HubLens.openWithHub(page);
  await lens.loadRepo('Slow/clip-lens-shapes');
  // Progress with bytes and a rate while the (throttled) files arrive.
  const progress = page.getByTestId('model-progress');
  await expect(progress).toContainText(/MB\/s|kB\/s/);
  expect(Number(await progress.getAttribute('data-loaded'))).toBeGreaterThan(0);
  await lens.waitReady();
  expect(await lens.modelName()).toBe('Slow/clip-lens-shapes');
  await lens.setPrompts(['a red square', 'a yellow circle', 'a blue star']);
  await lens.analyseScene(0);
  expect((await lens.ranking(0))[0]?.prompt).toBe('a yellow circle');

  // Every file is stored, complete.
  expect(await cached(page, 'Slow/clip-lens-shapes')).toEqual(Object.fromEntries(
    ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/vision_model.onnx', 'onnx/text_model.onnx']
      .map((f) => [f, hub.sizes[f]])));

  // The choice is remembered; the next visit reads the cache and never asks the server.
  hub.requests.length = 0;
  await page.reload();
  await lens.waitReady();
  expect(await lens.modelName()).toBe('Slow/clip-lens-shapes');
  expect(modelRequests()).toEqual([]);

  // The other weights of the same repo: each loads, re-analyses the image and paints a map.
  hub.faults = false; // full speed
  await lens.waitForImages(1); // the stored session brings the scene back, analysed again
  await lens.setPrompts(['a yellow circle']);
  await lens.analyseScene(1, 'scene-2.png');
  const variant = page.getByTestId('model-variant');
  for (const v of ['fp16', 'q8']) {
    const before = await lens.runCounters();
    await variant.selectOption(v);
    await lens.waitReady();
    await expect(variant).toHaveValue(v);
    expect(await lens.modelName()).toBe('Slow/clip-lens-shapes');
    await expect(page.getByTestId('image-0')).toHaveAttribute('data-status', 'done');
    expect((await lens.runCounters()).imageRuns).toBeGreaterThan(before.imageRuns);
    await expect.poll(async () => {
      const px = await lens.canvasPixels('heatmap-0');
      return px.filter((a, i) => i % 4 === 3 && a > 0).length;
    }).toBeGreaterThan(0);
  }

  // Another repo, from the picker's catalog entry (the local Hub stands in for OpenAI's).
  await page.getByTestId('model-picker').selectOption({ label: 'OpenAI CLIP ViT-B/32' });
  await lens.waitReady();
  expect(await lens.modelName()).toBe('Xenova/clip-vit-base-patch32');
  await expect(variant).toHaveValue('q8');

  // Stored models: listed with their complete variants and sizes; delete one, then all.
  await page.getByTestId('storage-toggle').click();
  const row = page.getByTestId('stored-Slow/clip-lens-shapes');
  await expect(row).toContainText('fp32, fp16, q8');
  const slowBytes = Object.values(await cached(page, 'Slow/clip-lens-shapes')).reduce((a, b) => a + b, 0);
  await expect(row).toHaveAttribute('data-bytes', String(slowBytes));
  await expect(page.getByTestId('stored-Xenova/clip-vit-base-patch32')).toContainText('q8');
  await expect(page.getByTestId('storage-estimate')).toContainText(/uses .* of/);
  await row.getByRole('button', { name: 'Delete Slow/clip-lens-shapes' }).click();
  await expect(row).toHaveCount(0);
  expect(await cached(page, 'Slow/clip-lens-shapes')).toEqual({});
  expect(Object.keys(await cached(page, 'Xenova/clip-vit-base-patch32')).length).toBeGreaterThan(0);
  await page.getByTestId('storage-delete-all').click();
  await expect(page.getByTestId('storage-empty')).toBeVisible();
  expect(await page.evaluate(async (name) => caches.has(name), MODEL_CACHE)).toBe(false);
  // The model in use stays loaded: a third image (after the restored scene and scene-2) is analysed.
  await lens.analyseScene(2, 'scene-3.png');
});

test('a fresh visitor gets ViT-B/32 when the Hub answers, the bundled model with a note when not', async ({ browser }) => {
  const fresh = { storageState: { cookies: [], origins: [] } };
  const online = await browser.newContext(fresh);
  const page = await online.newPage();
  await page.goto(appWithHub(hub));
  await expect(page.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
  await expect(page.getByTestId('model-name')).toHaveText('Xenova/clip-vit-base-patch32');
  expect(hub.requests.some((r) => r.method === 'HEAD' && r.file === 'config.json')).toBe(true);
  await online.close();

  const offline = await browser.newContext(fresh);
  const page2 = await offline.newPage();
  // Nothing listens on port 9: the Hub is unreachable.
  await page2.goto(`${APP}?backend=wasm&hub=${encodeURIComponent('http://127.0.0.1:9')}`);
  await expect(page2.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
  await expect(page2.getByTestId('model-name')).toHaveText('clip-lens-shapes');
  await expect(page2.getByTestId('model-note')).toContainText(/offline: using the small bundled model/i);
  await offline.close();
});

test('broken downloads: a clear message each, the previous model keeps working, nothing broken is cached; Retry, resume, Cancel', async ({ page }) => {
  const lens = await HubLens.openWithHub(page);
  const faults: [string, RegExp][] = [
    ['Test/no-such-model', /no public repository by this name/],
    ['Fault404/clip-lens-shapes', /this repository has no such file.*is the repo id right\?/],
    ['FaultHtml/clip-lens-shapes', /web page \(HTML\), not the model file/],
    ['FaultHonest/clip-lens-shapes', /damaged or incomplete/],
    ['FaultDishonest/clip-lens-shapes', /incomplete: the server stopped sending at .* of .*resuming did not help/],
  ];
  for (const [repo, message] of faults) {
    await lens.loadRepo(repo);
    await expect(page.getByTestId('model-error')).toContainText(message, { timeout: 30_000 });
    await expect(page.getByTestId('model-error')).toContainText('the small bundled model is still loaded');
    await expect(page.getByTestId('model-status')).toHaveText(/ready/);
    expect(await lens.modelName()).toBe('clip-lens-shapes');
    // The broken file is not stored; whatever else is (healthy files of the repo) is whole.
    const stored = await cached(page, repo);
    expect(stored['onnx/vision_model.onnx']).toBeUndefined();
    for (const [file, bytes] of Object.entries(stored)) expect(bytes, file).toBe(hub.sizes[file]);
  }
  // The previous model still analyses images.
  await lens.setPrompts(['a yellow circle']);
  await lens.analyseScene(0);

  // The server heals: Retry loads the last failed repo, and its files are stored whole.
  hub.faults = false;
  await page.getByTestId('model-retry').click();
  await lens.waitReady();
  await expect(page.getByTestId('model-name')).toHaveText('FaultDishonest/clip-lens-shapes');
  expect((await cached(page, 'FaultDishonest/clip-lens-shapes'))['onnx/vision_model.onnx']).toBe(hub.sizes['onnx/vision_model.onnx']);
  await expect(page.getByTestId('image-0')).toHaveAttribute('data-status', 'done');

  // A flaky server: 503 on the JSON files, dropped connections halfway through the .onnx files.
  hub.faults = true;
  hub.requests.length = 0;
  await lens.loadRepo('Flaky/clip-lens-shapes');
  await lens.waitReady();
  expect(await lens.modelName()).toBe('Flaky/clip-lens-shapes');
  const gets = modelRequests().filter((r) => r.method === 'GET');
  expect(gets.filter((r) => r.status === 503).map((r) => r.file).sort()).toEqual(['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']);
  const resumed = gets.filter((r) => r.range !== null);
  expect(resumed.map((r) => r.file).sort()).toEqual(['onnx/text_model.onnx', 'onnx/vision_model.onnx']);
  expect(resumed.every((r) => r.status === 206)).toBe(true);
  const flaky = await cached(page, 'Flaky/clip-lens-shapes');
  expect(flaky['onnx/vision_model.onnx']).toBe(hub.sizes['onnx/vision_model.onnx']);
  expect(flaky['onnx/text_model.onnx']).toBe(hub.sizes['onnx/text_model.onnx']);

  // Cancel: the download stops, the model before stays, nothing partial is stored.
  await lens.loadRepo('Slow/clip-lens-shapes');
  await expect.poll(async () => Number(await page.getByTestId('model-progress').getAttribute('data-loaded').catch(() => '0'))).toBeGreaterThan(0);
  await page.getByTestId('model-cancel').click();
  await lens.waitReady();
  expect(await lens.modelName()).toBe('Flaky/clip-lens-shapes');
  await expect(page.getByTestId('model-note')).toContainText(/cancelled/i);
  const slow = await cached(page, 'Slow/clip-lens-shapes');
  expect(slow['onnx/text_model.onnx']).toBeUndefined();
  for (const [file, bytes] of Object.entries(slow)) expect(bytes, file).toBe(hub.sizes[file]);
  await lens.analyseScene(1, 'scene-2.png');
});

test('a model folder from disk: through the file chooser, and dropped as loose files', async ({ page }) => {
  const lens = await HubLens.openWithHub(page);
  await lens.setPrompts(['a yellow circle']);
  await page.getByTestId('model-picker').selectOption('folder');
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('model-folder-button').click();
  await (await chooser).setFiles(`${ROOT}public/models/clip-lens-shapes`);
  await lens.waitReady();
  await expect(page.getByTestId('model-picker')).toHaveValue('folder:clip-lens-shapes');
  await lens.analyseScene(0);
  expect(modelRequests()).toEqual([]);

  // Loose files (the q8 weights only) dropped on the picker: mapped onto the folder layout.
  const names = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/vision_model_quantized.onnx', 'onnx/text_model_quantized.onnx'];
  const payload = names.map((n) => ({ name: n.replace('onnx/', ''), data: repoFile(`public/models/clip-lens-shapes/${n}`).buffer.toString('base64') }));
  const dt = await page.evaluateHandle((items) => {
    const transfer = new DataTransfer();
    for (const it of items) transfer.items.add(new File([Uint8Array.from(atob(it.data), (c) => c.charCodeAt(0))], it.name));
    return transfer;
  }, payload);
  const runs = await lens.runCounters();
  await page.getByTestId('model-picker-drop').dispatchEvent('drop', { dataTransfer: dt });
  await expect(page.getByTestId('model-variant')).toHaveValue('q8');
  await lens.waitReady();
  await expect.poll(async () => (await lens.runCounters()).imageRuns).toBeGreaterThan(runs.imageRuns);
  await expect(page.getByTestId('image-0')).toHaveAttribute('data-status', 'done');

  // A folder that is not a model: a message, and the model stays.
  await page.getByTestId('model-picker').selectOption('folder');
  await page.getByTestId('model-folder-input').setInputFiles(`${ROOT}public/samples`);
  await expect(page.getByTestId('model-error')).toContainText(/not a model folder: it has no config\.json/);
  await expect(page.getByTestId('model-status')).toHaveText(/ready/);
});

test('a full storage quota: the model still works and a note says it was not kept', async ({ page }) => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: APP.replace(/\/$/, ''), quotaSize: 2_000_000 });
  const lens = await HubLens.openWithHub(page, '&model=Test/clip-lens-shapes');
  expect(await lens.modelName()).toBe('Test/clip-lens-shapes');
  await expect(page.getByTestId('model-note')).toContainText(/storage is full.*could not be kept/);
  const stored = await cached(page, 'Test/clip-lens-shapes');
  expect(stored['onnx/text_model.onnx']).toBeUndefined();
  await lens.setPrompts(['a yellow circle']);
  await lens.analyseScene(0);
});
