/**
 * The workspace fits the window: no horizontal scrolling at 1280 × 720 or at 800 × 1000 (the
 * panels stack), the focused image is the largest picture, the keyboard help opens on `?`, and
 * axe finds nothing serious or critical on the main views. Screenshots are kept as artifacts.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page, type TestInfo } from './test';
import { LensPage, repoFile } from './lensPage';

async function noHorizontalScroll(page: Page): Promise<void> {
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
  }));
  expect(scrollWidth, `page ${scrollWidth} px wide in a ${clientWidth} px window`).toBeLessThanOrEqual(clientWidth);
}

/** Runs axe on the page as it is; fails on any serious or critical violation, listing them. */
async function expectAccessible(page: Page, info: TestInfo, view: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  await info.attach(`axe-${view}.json`, { body: JSON.stringify(results.violations, null, 2), contentType: 'application/json' });
  const summary = bad.map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
  expect(summary, `axe on ${view}`).toEqual([]);
}

async function shot(page: Page, info: TestInfo, name: string): Promise<void> {
  await page.screenshot({ path: info.outputPath(`${name}.png`), fullPage: true });
}

for (const size of [{ width: 1280, height: 720 }, { width: 800, height: 1000 }]) {
  test(`the workspace fits ${size.width} × ${size.height}, is accessible and has a keyboard help`, async ({ page }, info) => {
    test.setTimeout(180_000);
    await page.setViewportSize(size);
    const tag = `${size.width}x${size.height}`;
    const lens = await LensPage.open(page, info);
    await noHorizontalScroll(page);
    await shot(page, info, `${tag}-empty`);
    await expectAccessible(page, info, `${tag}-empty`);

    await lens.dropFiles([repoFile('public/samples/scene-1.png')]);
    await lens.waitForImages(1);
    await lens.focusImage(0, 'scene-1.png');
    await page.getByTestId('method').selectOption('attention');
    await expect(page.getByTestId('focus-stage')).toHaveAttribute('data-ready', 'yes');
    const grid = page.getByTestId('layer-grid');
    await expect(grid.locator('canvas')).toHaveAttribute('data-pending', '0');
    await expect(page.getByTestId('layer-grid-legend')).toContainText('its own scale');
    await expect(page.getByTestId('layer-grid-colorbar')).toBeVisible();
    // Every cell has the image under it.
    await expect(grid.locator('.cell-image')).toHaveCount(await grid.locator('button.cell').count());
    await noHorizontalScroll(page);
    if (size.width >= 1280) {
      const stage = await page.getByTestId('focus-stage').boundingBox();
      const card = await page.getByTestId('image-0').boundingBox();
      expect(stage && card && stage.width > card.width, `focus stage ${stage?.width} px, card ${card?.width} px`).toBe(true);
    }
    await lens.nextFrames();
    await shot(page, info, `${tag}-focus-grid`);
    await grid.screenshot({ path: info.outputPath(`${tag}-grid.png`) });
    await expectAccessible(page, info, `${tag}-focus-grid`);

    await page.getByTestId('compare-toggle').click();
    await expect(page.getByTestId('compare')).toBeVisible();
    await expect(page.getByTestId('compare-panel-0')).toHaveAttribute('data-ready', 'yes', { timeout: 90_000 });
    await noHorizontalScroll(page);
    await shot(page, info, `${tag}-compare`);
    await expectAccessible(page, info, `${tag}-compare`);

    // The keyboard help: `?` opens it (not while typing in a field), Escape closes it.
    await page.locator('body').click({ position: { x: 2, y: 2 } });
    const help = page.getByTestId('keyboard-help');
    await expect(help).toBeHidden();
    await page.keyboard.press('?');
    await expect(help).toBeVisible();
    await expect(help).toContainText('next layer');
    await shot(page, info, `${tag}-help`);
    await expectAccessible(page, info, `${tag}-help`);
    await page.keyboard.press('Escape');
    await expect(help).toBeHidden();

    // The dark theme follows the system; its colours pass axe too.
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).not.toBe('rgb(244, 245, 247)');
    await shot(page, info, `${tag}-dark`);
    await expectAccessible(page, info, `${tag}-dark`);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.getByTestId('prompt-0').fill('');
    await page.getByTestId('prompt-0').press('?');
    await expect(help).toBeHidden();
  });
}
