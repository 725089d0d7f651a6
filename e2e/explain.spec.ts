/**
 * Explanations point at the prompted object: the pointing game, run in the app on fresh
 * two-object scenes, and the token view picking a content word of the prompt.
 */
import { expect, test } from '@playwright/test';
import { PNG } from 'pngjs';
import { makeScene, seededRandom, type Scene } from '../src/testing/scenes';
import { LensPage } from './lensPage';

const SCENES = 40;
const SIZE = 128; // drawn at 2× the model's input: the app's bicubic resize brings it to 64

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

test('gradient relevance points at the prompted object; the token view picks a content word', async ({ page }, info) => {
  test.setTimeout(300_000);
  const lens = await LensPage.open(page, info);
  const rand = seededRandom(4242 + (info.project.name === 'webgpu' ? 1 : 0));
  const scenes = Array.from({ length: SCENES }, () => makeScene(rand, { width: SIZE, height: SIZE, objects: 2, distinct: true }));
  const targets = scenes.map((s, i) => s.objects[i % 2] ?? s.objects[0]);
  const prompts = [...new Set(targets.map((o) => `a ${o?.colour} ${o?.shape}`))];
  await lens.setPrompts(prompts);
  await lens.addFiles(scenes.map((s, i) => ({ name: `pointing-${i}.png`, mimeType: 'image/png', buffer: png(s) })));
  await lens.waitForImages(SCENES, 200_000);
  await page.getByTestId('method').selectOption('relevance');
  // Accumulated over all layers: the last layer alone points less well on this small model
  // (tools/models/README.md reports both).
  await page.getByTestId('relevance-start').selectOption('0');

  let hits = 0;
  let wordHits = 0;
  const stage = page.getByTestId('focus-stage');
  for (let i = 0; i < SCENES; i++) {
    const o = targets[i];
    const scene = scenes[i];
    if (!o || !scene) throw new Error('scene without objects');
    await page.getByTestId(`image-${i}`).getByRole('button', { name: `pointing-${i}.png`, exact: true }).click();
    const n = prompts.indexOf(`a ${o.colour} ${o.shape}`) + 1;
    await page.getByRole('radio', { name: `Use prompt ${n} for prompt-dependent views`, exact: true }).check();
    await expect(stage).toHaveAttribute('data-image', `pointing-${i}.png`);
    await expect(stage).toHaveAttribute('data-ready', 'yes', { timeout: 30_000 });
    const peak = Number(await stage.getAttribute('data-peak'));
    if (hit(peak, 8, scene, i % 2)) hits++;
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
});
