/**
 * Explanations point at the prompted object: the pointing game, run in the app on fresh
 * two-object scenes, and the token view picking a content word of the prompt; the prompt
 * difference (A − B) points at A and flips with A and B; the Compare panel's shared and separate
 * scales; cancelling a relevance computation and running it again.
 */
import { readFileSync } from 'node:fs';
import { expect, test } from './test';
import { PNG } from 'pngjs';
import { makeScene, seededRandom, type Scene, type SceneObject } from '../src/testing/scenes';
import { LensPage, pixelDifference } from './lensPage';

const SCENES = 40;
const vision = JSON.parse(readFileSync(new URL('../public/models/clip-lens-shapes/config.json', import.meta.url), 'utf8')).vision_config;
/** The bundled model's patch grid side: the page's peak is a patch index on it. */
const GRID: number = vision.image_size / vision.patch_size;
/** Scenes are drawn larger than the model's input, so the app's resize is part of what is tested;
 * a multiple of the grid, so every patch covers whole scene pixels. */
const SIZE = 20 * GRID;
/** Measured level of the MaskCLIP pointing game in the page, with a margin (see its test). */
const DENSE_FLOOR = 0.775; // measured 34/40 = 0.85 (stage 10: 28/40; stage 9: 23/40, stage 8: 25/40, stage 7: 27/40; it drifts as the model trains)

function png(scene: Scene): Buffer {
  const img = new PNG({ width: scene.width, height: scene.height });
  img.data = Buffer.from(scene.rgba.buffer, scene.rgba.byteOffset, scene.rgba.byteLength);
  return PNG.sync.write(img);
}

/** The peak patch holds ≥ 1/16 of its pixels inside the object's visible mask (as evaluate.py). */
function hit(peak: number, grid: number, scene: Scene, objectIndex: number): boolean {
  const mask = scene.masks[objectIndex];
  if (!mask || peak < 0) return false;
  const py = Math.floor(peak / grid);
  const px = peak % grid;
  const ph = scene.height / grid;
  const pw = scene.width / grid;
  let inside = 0;
  for (let y = py * ph; y < (py + 1) * ph; y++) for (let x = px * pw; x < (px + 1) * pw; x++) inside += mask[y * scene.width + x] ?? 0;
  return inside / (ph * pw) >= 1 / 16;
}

const caption = (o: SceneObject): string => `a ${o.colour} ${o.shape}`;

test('gradient relevance points at the prompted object; the token view picks a content word', async ({ page }, info) => {
  test.setTimeout(600_000); // 3 × 40 focused maps and 40 encodings at 145 tokens: 4.3 min in CI
  const lens = await LensPage.open(page, info);
  const rand = seededRandom(4242 + (info.project.name === 'webgpu' ? 1 : 0));
  const scenes = Array.from({ length: SCENES }, () => makeScene(rand, { width: SIZE, height: SIZE, objects: 2, distinct: true }));
  const targets = scenes.map((s, i) => s.objects[i % 2] ?? s.objects[0]);
  const prompts = [...new Set(targets.map((o) => (o ? caption(o) : '')))];
  await lens.setPrompts(prompts);
  await lens.addFiles(scenes.map((s, i) => ({ name: `pointing-${i}.png`, mimeType: 'image/png', buffer: png(s) })));
  await lens.waitForImages(SCENES, 200_000);
  await page.getByTestId('method').selectOption('relevance');
  // Accumulated over all layers: the last layer alone points less well on this small model
  // (tools/models/README.md reports both).
  await page.getByTestId('relevance-start').selectOption('0');

  const stage = page.getByTestId('focus-stage');
  /** Focuses scene i with its target's caption as prompt A; whether the view's peak is on the target. */
  const pointsAtTarget = async (i: number): Promise<{ o: SceneObject; hit: boolean }> => {
    const o = targets[i];
    const scene = scenes[i];
    if (!o || !scene) throw new Error('scene without objects');
    await page.getByTestId(`image-${i}`).getByRole('button', { name: `pointing-${i}.png`, exact: true }).click();
    await page.getByRole('radio', { name: `Use prompt ${prompts.indexOf(caption(o)) + 1} for prompt-dependent views`, exact: true }).check();
    await expect(stage).toHaveAttribute('data-image', `pointing-${i}.png`);
    await expect(stage).toHaveAttribute('data-prompt', caption(o));
    await expect(stage).toHaveAttribute('data-ready', 'yes', { timeout: 30_000 });
    return { o, hit: hit(Number(await stage.getAttribute('data-peak')), GRID, scene, i % 2) };
  };

  let hits = 0;
  let wordHits = 0;
  for (let i = 0; i < SCENES; i++) {
    const { o, hit: onTarget } = await pointsAtTarget(i);
    if (onTarget) hits++;
    if (i === 0) {
      // The view says how the map was computed; tfjs runs one thread unless ?gradthreads asks.
      const computed = page.getByTestId('relevance-computed');
      await expect(computed).toContainText('Relevance computed in');
      await expect(computed).toHaveAttribute('data-threads', '1');
      // All layers: ONNX Runtime differentiates the image encoder (its graph with the backward pass appended).
      await expect(computed).toHaveAttribute('data-vision-by', 'onnxruntime');
      await expect(computed).toContainText('ONNX Runtime for the image');
    }
    const top = await page.getByTestId('token-view').getAttribute('data-top-token');
    if (top === o.colour || top === o.shape) wordHits++;
  }
  console.log(`pointing game (gradient relevance, all layers): ${hits}/${SCENES}; token view content word: ${wordHits}/${SCENES}`);
  expect(hits / SCENES).toBeGreaterThanOrEqual(0.85);
  expect(wordHits / SCENES).toBeGreaterThanOrEqual(0.8);

  // The head ranking drives the head toggles: its top head becomes the solo head of raw attention.
  const top = page.getByTestId('head-ranking').getByRole('button').first();
  const label = (await top.getAttribute('aria-label')) ?? '';
  const [, layer, head] = /layer (\d+), head (\d+)/.exec(label) ?? [];
  await top.click();
  await expect(page.getByTestId('method')).toHaveValue('attention');
  await expect(page.getByTestId('layer-value')).toHaveText(layer ?? '?');
  await expect(page.getByTestId(`head-${Number(head) - 1}`)).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('[data-testid^="head-"][aria-pressed="true"]')).toHaveCount(1);

  // The gradient-free dense map (MaskCLIP) on the same scenes and prompts.
  await page.getByTestId('method').selectOption('maskclip');
  let denseHits = 0;
  for (let i = 0; i < SCENES; i++) if ((await pointsAtTarget(i)).hit) denseHits++;
  console.log(`pointing game (MaskCLIP dense map): ${denseHits}/${SCENES}`);
  // Below the 0.85 aimed for: on this 4-layer model the last block's value path is only partly
  // aligned with the text (tools/models/README.md); this guards the measured level.
  expect(denseHits / SCENES).toBeGreaterThanOrEqual(DENSE_FLOOR);

  // The gradient-free patch contributions (every layer's CLS attention, decomposed per patch).
  await page.getByTestId('method').selectOption('contributions');
  let contributionHits = 0;
  for (let i = 0; i < SCENES; i++) if ((await pointsAtTarget(i)).hit) contributionHits++;
  console.log(`pointing game (patch contributions dense map): ${contributionHits}/${SCENES}`);
  expect(contributionHits / SCENES).toBeGreaterThanOrEqual(0.85);
  // One layer's share: the layer slider picks it, from the same result (no new computation).
  await expect(page.getByTestId('layer')).toBeDisabled();
  const sum = await lens.canvasPixels('focus-heatmap');
  await page.getByTestId('contribution-layers').selectOption('selected');
  const layerSlider = page.getByTestId('layer');
  await expect(layerSlider).toBeEnabled();
  const shares: number[][] = [];
  for (const layer of ['0', '3']) {
    await layerSlider.fill(layer);
    await expect(stage).toHaveAttribute('data-ready', 'yes');
    await lens.nextFrames();
    shares.push(await lens.canvasPixels('focus-heatmap'));
  }
  expect(pixelDifference(shares[0] ?? [], shares[1] ?? [])).toBeGreaterThan(0.01);
  expect(pixelDifference(sum, shares[0] ?? [])).toBeGreaterThan(0.01);
  await expect(page.getByText('Computing the dense map')).toHaveCount(0);
  // Relevance from layer 0 and patch contributions start at the pixels, and the other dense maps
  // at the last block's input, which every image encoding brings along: no encoder ran only to
  // get a block input.
  expect((await lens.runCounters()).blockRuns).toBe(0);
});

test('the prompt difference A − B peaks inside object A; swapping A and B flips its sign', async ({ page }, info) => {
  test.setTimeout(300_000);
  const N = 8;
  const lens = await LensPage.open(page, info);
  const rand = seededRandom(9090);
  const scenes = Array.from({ length: N }, () => makeScene(rand, { width: SIZE, height: SIZE, objects: 2, distinct: true }));
  const prompts = [...new Set(scenes.flatMap((s) => s.objects.map(caption)))];
  await lens.setPrompts(prompts);
  // Options before the images, so that nothing is computed that the test does not read.
  await page.getByTestId('method').selectOption('difference');
  await page.getByTestId('difference-base').selectOption('relevance');
  await page.getByTestId('relevance-start').selectOption('0');
  await lens.addFiles(scenes.map((s, i) => ({ name: `difference-${i}.png`, mimeType: 'image/png', buffer: png(s) })));
  await lens.waitForImages(N, 120_000);

  const stage = page.getByTestId('focus-stage');
  let hits = 0;
  for (let i = 0; i < N; i++) {
    const scene = scenes[i];
    const target = i % 2;
    const a = scene?.objects[target];
    const b = scene?.objects[1 - target];
    if (!scene || !a || !b) throw new Error('scene without two objects');
    await lens.focusImage(i, `difference-${i}.png`);
    await lens.choosePrompt(prompts.indexOf(caption(a)));
    await page.getByTestId('prompt-b').selectOption({ label: caption(b) });
    await expect(stage).toHaveAttribute('data-prompt', caption(a));
    await expect(stage).toHaveAttribute('data-prompt-b', caption(b));
    await expect(stage).toHaveAttribute('data-ready', 'yes', { timeout: 60_000 });
    await expect(stage).toHaveAttribute('data-signed', 'yes');
    const peak = Number(await stage.getAttribute('data-peak'));
    if (hit(peak, GRID, scene, target)) hits++;

    // B − A is exactly −(A − B): the patch that was "most A" is now the most negative one.
    await page.getByTestId('swap-prompts').click();
    await expect(stage).toHaveAttribute('data-prompt', caption(b));
    await expect(stage).toHaveAttribute('data-prompt-b', caption(a));
    await expect(stage).toHaveAttribute('data-ready', 'yes');
    expect(Number(await stage.getAttribute('data-trough'))).toBe(peak);
    expect(Number(await stage.getAttribute('data-peak'))).not.toBe(peak);
  }
  console.log(`pointing game (prompt difference of gradient relevance, A − B): ${hits}/${N}`);
  expect(hits).toBeGreaterThanOrEqual(Math.ceil(0.75 * N));
});

test('Compare shows one labelled canvas per panel; a shared scale paints differently from separate scales', async ({ page }, info) => {
  const lens = await LensPage.open(page, info);
  const scene = makeScene(seededRandom(3131), { width: SIZE, height: SIZE, objects: 2, distinct: true });
  const [first, second] = scene.objects;
  if (!first || !second) throw new Error('scene without two objects');
  await lens.setPrompts([caption(first), caption(second)]);
  await lens.addFiles([{ name: 'compare.png', mimeType: 'image/png', buffer: png(scene) }]);
  await lens.waitForImages(1);

  await page.getByTestId('compare-toggle').click();
  await page.getByTestId('compare-add').click();
  await page.getByTestId('compare-method-2').selectOption('clearclip');
  // Probabilities (attention, rollout) and a cosine similarity (ClearCLIP): different magnitudes.
  const N = 3;
  await expect(page.locator('[data-testid^="compare-panel-"]')).toHaveCount(N);
  await expect(page.locator('[data-testid^="compare-canvas-"]')).toHaveCount(N);
  await expect(page.getByTestId('compare-label-0')).toHaveText(/Raw attention/);
  await expect(page.getByTestId('compare-label-1')).toHaveText(/rollout/);
  await expect(page.getByTestId('compare-label-2')).toHaveText(`Dense prompt map: ClearCLIP: “${caption(first)}”`);
  for (let i = 0; i < N; i++) await expect(page.getByTestId(`compare-panel-${i}`)).toHaveAttribute('data-ready', 'yes');
  await expect(page.getByTestId('compare-shared')).toBeChecked();

  const shared = await lens.compareRanges();
  for (const r of shared) {
    expect(Number.isFinite(r.min) && Number.isFinite(r.max) && r.max > r.min).toBe(true);
    expect(r).toEqual(shared[0]);
  }
  await lens.nextFrames();
  const sharedPixels = await Promise.all(Array.from({ length: N }, (_, i) => lens.canvasPixels(`compare-canvas-${i}`)));

  await page.getByTestId('compare-shared').uncheck();
  const separate = await lens.compareRanges();
  // Each panel on its own range: they differ from one another, and from the shared one where the
  // panel's values do not span the pooled range.
  expect(new Set(separate.map((r) => `${r.min}|${r.max}`)).size).toBe(N);
  const rescaled = separate.flatMap((r, i) => {
    const s = shared[i];
    return s && Math.abs(r.max - r.min - (s.max - s.min)) > 1e-3 * (s.max - s.min) ? [i] : [];
  });
  expect(rescaled.length).toBeGreaterThanOrEqual(N - 1);
  await expect.poll(async () => {
    const diffs = await Promise.all(rescaled.map(async (i) => pixelDifference(sharedPixels[i] ?? [], await lens.canvasPixels(`compare-canvas-${i}`))));
    return Math.min(...diffs);
  }, { message: 'panels whose range changed must repaint' }).toBeGreaterThan(0.05);

  // Percentiles clip the extremes: a narrower range than min–max for at least one panel.
  await page.getByTestId('compare-normalization').selectOption('percentile');
  const clipped = await lens.compareRanges();
  expect(clipped.some((r, i) => r.max - r.min < (separate[i]?.max ?? 0) - (separate[i]?.min ?? 0) - 1e-9)).toBe(true);
});

test('gradient relevance shows its progress, can be cancelled, and runs again on request', async ({ page }, info) => {
  const lens = await LensPage.open(page, info);
  const scene = makeScene(seededRandom(5151), { width: SIZE, height: SIZE, objects: 2, distinct: true });
  const [first] = scene.objects;
  if (!first) throw new Error('scene without objects');
  await lens.setPrompts([caption(first)]);
  await lens.addFiles([{ name: 'cancel.png', mimeType: 'image/png', buffer: png(scene) }]);
  await lens.waitForImages(1);

  // The first relevance request makes the worker read the model files again to build its gradient
  // graphs: holding those reads keeps the computation running until the test has cancelled it.
  let release = () => {};
  const gate = new Promise<void>((done) => { release = done; });
  let held = false;
  let passed = 0;
  await page.context().route('**/*.onnx', async (route) => {
    held = true;
    await gate;
    await route.continue();
    passed++;
  });

  const stage = page.getByTestId('focus-stage');
  const progress = page.getByTestId('relevance-progress');
  await page.getByTestId('method').selectOption('relevance');
  await expect.poll(() => held, { message: "the worker's read of the model files was not intercepted" }).toBe(true);
  await expect(progress).toHaveAttribute('data-stage', 'prepare');
  await expect(progress).toContainText(`Relevance for “${caption(first)}”`);
  await page.getByTestId('relevance-cancel').click();
  await expect(page.getByTestId('relevance-cancelled')).toContainText('Cancelled');
  await expect(progress).toHaveCount(0);
  await expect(stage).toHaveAttribute('data-ready', 'no');

  // The worker drops the cancelled request once the reads go through; the page stays cancelled.
  release();
  await expect.poll(() => passed).toBeGreaterThanOrEqual(2); // vision and text
  await expect(page.getByTestId('relevance-cancelled')).toBeVisible();
  await expect(page.getByTestId('relevance-cancel')).toHaveCount(0);

  await page.getByTestId('relevance-rerun').click();
  await expect(stage).toHaveAttribute('data-ready', 'yes', { timeout: 60_000 });
  await expect(page.getByTestId('relevance-cancelled')).toHaveCount(0);
  // Relevance from the last layer (the default) starts at that block's input, which came with
  // the image's and the prompt's encodings: no encoder run of its own.
  expect((await lens.runCounters()).blockRuns).toBe(0);
  expect(Number(await stage.getAttribute('data-peak'))).toBeGreaterThanOrEqual(0);

  // Cached per (image, prompt, options): going back is instant, with no new computation.
  await page.getByTestId('method').selectOption('attention');
  await page.getByTestId('method').selectOption('relevance');
  expect(await stage.getAttribute('data-ready')).toBe('yes');
  await expect(progress).toHaveCount(0);
  await page.context().unroute('**/*.onnx');
});

test('?gradthreads=2 computes relevance on tfjs\'s multi-threaded WASM build, the same map as one thread', async ({ page, context, browser }, info) => {
  const scene = makeScene(seededRandom(6161), { width: SIZE, height: SIZE, objects: 2, distinct: true });
  const [first] = scene.objects;
  if (!first) throw new Error('scene without objects');
  /**
   * Relevance of the scene on a page opened with `extra`: the view's peak and how it was computed.
   * From the last layer (the default), where tfjs differentiates the image encoder too (for all
   * layers ONNX Runtime does, and tfjs's threads would only serve the prompt).
   */
  const relevanceOn = async (p: typeof page, extra: string) => {
    const lens = await LensPage.open(p, info, extra);
    await lens.setPrompts([caption(first)]);
    await lens.addFiles([{ name: 'threads.png', mimeType: 'image/png', buffer: png(scene) }]);
    await lens.waitForImages(1);
    await p.getByTestId('method').selectOption('relevance');
    const stage = p.getByTestId('focus-stage');
    // A threaded start that hangs (pthread workers that never start) would time out here.
    await expect(stage).toHaveAttribute('data-ready', 'yes', { timeout: 60_000 });
    const computed = p.getByTestId('relevance-computed');
    await expect(computed).toHaveAttribute('data-vision-by', 'tfjs');
    return { peak: await stage.getAttribute('data-peak'), backend: await computed.getAttribute('data-backend'), threads: await computed.getAttribute('data-threads') };
  };
  const one = await relevanceOn(page, '');
  // A second visitor with the same settings: a tab of the same profile would bring back the
  // first page's stored session (its image) too. storageState() carries localStorage, not IndexedDB.
  const baseURL = info.project.use.baseURL;
  const other = await browser.newContext({ storageState: await context.storageState(), ...(baseURL ? { baseURL } : {}) });
  const two = await relevanceOn(await other.newPage(), '&gradthreads=2');
  expect(one.threads).toBe('1');
  const isolated = await page.evaluate(() => crossOriginIsolated);
  if (two.backend === 'wasm' && isolated) expect(two.threads).toBe('2');
  expect(two.peak).toBe(one.peak);
  await other.close();
});
