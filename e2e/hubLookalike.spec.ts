/**
 * OpenAI CLIP ViT-B/32 from the Hub at full size, the way a visitor gets it: the real
 * architecture and file sizes with random weights (the "lookalike" of tools/models/lookalikes.py,
 * about 1.1 GB with all variants), served by the local Hub stand-in as
 * `Xenova/clip-vit-base-patch32`. The first load through the picker shows progress and works, a
 * reload reads Cache Storage without asking the server, and the q8 and fp16 weights paint maps.
 *
 * WASM project only (playwright.config.ts): downloading and caching do not depend on ORT's
 * backend, and SwiftShader's WebGPU would take minutes per image at this size.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { test as base, expect, type Page } from './test';
import type { ModelVariant } from '../src/protocol';
import { CLASSIC_VARIANTS, filesOfVariant } from '../src/model/folder';
import { startHubServer, type HubServer } from './hubServer';
import { APP, appWithHub, cachedFiles, modelFileRequests } from './hubPage';
import { LensPage, repoFile, ROOT } from './lensPage';

const REPO = 'Xenova/clip-vit-base-patch32';
const LOOKALIKE = `${ROOT}models-bench/clip-vit-base-patch32-lookalike/`;
/**
 * The same files under a repo id outside the catalog, with config.json as newer transformers
 * save it: only what differs from CLIPConfig's defaults, and the initial logit scale 2.6592.
 */
const MINIMAL_REPO = 'Someone/clip-vit-b32-finetune';
const MINIMAL = `${ROOT}models-bench/clip-vit-base-patch32-minimal-config/`;
const MINIMAL_CONFIG = {
  architectures: ['CLIPModel'],
  model_type: 'clip',
  logit_scale_init_value: 2.6592,
  text_config: { dropout: 0.0, model_type: 'clip_text_model' },
  vision_config: { dropout: 0.0, model_type: 'clip_vision_model' },
  torch_dtype: 'float32',
  transformers_version: '4.57.1',
};

/** MINIMAL: links to the lookalike's files, and the minimal config.json. */
function makeMinimalConfigRepo(): void {
  rmSync(MINIMAL, { recursive: true, force: true });
  for (const dir of ['', 'onnx/']) {
    mkdirSync(MINIMAL + dir, { recursive: true });
    for (const e of readdirSync(LOOKALIKE + dir, { withFileTypes: true })) {
      if (e.isFile() && e.name !== 'config.json') symlinkSync(LOOKALIKE + dir + e.name, MINIMAL + dir + e.name);
    }
  }
  writeFileSync(`${MINIMAL}config.json`, `${JSON.stringify(MINIMAL_CONFIG, null, 2)}\n`);
}
/** Loading 600 MB (download, verify, store, patch, create sessions) on two busy cores. */
const LOAD_TIMEOUT = 240_000;

// ---------------------------------------------------------------------------------------------
// The lookalike: made on the first run on a machine, kept in the git-ignored models-bench/.

const PYTHON = '/usr/bin/python3';
const DEBIAN_PACKAGES = 'python3-torch python3-onnx python3-numpy libopenblas0-pthread';

/** Runs a command in the repo; resolves with its exit code (null: it did not start) and the end of its output. */
function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e) => resolve({ code: null, output: e.message }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * Makes the lookalike unless every file the app reads for any variant is there. It is written to
 * a scratch folder first and moved into place, so that an interrupted run never leaves a file
 * that looks complete.
 */
async function ensureLookalike(): Promise<void> {
  const needed = [...new Set(CLASSIC_VARIANTS.flatMap(filesOfVariant))];
  if (needed.every((f) => existsSync(LOOKALIKE + f))) return;
  const probe = await run(PYTHON, ['-c', 'import torch, onnx, numpy']);
  if (probe.code !== 0) {
    const why = probe.output.trim().split('\n').at(-1) ?? '';
    throw new Error(`The ViT-B/32 lookalike (${LOOKALIKE}) is missing and cannot be made: ${PYTHON} cannot import torch, onnx `
      + `and numpy (${why}). Install Debian's packages, as root: apt-get install ${DEBIAN_PACKAGES} (.ci/run does).`);
  }
  console.log('Making the ViT-B/32 lookalike with tools/models/lookalikes.py (once per machine: a minute or two)…');
  const scratch = `${ROOT}models-bench/.making-${process.pid}/`;
  try {
    const made = await run(PYTHON, ['tools/models/lookalikes.py', 'vit-base-patch32', '--out', scratch]);
    if (made.code !== 0) throw new Error(`tools/models/lookalikes.py vit-base-patch32 failed (exit ${made.code}):\n${made.output}`);
    const from = `${scratch}clip-vit-base-patch32-lookalike/`;
    for (const dir of ['', 'onnx/']) {
      mkdirSync(LOOKALIKE + dir, { recursive: true });
      for (const e of readdirSync(from + dir, { withFileTypes: true })) if (e.isFile()) renameSync(from + dir + e.name, LOOKALIKE + dir + e.name);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Bytes of each file the app reads for a variant, as on disk (`onnx/vision_model.onnx` → 351225163). */
function sizesOnDisk(variant: ModelVariant): Record<string, number> {
  return Object.fromEntries(filesOfVariant(variant).map((f) => [f, statSync(LOOKALIKE + f).size]));
}

// ---------------------------------------------------------------------------------------------

let hub: HubServer;

const test = base.extend<{ diskPage: Page }>({
  /**
   * A page in a browser profile on disk, as a visitor has. Playwright's own contexts are
   * incognito, whose Cache Storage lives in memory and does not hold ViT-B/32's 600 MB. The
   * visitor starts with the bundled model remembered, like every other test (playwright.config.ts).
   */
  diskPage: async ({}, use, testInfo) => {
    const profile = mkdtempSync(join(tmpdir(), 'clip-lens-profile-'));
    const context = await chromium.launchPersistentContext(profile, { ...testInfo.project.use.launchOptions });
    try {
      await context.addInitScript((origin) => {
        if (location.origin === origin && localStorage.getItem('clip-lens.model') === null) {
          localStorage.setItem('clip-lens.model', JSON.stringify({ kind: 'bundled', variant: 'fp32' }));
          // Picked once in the Weights menu: the full-size test is about the 600 MB fp32 files.
          localStorage.setItem('clip-lens.variant', 'fp32');
        }
      }, new URL(APP).origin);
      await use(context.pages()[0] ?? (await context.newPage()));
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  },
});

test.describe.configure({ timeout: 8 * 60_000 });

test.beforeAll(async () => {
  test.setTimeout(30 * 60_000); // only when the lookalike has to be made
  await ensureLookalike();
  makeMinimalConfigRepo();
  hub = await startHubServer({ folders: { [REPO]: LOOKALIKE, [MINIMAL_REPO]: MINIMAL } });
});
test.afterAll(async () => {
  await hub?.close();
});

const cached = (page: Page) => cachedFiles(page, REPO);
const modelRequests = () => modelFileRequests(hub);

class HubLens extends LensPage {
  /** Opens the app with the local Hub; without `model=` the remembered (bundled) model loads. */
  static async openWithHub(page: Page, extra = ''): Promise<HubLens> {
    const lens = new HubLens(page, 'wasm');
    await page.goto(appWithHub(hub, extra));
    await lens.waitReady();
    return lens;
  }

  async waitReady(): Promise<void> {
    await expect(this.page.getByTestId('model-status')).toHaveText(/ready/, { timeout: LOAD_TIMEOUT });
  }

  /** Checks that the loaded model is the lookalike: ViT-B/32's 12 vision layers of 12 heads. */
  async expectViTB32(variant: ModelVariant, repo = REPO): Promise<void> {
    await expect(this.page.getByTestId('model-name')).toHaveText(repo);
    await expect(this.page.getByTestId('model-variant')).toHaveValue(variant);
    await expect(this.page.getByTestId('layer')).toHaveAttribute('max', '11');
    await expect(this.page.getByTestId('head-11')).toHaveCount(1);
    await expect(this.page.getByTestId('head-12')).toHaveCount(0);
  }

  /** Waits until image `index` is analysed: finite scores, and its attention map painted. */
  async expectAnalysed(index: number): Promise<void> {
    await expect(this.page.getByTestId(`image-${index}`)).toHaveAttribute('data-status', 'done', { timeout: LOAD_TIMEOUT });
    // The scores follow as soon as the prompts' results are in (they may come just after the image's).
    await expect.poll(async () => (await this.ranking(index)).length).toBeGreaterThan(0);
    const scores = await this.ranking(index);
    for (const s of scores) expect(Number.isFinite(s.probability), s.prompt).toBe(true);
    await expect.poll(async () => {
      const px = await this.canvasPixels(`heatmap-${index}`);
      return px.filter((v, i) => i % 4 === 3 && v > 0).length / Math.max(1, px.length / 4);
    }).toBeGreaterThan(0.5);
  }

  /** Drops the cat photo and checks that it is analysed. */
  async analyseCat(index: number): Promise<void> {
    await this.dropFiles([repoFile('public/samples/chelsea.png', 'image/png', `cat-${index}.png`)]);
    await this.waitForImages(index + 1, LOAD_TIMEOUT);
    await this.expectAnalysed(index);
  }
}

test('ViT-B/32 at full size: first load through the picker with progress, analysed, stored whole; a reload reads the cache, no request', async ({ diskPage: page }) => {
  const lens = await HubLens.openWithHub(page);
  await lens.setPrompts(['a photo of a cat', 'a photo of a dog']);
  await page.getByTestId('model-picker').selectOption({ label: 'OpenAI CLIP ViT-B/32' });

  // Progress of an encoder file, with a rate, read in one go while it downloads.
  const handle = await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="model-progress"]');
    const text = el?.textContent ?? '';
    const file = /onnx\/(vision|text)_model\.onnx/.exec(text)?.[0];
    const loaded = Number(el?.getAttribute('data-loaded'));
    return file && loaded > 0 && /B\/s/.test(text) ? { file, text, loaded, total: Number(el?.getAttribute('data-total')) } : null;
  }, undefined, { timeout: LOAD_TIMEOUT });
  const progress = await handle.jsonValue();
  if (!progress) throw new Error('waitForFunction resolves with a truthy value');
  // The bar adds up the encoder files seen so far: the one it names, and perhaps the other.
  const sizes = sizesOnDisk('fp32');
  const both = (sizes['onnx/vision_model.onnx'] ?? 0) + (sizes['onnx/text_model.onnx'] ?? 0);
  expect([sizes[progress.file], both], progress.text).toContain(progress.total);
  expect(progress.loaded, progress.text).toBeLessThanOrEqual(progress.total);

  await lens.waitReady();
  await lens.expectViTB32('fp32');
  await lens.analyseCat(0);
  expect(await cached(page)).toEqual(sizesOnDisk('fp32'));

  // The choice is remembered; the next visit reads Cache Storage and never asks the server.
  hub.requests.length = 0;
  await page.reload();
  await lens.waitReady();
  await lens.expectViTB32('fp32');
  expect(modelRequests()).toEqual([]);
  await lens.waitForImages(1, LOAD_TIMEOUT); // the stored session brings the cat back, analysed again
  await lens.analyseCat(1);
  expect(modelRequests()).toEqual([]);
});

test('ViT-B/32 at full size: the q8 and fp16 weights load and paint attention maps', async ({ page }) => {
  hub.requests.length = 0;
  const lens = await HubLens.openWithHub(page, `&model=${encodeURIComponent(REPO)}&variant=q8`);
  await lens.expectViTB32('q8');
  await lens.setPrompts(['a photo of a cat', 'a photo of a dog']);
  await lens.analyseCat(0);

  const before = await lens.runCounters();
  await page.getByTestId('model-variant').selectOption('fp16');
  // The load has started once the server is asked for the fp16 weights; then wait for it to end.
  await expect.poll(() => modelRequests().some((r) => r.file === 'onnx/vision_model_fp16.onnx')).toBe(true);
  await lens.waitReady();
  await lens.expectViTB32('fp16');
  await expect.poll(async () => (await lens.runCounters()).imageRuns, { timeout: LOAD_TIMEOUT }).toBeGreaterThan(before.imageRuns);
  await lens.expectAnalysed(0);

  // Each variant's own files came from the server, whole.
  const gets = modelRequests().filter((r) => r.method === 'GET' && r.file?.endsWith('.onnx'));
  expect(gets.map((r) => `${r.file} ${r.status}`).sort()).toEqual([
    'onnx/text_model_fp16.onnx 200', 'onnx/text_model_quantized.onnx 200',
    'onnx/vision_model_fp16.onnx 200', 'onnx/vision_model_quantized.onnx 200',
  ]);
});

test('a fine-tune outside the catalog whose config.json holds only non-defaults: loads as ViT-B/32 and uses temperature 100', async ({ page }) => {
  const lens = await HubLens.openWithHub(page, `&model=${encodeURIComponent(MINIMAL_REPO)}&variant=q8`);
  await lens.expectViTB32('q8', MINIMAL_REPO);
  await lens.setPrompts(['a photo of a cat', 'a photo of a dog']);
  await lens.analyseCat(0);
  // The config's 2.6592 is CLIP's initial value, not a trained one: the probabilities use 100.
  await expect(page.getByTestId('temperature')).toHaveAttribute('data-logit-scale', '100');
  await expect(page.getByTestId('temperature')).toContainText('100');
});
