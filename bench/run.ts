/**
 * `npm run bench`: how fast CLIP Lens is on this machine, side by side with what a user would
 * otherwise pick: transformers.js in the same browser on the same ONNX file, and PyTorch on the
 * same architecture. Writes bench/results.json and prints the markdown that docs/benchmarks.md shows.
 *
 *   npm run bench                   full run, ≤ 20 min on a 2-core machine
 *   npm run bench -- --quick        fewer repetitions, a few minutes: to check the bench itself
 *   npm run bench -- --docs         also rewrite the results section of docs/benchmarks.md
 *   npm run bench -- --models=clip-lens-shapes,clip-vit-base-patch32-lookalike
 *   npm run bench -- --models=… --merge   re-run some models, keep the others' figures from bench/results.json
 *   npm run bench -- --force        run even while a training job is running (timings then worthless)
 *   npm run bench -- --app-only     only the app rows (interaction, 20 images): printed, no results written
 *
 * Steps: make the ViT-B lookalikes if missing (tools/models/lookalikes.py) and the MatMul graphs
 * (bench/graphs.py); build the app and the bench workers; serve them cross-origin isolated
 * (bench/server.ts); drive Debian's Chromium with Playwright; run PyTorch (bench/torch_bench.py).
 * One heavy thing at a time: nothing here runs in parallel.
 */
import { chromium, type BrowserContext, type Page, type Worker as PwWorker } from '@playwright/test';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { extname, join } from 'node:path';
import { build } from 'vite';
import { interaction, openApp, throughput, type ImageFile } from './app.js';
import { attentionBytes, visionMacs, visionShape, type VisionShape } from './flops.js';
import type { OrtBenchApi, TjsBenchApi } from './page/api.js';
import { machineLine, markdown } from './report.js';
import { failed, type Machine, type ModelResult, type Outcome, type Results, type TorchResult } from './results.js';
import { serve, type Mount } from './server.js';
import { summarize } from './stats.js';

const ROOT = process.cwd();
const CACHE = join(ROOT, 'node_modules/.cache/clip-lens-bench');
const APP_OUT = join(CACHE, 'app');
/** Must match build.outDir in bench/vite.config.ts. */
const PAGE_OUT = join(CACHE, 'page');
const GRAPHS = join(ROOT, 'models-bench/graphs');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const PYTHON = '/usr/bin/python3';
/** Threads for ORT WASM and PyTorch: all cores of the 2-core machine the targets were set for. */
const THREADS = 2;

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic', '--no-first-run',
];
const WASM_ARGS = [...CHROMIUM_ARGS, '--disable-gpu'];
const WEBGPU_ARGS = [
  ...CHROMIUM_ARGS, '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader',
];

const PROMPTS = [
  'a photo of a cat', 'a photo of a dog', 'a red circle', 'a blue square and a yellow star',
  'an astronaut riding a horse on the moon', 'a cup of coffee on a wooden table',
  'a diagram of a transformer', 'a rocket on the launch pad at night',
];

/**
 * Repetitions after warm-up, per figure. On a fresh clone the whole run must stay within 20 min
 * (it took 20.4 with the lookalikes made first, 100 s): the fast bundled model and
 * transformers.js, whose spread the earlier runs showed, repeat less than before.
 */
interface Reps {
  loads: number;
  image: number;
  text: number;
  rollout: number;
  tjs: number;
  linear: number;
  interaction: number;
  relevance: number;
  torchImage: number;
  torchRelevance: number;
}

interface ModelSpec {
  id: string;
  label: string;
  dir: string;
  /** Name for tools/models/lookalikes.py; null for the bundled model. */
  lookalike: string | null;
  /** Name for bench/torch_bench.py. */
  torch: string;
  reps: Reps;
}

const MODELS: ModelSpec[] = [
  {
    id: 'clip-lens-shapes', label: 'bundled (shapes)', dir: join(ROOT, 'public/models/clip-lens-shapes'), lookalike: null, torch: 'bundled',
    reps: { loads: 2, image: 40, text: 20, rollout: 40, tjs: 20, linear: 20, interaction: 40, relevance: 5, torchImage: 40, torchRelevance: 5 },
  },
  {
    id: 'clip-vit-base-patch32-lookalike', label: 'ViT-B/32 lookalike', dir: join(ROOT, 'models-bench/clip-vit-base-patch32-lookalike'),
    lookalike: 'vit-base-patch32', torch: 'vit-base-patch32',
    reps: { loads: 2, image: 20, text: 10, rollout: 20, tjs: 12, linear: 10, interaction: 40, relevance: 3, torchImage: 20, torchRelevance: 5 },
  },
  {
    id: 'clip-vit-base-patch16-lookalike', label: 'ViT-B/16 lookalike', dir: join(ROOT, 'models-bench/clip-vit-base-patch16-lookalike'),
    lookalike: 'vit-base-patch16', torch: 'vit-base-patch16',
    reps: { loads: 2, image: 12, text: 10, rollout: 10, tjs: 8, linear: 6, interaction: 40, relevance: 2, torchImage: 10, torchRelevance: 3 },
  },
];

function quickReps(r: Reps): Reps {
  const q = (n: number, min = 3) => Math.max(min, Math.ceil(n / 4));
  return {
    loads: 1, image: q(r.image), text: q(r.text), rollout: q(r.rollout), tjs: q(r.tjs), linear: q(r.linear),
    interaction: 12, relevance: 2, torchImage: q(r.torchImage), torchRelevance: 2,
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const started = Date.now();
function log(message: string): void {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
}

/** Runs one phase; a failure is recorded and the bench goes on. */
async function attempt<T extends object>(name: string, f: () => Promise<T>): Promise<Outcome<T>> {
  const t0 = Date.now();
  log(`${name}…`);
  try {
    const v = await f();
    log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return v;
  } catch (e) {
    const error = e instanceof Error ? (e.message.split('\n')[0] ?? e.message) : String(e);
    log(`${name}: FAILED: ${error}`);
    return { error };
  }
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
  return r.stdout;
}

const packageVersion = (dir: string): string =>
  (JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { version: string }).version;

/** The onnxruntime-web that transformers.js resolves (its own copy, or the top-level one if deduplicated). */
function transformersOrtDir(): string {
  const nested = join(ROOT, 'node_modules/@huggingface/transformers/node_modules/onnxruntime-web');
  return existsSync(nested) ? nested : join(ROOT, 'node_modules/onnxruntime-web');
}

/** Other heavy jobs (a model training) that would make every timing worthless. */
function busyJobs(): string[] {
  try {
    return execFileSync('pgrep', ['-fa', 'train\\.py'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

function machine(busy: string[], loadBefore: number): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const field = (name: string) => new RegExp(`^${name}\\s*: (.*)$`, 'm').exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const debian = existsSync('/etc/debian_version') ? `Debian ${readFileSync('/etc/debian_version', 'utf8').trim()}, ` : '';
  return {
    cpu: `${field('model name')} (family ${field('cpu family')}, model ${field('model')}), ${field('cpu MHz')} MHz`,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${debian}Linux ${os.release()}`,
    // Debian's wrapper script prints a harmless shell error on stderr for --version.
    chromium: execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    node: process.version,
    playwright: packageVersion('node_modules/@playwright/test'),
    onnxruntimeWeb: packageVersion('node_modules/onnxruntime-web'),
    transformersJs: packageVersion('node_modules/@huggingface/transformers'),
    transformersJsOnnxruntimeWeb: JSON.parse(readFileSync(join(transformersOrtDir(), 'package.json'), 'utf8')).version as string,
    torch: 'not run',
    loadAverage: { before: loadBefore, after: NaN, median: NaN, max: NaN },
    busy,
  };
}

/** The sample images of the app, cycled to `count` files. */
function sampleImages(count: number): ImageFile[] {
  const dir = join(ROOT, 'public/samples');
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { file: string }[];
  return Array.from({ length: count }, (_, i) => {
    const file = index[i % index.length]?.file ?? 'scene-1.png';
    return {
      name: `${String(i + 1).padStart(2, '0')}-${file}`,
      mimeType: extname(file) === '.jpg' ? 'image/jpeg' : 'image/png',
      buffer: readFileSync(join(dir, file)),
    };
  });
}

const linearGraph = (s: VisionShape) => `linear-${s.seq}-${s.hidden}-${s.intermediate}-${s.layers}.onnx`;

// ---------------------------------------------------------------------------------------------
// The bench workers (bench/page/*.worker.ts), called from Node through Playwright

type Call<A> = <M extends keyof A>(
  method: M,
  arg: A[M] extends (x: infer X) => unknown ? X : undefined,
) => Promise<A[M] extends (...args: never[]) => infer R ? Awaited<R> : never>;

/** Opens the blank bench page, starts one bench worker and hands a typed caller to `f`; closes the page after. */
async function withWorker<A, T>(
  context: BrowserContext, base: string, script: 'ort.js' | 'tjs.js', global: 'clipLensOrtBench' | 'clipLensTjsBench',
  f: (call: Call<A>, page: Page) => Promise<T>,
): Promise<T> {
  const page = await context.newPage();
  try {
    await page.goto(`${base}bench/`);
    const [worker] = await Promise.all([
      page.waitForEvent('worker', (w) => w.url().endsWith(script)),
      page.evaluate((src) => {
        // Kept on the page so that the worker is not collected.
        (globalThis as unknown as { benchWorkers: Worker[] }).benchWorkers = [new Worker(src, { type: 'module' })];
      }, script),
    ]);
    await worker.evaluate(async (name) => {
      for (let i = 0; i < 600 && !(name in globalThis); i++) await new Promise((ok) => setTimeout(ok, 50));
      if (!(name in globalThis)) throw new Error(`${name} did not start`);
    }, global);
    const call = ((method: string, arg: unknown) => callWorker(worker, global, method, arg)) as Call<A>;
    return await f(call, page);
  } finally {
    await page.close();
  }
}

function callWorker(worker: PwWorker, global: string, method: string, arg: unknown): Promise<unknown> {
  return worker.evaluate(async ([g, m, a]) => {
    const api = (globalThis as unknown as Record<string, Record<string, (x: unknown) => unknown> | undefined>)[g];
    const fn = api?.[m];
    if (!api || !fn) throw new Error(`${g}.${m} is not there`);
    return fn.call(api, a);
  }, [global, method, arg] as const);
}

// ---------------------------------------------------------------------------------------------
// Phases

interface Ctx {
  context: BrowserContext;
  base: string;
  quick: boolean;
  versions: { tjs: string | null };
}

const withOrt = <T>(ctx: Ctx, f: (call: Call<OrtBenchApi>, page: Page) => Promise<T>) =>
  withWorker<OrtBenchApi, T>(ctx.context, ctx.base, 'ort.js', 'clipLensOrtBench', async (call, page) => {
    await call('init', { ortBase: `${ctx.base}ort/`, threads: THREADS });
    return f(call, page);
  });

async function loads(ctx: Ctx, m: ModelSpec, reps: Reps): Promise<ModelResult['load']> {
  return attempt(`${m.id}: load ×${reps.loads}`, async () => {
    const cold: number[] = [];
    const warmHttp: number[] = [];
    const warmCache: number[] = [];
    const patch: number[] = [];
    let coldNetwork = 0;
    let warmNetwork = 0;
    let body = 0;
    const baseUrl = `${ctx.base}models/${m.id}/`;
    for (let i = 0; i < reps.loads; i++) {
      await withOrt(ctx, async (call, page) => {
        const cdp = await ctx.context.newCDPSession(page);
        await cdp.send('Network.clearBrowserCache');
        await cdp.detach();
        const c = await call('load', { baseUrl, backend: 'wasm', route: 'url' });
        const w = await call('load', { baseUrl, backend: 'wasm', route: 'url' });
        const s = await call('load', { baseUrl, backend: 'wasm', route: 'cache-storage' });
        cold.push(c.ms);
        warmHttp.push(w.ms);
        warmCache.push(s.ms);
        patch.push(c.patchMs, w.patchMs, s.patchMs);
        coldNetwork = c.networkBytes;
        warmNetwork = w.networkBytes;
        body = c.bodyBytes;
      });
    }
    return {
      cold: summarize(cold), warmHttp: summarize(warmHttp), warmCache: summarize(warmCache), patchMs: summarize(patch),
      coldNetworkBytes: coldNetwork, warmHttpNetworkBytes: warmNetwork, bodyBytes: body,
    };
  });
}

async function encoding(ctx: Ctx, m: ModelSpec, shape: VisionShape, reps: Reps): Promise<Pick<ModelResult, 'image' | 'text8' | 'rollout' | 'linear'>> {
  const out = await attempt(`${m.id}: sessions`, () => withOrt(ctx, async (call) => {
    await call('prepare', { baseUrl: `${ctx.base}models/${m.id}/`, backend: 'wasm' });
    const image = await attempt(`${m.id}: image encoding ×${reps.image}`, async () => {
      const s = await call('image', { warmup: 2, reps: reps.image });
      return { plain: summarize(s.plain), patchedRun: summarize(s.patchedRun), patched: summarize(s.patched) };
    });
    const text8 = await attempt(`${m.id}: 8 prompts ×${reps.text}`, async () =>
      summarize(await call('text', { prompts: PROMPTS, warmup: 1, reps: reps.text })));
    const rollout = await attempt(`${m.id}: rollout ×${reps.rollout}`, async () => {
      const r = await call('rollout', { reps: reps.rollout });
      return { matrix: summarize(r.matrix), map: summarize(r.map) };
    });
    await call('release', undefined);
    const linear = await attempt(`${m.id}: linear layers graph ×${reps.linear}`, async () => summarize(await call('graph', {
      url: `${ctx.base}graphs/${linearGraph(shape)}`, inputs: { x: [shape.seq, shape.hidden] }, warmup: 1, reps: reps.linear,
    })));
    return { image, text8, rollout, linear };
  }));
  return failed(out) ? { image: out, text8: out, rollout: out, linear: out } : out;
}

async function relevance(ctx: Ctx, m: ModelSpec, reps: Reps): Promise<Pick<ModelResult, 'relevance' | 'denseMap'>> {
  const out = await attempt(`${m.id}: gradient relevance and dense maps ×${reps.relevance}`, () => withOrt(ctx, async (call) => {
    const r = await call('relevance', { baseUrl: `${ctx.base}models/${m.id}/`, prompt: 'a photo of a cat', reps: reps.relevance });
    return {
      relevance: { firstMs: r.firstMs, last: summarize(r.last), all: summarize(r.all), backend: r.backend },
      denseMap: { maskclip: summarize(r.maskclip), clearclip: summarize(r.clearclip), contributions: summarize(r.contributions) },
    };
  }));
  return failed(out) ? { relevance: out, denseMap: out } : out;
}

async function transformersJs(ctx: Ctx, m: ModelSpec, shape: VisionShape, reps: Reps): Promise<ModelResult['transformersJs']> {
  return attempt(`${m.id}: transformers.js ×${reps.tjs}`, () =>
    withWorker<TjsBenchApi, { load: ReturnType<typeof summarize>; image: ReturnType<typeof summarize> }>(
      ctx.context, ctx.base, 'tjs.js', 'clipLensTjsBench', async (call) => {
        const l = await call('load', { localModelPath: `${ctx.base}models/`, modelId: m.id, wasmPaths: `${ctx.base}ort-tjs/`, threads: THREADS });
        ctx.versions.tjs = `${l.transformersVersion} (onnxruntime-web ${l.ortVersion})`;
        const image = await call('image', { imageSize: shape.imageSize, warmup: 2, reps: reps.tjs });
        return { load: summarize([l.ms]), image: summarize(image) };
      }));
}

async function app(ctx: Ctx, m: ModelSpec, reps: Reps, status: { text: string | null }): Promise<Pick<ModelResult, 'interaction' | 'throughput' | 'many'>> {
  const url = `${ctx.base}app/${m.id}/?backend=wasm`;
  const images = sampleImages(20);
  const interactionResult = await attempt(`${m.id}: app, layer/head changes ×${reps.interaction}`, async () => {
    const { page, status: s } = await openApp(ctx.context, url);
    status.text = s;
    try {
      return await interaction(page, images[0] as ImageFile, reps.interaction);
    } finally {
      await page.close();
    }
  });
  const throughputResult = await attempt(`${m.id}: app, 20 images`, async () => {
    const { page } = await openApp(ctx.context, url);
    try {
      return await throughput(page, images, 900_000);
    } finally {
      await page.close();
    }
  });
  // A long session: 200 images at once, memory bounded by the app's cap on kept attention.
  const manyResult = await attempt(`${m.id}: app, 200 images`, async () => {
    const { page } = await openApp(ctx.context, url);
    try {
      return await throughput(page, sampleImages(200), 3_600_000);
    } finally {
      await page.close();
    }
  });
  return { interaction: interactionResult, throughput: throughputResult, many: manyResult };
}

async function peak(ctx: Ctx): Promise<Results['peak']> {
  return attempt('peak: 8 MatMuls 1024²', () => withOrt(ctx, async (call) => {
    const ms = summarize(await call('graph', { url: `${ctx.base}graphs/peak.onnx`, inputs: { s: [1] }, warmup: 2, reps: ctx.quick ? 3 : 8 }));
    const macs = 8 * 1024 ** 3;
    return { ms, macs, gflops: (2 * macs) / (ms.median * 1e6) };
  }));
}

async function webgpuSmoke(base: string, m: ModelSpec): Promise<Results['webgpuSmoke']> {
  return attempt('WebGPU smoke (SwiftShader)', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: WEBGPU_ARGS });
    try {
      const ctx: Ctx = { context: await browser.newContext(), base, quick: true, versions: { tjs: null } };
      return await withOrt(ctx, async (call) => {
        const baseUrl = `${base}models/${m.id}/`;
        const l = await call('load', { baseUrl, backend: 'webgpu', route: 'url' });
        await call('prepare', { baseUrl, backend: 'webgpu' });
        const s = await call('image', { warmup: 1, reps: 3 });
        return { backend: l.backend, load: summarize([l.ms]), plain: summarize(s.plain), patched: summarize(s.patched) };
      });
    } finally {
      await browser.close();
    }
  });
}

function torch(m: ModelSpec, reps: Reps): Outcome<TorchResult> {
  try {
    log(`${m.id}: PyTorch…`);
    const out = run(PYTHON, ['bench/torch_bench.py', m.torch, '--threads', String(THREADS), '--reps', String(reps.torchImage),
      '--rel-reps', String(reps.torchRelevance)]);
    const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { torch: string; threads: number; image: number[]; relevanceLast: number[]; relevanceAll: number[] };
    return { torch: r.torch, threads: r.threads, image: summarize(r.image), relevanceLast: summarize(r.relevanceLast), relevanceAll: summarize(r.relevanceAll) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

// ---------------------------------------------------------------------------------------------

function updateDocs(md: string): void {
  const path = join(ROOT, 'docs/benchmarks.md');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${path} has no ${start} … ${end} section`);
  writeFileSync(path, `${text.slice(0, a + start.length)}\n${md}\n${text.slice(b)}`);
  log(`updated ${path}`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const appOnly = argv.includes('--app-only');
  const only = argv.find((a) => a.startsWith('--models='))?.slice('--models='.length).split(',');
  const models = MODELS.filter((m) => !only || only.includes(m.id));
  if (models.length === 0) throw new Error(`--models: choose from ${MODELS.map((m) => m.id).join(', ')}`);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name?: string };
  if (pkg.name !== 'clip-lens') throw new Error('run from the repository root (npm run bench)');

  const busy = busyJobs();
  if (busy.length > 0) {
    log(`another heavy job is running: ${busy.join('; ')}`);
    if (!argv.includes('--force')) throw new Error('timings taken now would be worthless; wait for it to finish or pass --force');
  }
  const info = machine(busy, os.loadavg()[0] ?? NaN);
  const load: number[] = [];
  const sampler = setInterval(() => load.push(os.loadavg()[0] ?? NaN), 15_000);

  const missing = models.filter((m) => m.lookalike && !existsSync(join(m.dir, 'onnx/text_model.onnx')));
  if (missing.length > 0) {
    log(`making the lookalike models (once; several minutes): ${missing.map((m) => m.id).join(', ')}`);
    run(PYTHON, ['tools/models/lookalikes.py', ...missing.map((m) => m.lookalike ?? '')]);
  }
  const shapes = new Map(models.map((m) => [m.id, visionShape(JSON.parse(readFileSync(join(m.dir, 'config.json'), 'utf8')))]));
  run(PYTHON, ['bench/graphs.py', GRAPHS, '--linear', ...[...shapes.values()].map((s) => `${s.seq}:${s.hidden}:${s.intermediate}:${s.layers}`)]);

  log('building the app and the bench workers…');
  await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir: APP_OUT, emptyOutDir: true } });
  await build({ configFile: join(ROOT, 'bench/vite.config.ts') });
  writeFileSync(join(PAGE_OUT, 'index.html'), '<!doctype html>\n<meta charset="utf-8">\n<title>CLIP Lens bench</title>\n');

  const mounts: Mount[] = [
    { prefix: '/bench/', dir: PAGE_OUT },
    { prefix: '/ort/', dir: join(ROOT, 'node_modules/onnxruntime-web/dist') },
    { prefix: '/ort-tjs/', dir: join(transformersOrtDir(), 'dist') },
    { prefix: '/graphs/', dir: GRAPHS },
    ...models.flatMap((m) => [
      { prefix: `/models/${m.id}/`, dir: m.dir },
      // The app loads models/clip-lens-shapes/; under /app/<id>/ that is this model.
      { prefix: `/app/${m.id}/`, dir: APP_OUT },
      { prefix: `/app/${m.id}/models/clip-lens-shapes/`, dir: m.dir },
    ]),
  ];
  const server = await serve(mounts);
  const profile = mkdtempSync(join(os.tmpdir(), 'clip-lens-bench-'));
  const results: ModelResult[] = [];
  let peakResult: Results['peak'] = { error: 'not run' };
  let smoke: Results['webgpuSmoke'] = { error: 'not run' };
  const versions = { tjs: null as string | null };
  try {
    // A persistent profile has a disk HTTP cache, as a real browser does.
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: WASM_ARGS, headless: true });
    const ctx: Ctx = { context, base: server.url, quick, versions };
    try {
      if (appOnly) {
        for (const m of models) {
          const figures = await app(ctx, m, quick ? quickReps(m.reps) : m.reps, { text: null });
          process.stdout.write(`${m.id}\n${JSON.stringify(figures, null, 1)}\n`);
        }
        clearInterval(sampler);
        return;
      }
      for (const m of models) {
        const reps = quick ? quickReps(m.reps) : m.reps;
        const shape = shapes.get(m.id) as VisionShape;
        const status = { text: null as string | null };
        const result: ModelResult = {
          id: m.id, label: m.label, shape, macs: visionMacs(shape), attentionBytes: attentionBytes(shape),
          visionFileBytes: statSync(join(m.dir, 'onnx/vision_model.onnx')).size,
          appStatus: null,
          load: await loads(ctx, m, reps),
          ...(await encoding(ctx, m, shape, reps)),
          ...(await relevance(ctx, m, reps)),
          transformersJs: await transformersJs(ctx, m, shape, reps),
          ...(await app(ctx, m, reps, status)),
          torch: null,
        };
        result.appStatus = status.text;
        results.push(result);
      }
      peakResult = await peak(ctx);
    } finally {
      await context.close();
    }
    const bundled = models.find((m) => m.lookalike === null);
    if (bundled) smoke = await webgpuSmoke(server.url, bundled);
  } finally {
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }

  for (const r of results) {
    const m = MODELS.find((x) => x.id === r.id) as ModelSpec;
    r.torch = torch(m, quick ? quickReps(m.reps) : m.reps);
    if (!failed(r.torch)) info.torch = r.torch.torch;
  }
  if (versions.tjs) log(`transformers.js in the browser: ${versions.tjs}`);
  clearInterval(sampler);
  info.loadAverage.after = os.loadavg()[0] ?? NaN;
  if (load.length > 0) Object.assign(info.loadAverage, { median: summarize(load).median, max: summarize(load).max });

  const date = new Date().toISOString();
  const thisRun = { date, models: results.map((r) => r.id), loadAverage: info.loadAverage };
  // --merge: models not run this time keep their figures from bench/results.json.
  const previous = argv.includes('--merge') && existsSync(join(ROOT, 'bench/results.json'))
    ? (JSON.parse(readFileSync(join(ROOT, 'bench/results.json'), 'utf8')) as Results) : null;
  const kept = (previous?.models ?? []).filter((old) => !results.some((r) => r.id === old.id));
  const all: Results = {
    date, runs: [...(previous?.runs ?? []).filter((r) => r.models.some((id) => kept.some((k) => k.id === id))), thisRun],
    quick, durationS: (Date.now() - started) / 1000, threads: THREADS, machine: info, peak: peakResult,
    models: MODELS.flatMap((m) => [...results, ...kept].filter((r) => r.id === m.id)), webgpuSmoke: smoke,
  };
  writeFileSync(join(ROOT, 'bench/results.json'), `${JSON.stringify(all, null, 1)}\n`);
  const md = `${machineLine(all)}\n\n${markdown(all)}`;
  process.stdout.write(`${md}\n`);
  if (argv.includes('--docs')) updateDocs(md);
  log(`wrote bench/results.json in ${(all.durationS / 60).toFixed(1)} min`);
}

main().catch((e: unknown) => {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
