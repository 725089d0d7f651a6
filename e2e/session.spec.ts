import { expect, test, type Page } from './test';
import { LensPage, repoFile } from './lensPage';

const PROMPTS = ['a red square', 'a yellow circle', 'a blue star'];

async function expectPrompts(page: Page, texts: string[]): Promise<void> {
  await expect(page.locator('[data-testid^="prompt-"]')).toHaveCount(texts.length);
  for (let i = 0; i < texts.length; i++) await expect(page.getByTestId(`prompt-${i}`)).toHaveValue(texts[i] ?? '');
}

test('the view travels in the link; images and prompts survive a reload until the session is cleared', async ({ page, browser }, info) => {
  const lens = await LensPage.open(page, info);
  await lens.setPrompts(PROMPTS);
  await lens.dropFiles([repoFile('public/samples/scene-1.png'), repoFile('public/samples/scene-2.png')]);
  await lens.waitForImages(2);
  await lens.focusImage(1, 'scene-2.png');
  await page.getByTestId('method').selectOption('attention');
  await page.getByTestId('layer').fill('0');
  await page.getByTestId('head-1').click();
  await lens.choosePrompt(1);
  await expect.poll(() => page.url()).toMatch(/#method=attention&layer=0&heads=0,2/);
  await expect.poll(() => page.url()).toMatch(/&a=1&image=scene-2\.png/);
  const link = page.url();

  // (a) The link in a fresh browser profile: the same view, prompts and prompt; the image to drop.
  const other = await browser.newContext({ storageState: info.project.use.storageState ?? { cookies: [], origins: [] } });
  const second = await other.newPage();
  await second.goto(link);
  await expect(second.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
  await expect(second.getByTestId('method')).toHaveValue('attention');
  await expect(second.getByTestId('layer')).toHaveValue('0');
  await expect(second.getByTestId('head-0')).toHaveAttribute('aria-pressed', 'true');
  await expect(second.getByTestId('head-1')).toHaveAttribute('aria-pressed', 'false');
  await expect(second.getByTestId('head-2')).toHaveAttribute('aria-pressed', 'true');
  await expectPrompts(second, PROMPTS);
  await expect(second.getByRole('radio', { name: 'Use prompt 2 for prompt-dependent views', exact: true })).toBeChecked();
  await expect(second.getByTestId('link-images-note')).toHaveText('This link shows scene-2.png: drop that file here to see it');
  // Dropping that file (with another) focuses it and the note goes.
  const secondLens = new LensPage(second, lens.backend);
  await secondLens.dropFiles([repoFile('public/samples/scene-1.png'), repoFile('public/samples/scene-2.png')]);
  await expect(second.getByTestId('focus-stage')).toHaveAttribute('data-image', 'scene-2.png');
  await expect(second.getByTestId('link-images-note')).toHaveCount(0);
  // Another link pasted into the same tab (only the hash differs: no reload) applies too.
  await second.evaluate(() => { location.hash = '#method=rollout&a=2&image=scene-1.png&opacity=oops'; });
  await expect(second.getByTestId('method')).toHaveValue('rollout');
  await expect(second.getByRole('radio', { name: 'Use prompt 3 for prompt-dependent views', exact: true })).toBeChecked();
  await expect(second.getByTestId('focus-stage')).toHaveAttribute('data-image', 'scene-1.png');
  await expectPrompts(second, PROMPTS);
  await other.close();

  // (b) A reload brings both images back, analysed again, with the prompts and the focus.
  await expect(page.getByTestId('session')).toHaveAttribute('data-stored', '2');
  await page.reload();
  await expect(page.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
  await lens.waitForImages(2);
  await expect(page.getByTestId('image-0')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('image-1')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('image-0').getByRole('button', { name: 'scene-1.png', exact: true })).toBeVisible();
  await expect(page.getByTestId('focus-stage')).toHaveAttribute('data-image', 'scene-2.png');
  await expectPrompts(page, PROMPTS);
  await expect(page.getByTestId('layer')).toHaveValue('0');

  // (c) Clear session: no images, the default prompts, here and after another reload.
  await page.getByTestId('clear-session').click();
  await expect(page.locator('[data-testid^="image-"][data-status]')).toHaveCount(0);
  await expectPrompts(page, ['a red circle', 'a blue square', 'a yellow star']);
  await expect(page.getByTestId('session')).toHaveAttribute('data-stored', '0');
  await expect.poll(() => page.url()).not.toContain('image=');
  await page.reload();
  await expect(page.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
  await expect(page.getByTestId('session')).toHaveAttribute('data-stored', '0');
  await expect(page.locator('[data-testid^="image-"][data-status]')).toHaveCount(0);
  await expectPrompts(page, ['a red circle', 'a blue square', 'a yellow star']);
});

test('without storage (private mode) a note says so and the page works as before', async ({ page }, info) => {
  await page.addInitScript(() => {
    IDBFactory.prototype.open = () => { throw new DOMException('The user denied permission to access the database.', 'SecurityError'); };
  });
  const lens = await LensPage.open(page, info);
  await expect(page.getByTestId('session-note')).toContainText('will not come back after a reload');
  await lens.dropFiles([repoFile('public/samples/scene-1.png')]);
  await lens.waitForImages(1);
  await page.getByTestId('clear-session').click();
  await expect(page.locator('[data-testid^="image-"][data-status]')).toHaveCount(0);
});
