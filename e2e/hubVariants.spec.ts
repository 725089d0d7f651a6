/**
 * Every transformers.js weights variant, the way a repository on the Hub has them: the bundled
 * model in all eight (fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4; made by
 * tools/models/variants.py into the git-ignored models-bench/) served by the local Hub stand-in as
 * `Test/clip-lens-shapes-variants`. On WASM the default is q8 and the picker lists what the repo
 * has with the size it will fetch; each 8-bit and 4-bit file loads and paints attention, and its
 * gradient relevance (all layers) equals fp32's (r ≥ 0.99); a file ONNX Runtime Web will not open
 * is refused with a message naming its operator while the model before keeps working.
 *
 * WASM project only (playwright.config.ts): which file loads does not depend on ORT's backend.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { expect, test, type Page } from './test';
import { VARIANTS, encoderFile } from '../src/model/folder';
import { formatBytes } from '../src/model/catalog';
import type { ModelVariant } from '../src/protocol';
import { ensureBundledVariants } from '../src/testing/variants';
import { startHubServer, type HubServer } from './hubServer';
import { appWithHub, modelFileRequests } from './hubPage';
import { LensPage, repoFile, ROOT } from './lensPage';

const REPO = 'Test/clip-lens-shapes-variants';
/**
 * The same repo with a q4 vision file ONNX Runtime Web will not open: its MatMulNBits nodes say
 * 3 bits, which no ORT kernel runs (a file from a newer quantizer looks like this to an older ORT).
 */
const UNRUNNABLE_REPO = 'Test/clip-lens-shapes-unrunnable';
const UNRUNNABLE = `${ROOT}models-bench/clip-lens-shapes-unrunnable/`;
let hub: HubServer;
let folder: string;

/** UNRUNNABLE: links to the variants' files, and the q4 vision file rewritten to 3 bits. */
function makeUnrunnableRepo(): void {
  rmSync(UNRUNNABLE, { recursive: true, force: true });
  for (const dir of ['', 'onnx/']) {
    mkdirSync(UNRUNNABLE + dir, { recursive: true });
    for (const e of readdirSync(folder + dir, { withFileTypes: true })) {
      if (e.isFile() && `${dir}${e.name}` !== encoderFile('vision', 'q4')) symlinkSync(folder + dir + e.name, UNRUNNABLE + dir + e.name);
    }
  }
  const script = [
    'import onnx, sys',
    'm = onnx.load(sys.argv[1])',
    'for n in m.graph.node:',
    '    for a in n.attribute:',
    '        if n.op_type == "MatMulNBits" and a.name == "bits": a.i = 3',
    'onnx.save(m, sys.argv[2])',
  ].join('\n');
  const made = spawnSync('/usr/bin/python3', ['-c', script, folder + encoderFile('vision', 'q4'), UNRUNNABLE + encoderFile('vision', 'q4')], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`could not write the 3-bit q4 file: ${made.stderr}`);
}

test.beforeAll(async () => {
  folder = ensureBundledVariants();
  makeUnrunnableRepo();
  hub = await startHubServer({ folders: { [REPO]: folder, [UNRUNNABLE_REPO]: UNRUNNABLE } });
});
test.afterAll(async () => {
  await hub?.close();
});
test.beforeEach(() => {
  hub.requests.length = 0;
});

/** Bytes of a variant's two encoder files on disk: what loading it downloads. */
function variantBytes(v: ModelVariant): number {
  return statSync(folder + encoderFile('vision', v)).size + statSync(folder + encoderFile('text', v)).size;
}

async function waitSettled(page: Page): Promise<'ready' | 'error'> {
  await expect(page.getByTestId('model-status')).toHaveText(/ready|error/, { timeout: 90_000 });
  // A failed switch keeps the model before: ready, with the error shown beside it.
  return (await page.getByTestId('model-error').count()) > 0 ? 'error' : 'ready';
}

/** Opens `repo`'s fp32 weights with one scene analysed for the prompt "a yellow circle". */
async function openWithScene(page: Page, repo: string): Promise<LensPage> {
  await page.goto(appWithHub(hub, `&model=${encodeURIComponent(repo)}&variant=fp32`));
  expect(await waitSettled(page)).toBe('ready');
  const lens = new LensPage(page, 'wasm');
  await lens.setPrompts(['a yellow circle']);
  await lens.dropFiles([repoFile('public/samples/scene-1.png', 'image/png', 'scene.png')]);
  await lens.waitForImages(1);
  await expect(page.getByTestId('image-0')).toHaveAttribute('data-status', 'done');
  return lens;
}

/** Pearson correlation of two maps of the same length. */
function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) {
    const da = (a[i] ?? 0) - ma;
    const db = (b[i] ?? 0) - mb;
    ab += da * db;
    aa += da * da;
    bb += db * db;
  }
  return ab / Math.sqrt(aa * bb);
}

test('the default on WASM is q8; the picker lists the repo’s eight variants and the size it will fetch', async ({ page }) => {
  await page.goto(appWithHub(hub, `&model=${encodeURIComponent(REPO)}`));
  expect(await waitSettled(page)).toBe('ready');
  const variant = page.getByTestId('model-variant');
  await expect(variant).toHaveValue('q8');
  await expect.poll(() => variant.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual([...VARIANTS]);
  // Each option carries the exact size the listing gave.
  for (const v of VARIANTS) await expect(variant.locator(`option[value="${v}"]`)).toContainText(formatBytes(variantBytes(v)));
  const fetchSize = page.getByTestId('fetch-size');
  await expect(fetchSize).toHaveAttribute('data-bytes', String(variantBytes('q8')));
  // Loaded once, it is stored: the hint says so instead of a size.
  await expect(fetchSize).toContainText(/stored in this browser/);
  const gets = modelFileRequests(hub).filter((r) => r.method === 'GET' && r.file?.endsWith('.onnx')).map((r) => r.file).sort();
  expect(gets).toEqual([encoderFile('text', 'q8'), encoderFile('vision', 'q8')]);
  expect(hub.requests.some((r) => r.path.startsWith(`/api/models/${REPO}/tree/main/onnx`))).toBe(true);
});

test('the 8-bit and 4-bit files load, paint attention, and give relevance equal to fp32’s (r ≥ 0.99)', async ({ page }) => {
  test.setTimeout(8 * 60_000);
  const lens = await openWithScene(page, REPO);
  await lens.focusImage(0, 'scene.png');
  await page.getByTestId('method').selectOption('relevance');
  await page.getByTestId('relevance-start').selectOption('0');
  const stage = page.getByTestId('focus-stage');
  await expect(stage).toHaveAttribute('data-ready', 'yes', { timeout: 60_000 });
  const reference = await page.evaluate(() => window.clipLensDebug.focusMap());
  if (!reference) throw new Error('no fp32 relevance map');

  const outcomes: string[] = [];
  for (const v of ['int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const) {
    const before = await lens.runCounters();
    await page.getByTestId('model-variant').selectOption(v);
    await expect.poll(() => modelFileRequests(hub).some((r) => r.file === encoderFile('vision', v))).toBe(true);
    // ONNX Runtime Web 1.30 opens every one of them (src/worker/grad/variants.test.ts).
    expect(await waitSettled(page), v).toBe('ready');
    await expect(page.getByTestId('model-variant')).toHaveValue(v);
    await expect.poll(async () => (await lens.runCounters()).imageRuns).toBeGreaterThan(before.imageRuns);
    await expect(page.getByTestId('image-0')).toHaveAttribute('data-status', 'done');
    await expect.poll(async () => {
      const px = await lens.canvasPixels('heatmap-0');
      return px.filter((a, i) => i % 4 === 3 && a > 0).length;
    }).toBeGreaterThan(0);
    // Relevance accumulated over all layers: the interpreter runs every variant (dequantising
    // 4-bit weights once), so the map is computed, and close to fp32's.
    await expect(stage).toHaveAttribute('data-ready', 'yes', { timeout: 120_000 });
    const map = await page.evaluate(() => window.clipLensDebug.focusMap());
    if (!map) throw new Error(`no relevance map on ${v}`);
    expect(map).toHaveLength(reference.length);
    const r = pearson(reference, map);
    outcomes.push(`${v}: relevance r = ${r.toFixed(4)} against fp32`);
    expect(r, v).toBeGreaterThanOrEqual(0.99);
  }
  console.log(outcomes.join('\n'));
});

test('a weights file ONNX Runtime Web will not open: the message names the file, the operator and what to pick; the model before keeps working', async ({ page }) => {
  const lens = await openWithScene(page, UNRUNNABLE_REPO);

  await page.getByTestId('model-variant').selectOption('q4');
  await expect.poll(() => modelFileRequests(hub).some((r) => r.file === encoderFile('vision', 'q4'))).toBe(true);
  expect(await waitSettled(page)).toBe('error');
  const error = page.getByTestId('model-error');
  await expect(error).toContainText('onnx/vision_model_q4.onnx needs the operator MatMulNBits');
  await expect(error).toContainText('pick the q8 weights instead');
  await expect(error).toContainText(/is still loaded/);
  // The fp32 model still answers: a new image is analysed.
  await expect(page.getByTestId('model-variant')).toHaveValue('fp32');
  await lens.dropFiles([repoFile('public/samples/scene-2.png', 'image/png', 'scene-2.png')]);
  await lens.waitForImages(2);
  await expect(page.getByTestId('image-1')).toHaveAttribute('data-status', 'done');
});
