/**
 * tfjs's GPU goes away mid-session (a driver reset; here `GPUDevice.destroy()` through the debug
 * hook): relevance and dense maps carry on on WASM, with a note, and what was computed on the
 * GPU stays. WebGPU project only: it needs a WebGPU device (SwiftShader, which `?tfbackend=webgpu`
 * lets tfjs use; the default order skips software adapters).
 */
import { expect, test } from './test';
import { LensPage, repoFile } from './lensPage';

test('a lost tfjs GPU: relevance and dense maps fall back to WASM with a note', async ({ page }, info) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const lens = await LensPage.open(page, info, '&tfbackend=webgpu');
  await lens.setPrompts(['a yellow circle', 'a red square']);
  await lens.dropFiles([repoFile('public/samples/scene-1.png')]);
  await lens.waitForImages(1);
  await lens.focusImage(0, 'scene-1.png');
  await lens.choosePrompt(0);
  await page.getByTestId('method').selectOption('relevance');
  const computed = page.getByTestId('relevance-computed');
  await expect(computed).toHaveAttribute('data-backend', 'webgpu', { timeout: 120_000 });
  const onGpu = await page.evaluate(() => window.clipLensDebug.focusMap());
  expect(onGpu?.length).toBeGreaterThan(0);
  await expect(page.getByTestId('tf-backend-note')).toHaveCount(0);

  expect(await page.evaluate(() => window.clipLensDebug.loseTfGpu())).toBe(true);

  // A new combination is computed on WASM, and says why.
  await lens.choosePrompt(1);
  await expect(computed).toHaveAttribute('data-backend', 'wasm', { timeout: 120_000 });
  await expect(page.getByTestId('tf-backend-note')).toContainText(/GPU was lost/);
  expect((await page.evaluate(() => window.clipLensDebug.focusMap()))?.every(Number.isFinite)).toBe(true);

  // The GPU's map is still there, unchanged.
  await lens.choosePrompt(0);
  await expect(computed).toHaveAttribute('data-backend', 'webgpu');
  expect(await page.evaluate(() => window.clipLensDebug.focusMap())).toEqual(onGpu);

  // A dense map, whose graphs were built on the GPU too.
  await page.getByTestId('method').selectOption('clearclip');
  await lens.choosePrompt(1);
  await expect(page.getByTestId('tf-backend-note')).toContainText(/GPU was lost/, { timeout: 120_000 });
  await expect.poll(() => page.evaluate(() => window.clipLensDebug.focusMap()?.length ?? 0)).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});
