/**
 * tfjs's GPU goes away mid-session (a driver reset; here `GPUDevice.destroy()` or
 * `WEBGL_lose_context` through the debug hook): relevance and dense maps carry on on WASM, with a
 * note, and what was computed on the GPU stays. WebGPU project only: it needs a GPU (SwiftShader,
 * which `?tfbackend=webgpu|webgl` lets tfjs use; the default order skips software renderers).
 */
import { expect, test } from './test';
import { LensPage, repoFile } from './lensPage';

for (const gpu of ['webgpu', 'webgl'] as const) test(`a lost tfjs GPU (${gpu}): relevance and dense maps fall back to WASM with a note`, async ({ page }, info) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const lens = await LensPage.open(page, info, `&tfbackend=${gpu}`);
  await lens.setPrompts(['a yellow circle', 'a red square']);
  await lens.dropFiles([repoFile('public/samples/scene-1.png')]);
  await lens.waitForImages(1);
  await lens.focusImage(0, 'scene-1.png');
  await lens.choosePrompt(0);
  await page.getByTestId('method').selectOption('relevance');
  const computed = page.getByTestId('relevance-computed');
  await expect(computed).toHaveAttribute('data-backend', gpu, { timeout: 120_000 });
  const onGpu = await page.evaluate(() => window.clipLensDebug.focusMap());
  expect(onGpu?.length).toBeGreaterThan(0);
  await expect(page.getByTestId('tf-backend-note')).toHaveCount(0);

  expect(await page.evaluate(() => window.clipLensDebug.loseTfGpu())).toBe(gpu);

  // A new combination is computed on WASM, and says why.
  await lens.choosePrompt(1);
  await expect(computed).toHaveAttribute('data-backend', 'wasm', { timeout: 120_000 });
  await expect(page.getByTestId('tf-backend-note')).toContainText(/GPU was lost/);
  expect((await page.evaluate(() => window.clipLensDebug.focusMap()))?.every(Number.isFinite)).toBe(true);

  // The GPU's map is still there, unchanged.
  await lens.choosePrompt(0);
  await expect(computed).toHaveAttribute('data-backend', gpu);
  expect(await page.evaluate(() => window.clipLensDebug.focusMap())).toEqual(onGpu);

  // A dense map, whose graphs were built on the GPU too.
  await page.getByTestId('method').selectOption('clearclip');
  await lens.choosePrompt(1);
  await expect(page.getByTestId('tf-backend-note')).toContainText(/GPU was lost/, { timeout: 120_000 });
  await expect.poll(() => page.evaluate(() => window.clipLensDebug.focusMap()?.length ?? 0)).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});
