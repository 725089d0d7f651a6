/** Page object for CLIP Lens: the few actions and readings the browser tests need. */
import { expect, type Locator, type Page, type TestInfo } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface FileSpec {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

export function repoFile(path: string, mimeType = 'image/png', name?: string): FileSpec {
  return { name: name ?? path.split('/').pop() ?? path, mimeType, buffer: readFileSync(ROOT + path) };
}

export class LensPage {
  constructor(readonly page: Page, readonly backend: string) {}

  /** Opens the app on the project's backend; `extra` adds address parameters (e.g. `&threads=1`). */
  static async open(page: Page, info: TestInfo, extra = ''): Promise<LensPage> {
    const backend = String(info.project.metadata['backend'] ?? 'wasm');
    const lens = new LensPage(page, backend);
    await page.goto(`./?backend=${backend}${extra}`);
    await expect(page.getByTestId('model-status')).toHaveText(/ready/, { timeout: 90_000 });
    return lens;
  }

  async setPrompts(texts: string[]): Promise<void> {
    // Start from one empty row, then add as many as needed.
    const rows = this.page.locator('[data-testid^="prompt-"]');
    while ((await rows.count()) > 1) await this.page.getByRole('button', { name: /Remove prompt/ }).last().click();
    for (let i = 0; i < texts.length; i++) {
      if (i > 0) await this.page.getByTestId('add-prompt').click();
      await this.page.getByTestId(`prompt-${i}`).fill(texts[i] ?? '');
    }
  }

  async addFiles(files: FileSpec[]): Promise<void> {
    await this.page.getByTestId('file-input').setInputFiles(files);
  }

  /** Drops files on the drop zone the way a drag from the desktop does. */
  async dropFiles(files: FileSpec[]): Promise<void> {
    const payload = files.map((f) => ({ name: f.name, type: f.mimeType, data: f.buffer.toString('base64') }));
    const dt = await this.page.evaluateHandle((items) => {
      const transfer = new DataTransfer();
      for (const it of items) {
        const bytes = Uint8Array.from(atob(it.data), (c) => c.charCodeAt(0));
        transfer.items.add(new File([bytes], it.name, { type: it.type }));
      }
      return transfer;
    }, payload);
    await this.page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer: dt });
  }

  async waitForImages(count: number, timeout = 90_000): Promise<void> {
    await expect(this.page.getByTestId('queue')).toHaveAttribute('data-done', String(count), { timeout });
  }

  /** Prompt texts of an image's scores, highest probability first. */
  async ranking(imageIndex: number): Promise<{ prompt: string; probability: number }[]> {
    const rows = this.page.locator(`[data-testid^="score-${imageIndex}-"]`);
    const out: { prompt: string; probability: number }[] = [];
    for (let i = 0; i < (await rows.count()); i++) {
      const row = rows.nth(i);
      out.push({ prompt: (await row.getAttribute('data-prompt')) ?? '', probability: Number(await row.getAttribute('data-probability')) });
    }
    return out.sort((a, b) => b.probability - a.probability);
  }

  /** RGBA pixels of a canvas, by test id or locator. */
  async canvasPixels(canvas: string | Locator): Promise<number[]> {
    const target = typeof canvas === 'string' ? this.page.getByTestId(canvas) : canvas;
    return target.evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const ctx = canvas.getContext('2d');
      if (!ctx) return [];
      return Array.from(ctx.getImageData(0, 0, canvas.width, canvas.height).data);
    });
  }

  /** Lets two animation frames pass: canvases repaint on the frame after a change. */
  async nextFrames(): Promise<void> {
    await this.page.evaluate(() => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))));
  }

  /** Selects prompt `index` (0-based) as prompt A, the one prompt-dependent views explain. */
  async choosePrompt(index: number): Promise<void> {
    await this.page.getByRole('radio', { name: `Use prompt ${index + 1} for prompt-dependent views`, exact: true }).check();
  }

  /** Focuses image `index` (its card's name button). */
  async focusImage(index: number, name: string): Promise<void> {
    await this.page.getByTestId(`image-${index}`).getByRole('button', { name, exact: true }).click();
    await expect(this.page.getByTestId('focus-stage')).toHaveAttribute('data-image', name);
  }

  /** The value range each Compare panel is painted with, in panel order. */
  async compareRanges(): Promise<{ min: number; max: number }[]> {
    const panels = this.page.locator('[data-testid^="compare-panel-"]');
    const out: { min: number; max: number }[] = [];
    for (let i = 0; i < (await panels.count()); i++) {
      const panel = this.page.getByTestId(`compare-panel-${i}`);
      out.push({ min: Number(await panel.getAttribute('data-range-min')), max: Number(await panel.getAttribute('data-range-max')) });
    }
    return out;
  }

  async runCounters(): Promise<{ imageRuns: number; textRuns: number; queryRuns: number; blockRuns: number }> {
    return this.page.evaluate(() => window.clipLensDebug.runCounters());
  }
}

/** Fraction of RGBA entries that differ between two pixel arrays. */
export function pixelDifference(a: number[], b: number[]): number {
  let diff = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (Math.abs((a[i] ?? 0) - (b[i] ?? 0)) > 2) diff++;
  return diff / Math.max(1, a.length);
}
