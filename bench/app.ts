/**
 * Figures from the real app (the production build, served by bench/server.ts) driven by Playwright:
 * how fast a layer/head change reaches the canvas, and 20 images end to end with the longest
 * main-thread task and the memory they leave.
 *
 * Measured inside the page: a probe (installed before the app starts) notes every `putImageData`
 * (all heatmaps end in one), DOM commits, the 'data-done' counter of the queue, long tasks and long
 * animation frames. No app code is changed for this beyond `clipLensDebug` (setView, attentionBytes).
 */
import type { BrowserContext, Page } from '@playwright/test';
import type { InteractionResult, LongFrame, MemoryResult, ThroughputResult } from './results.js';
import { summarize } from './stats.js';

interface Probe {
  /** End of each putImageData, and the start of the animation frame it ran in. */
  paints: { t: number; frame: number }[];
  /** Time of each batch of DOM mutations (React commits). */
  mutations: number[];
  /** The queue's "done" counter as it changed. */
  done: { t: number; done: number }[];
  /** Last `change` event of a file input (its timeStamp). */
  inputAt: number | null;
  longTasks: { start: number; duration: number }[];
  frames: LongFrame[];
}

/** The Long Animation Frames API, not yet in TypeScript's DOM library. */
interface LongAnimationFrame extends PerformanceEntry {
  blockingDuration: number;
  scripts: { invoker: string; sourceFunctionName: string; duration: number }[];
}

declare global {
  interface Window {
    __clipLensBenchProbe: Probe;
    clipLensDebug: {
      setView: (patch: { focusImageId?: string | null; method?: string }) => void;
      /** Vision attention the page keeps, bytes (src/app/debug.ts). */
      attentionBytes: () => { perImage: number[]; total: number };
    };
  }
}

/** Runs in the page before any of its scripts (page.addInitScript): installs the probe. */
function installProbe(): void {
  const probe: Probe = { paints: [], mutations: [], done: [], inputAt: null, longTasks: [], frames: [] };
  window.__clipLensBenchProbe = probe;
  const put = CanvasRenderingContext2D.prototype.putImageData as (...args: unknown[]) => void;
  CanvasRenderingContext2D.prototype.putImageData = function (this: CanvasRenderingContext2D, ...args: unknown[]) {
    put.apply(this, args);
    const frame = document.timeline.currentTime;
    probe.paints.push({ t: performance.now(), frame: typeof frame === 'number' ? frame : NaN });
  } as typeof CanvasRenderingContext2D.prototype.putImageData;
  new MutationObserver((records) => {
    const t = performance.now();
    probe.mutations.push(t);
    for (const r of records) {
      if (r.attributeName === 'data-done' && r.target instanceof Element) probe.done.push({ t, done: Number(r.target.getAttribute('data-done')) });
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  document.addEventListener('change', (e) => { probe.inputAt = e.timeStamp; }, true);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) probe.longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  if (PerformanceObserver.supportedEntryTypes.includes('long-animation-frame')) {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as LongAnimationFrame[]) {
        probe.frames.push({
          start: e.startTime, duration: e.duration, blocking: e.blockingDuration,
          scripts: [...e.scripts].sort((a, b) => b.duration - a.duration).slice(0, 3)
            .map((s) => `${s.invoker}${s.sourceFunctionName ? ` (${s.sourceFunctionName})` : ''} ${Math.round(s.duration)} ms`),
        });
      }
    }).observe({ type: 'long-animation-frame', buffered: true });
  }
}

/** Opens the app and waits for its model; returns the page and the status line ("ready · WASM, 2 threads"). */
export async function openApp(context: BrowserContext, url: string): Promise<{ page: Page; status: string }> {
  const page = await context.newPage();
  await page.addInitScript(installProbe);
  await page.goto(url);
  await page.waitForFunction(() => {
    const s = document.querySelector('[data-testid="model-status"]')?.textContent ?? '';
    return /ready|failed/.test(s);
  }, null, { timeout: 600_000, polling: 250 });
  const status = (await page.getByTestId('model-status').textContent()) ?? '';
  if (!/ready/.test(status)) {
    const message = await page.getByTestId('model-error').textContent().catch(() => null);
    throw new Error(`the app did not load the model: ${message ?? status}`);
  }
  return { page, status };
}

export interface ImageFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

async function waitForDone(page: Page, count: number, timeout: number): Promise<void> {
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="queue"]')?.getAttribute('data-done')) >= n,
    count, { timeout, polling: 500 });
}

interface Trial {
  latency: number | null;
  /** React's render and commit (the maps are computed in render). */
  render: number | null;
  /** From the start of the frame that paints to the last putImageData. */
  paint: number | null;
  canvases: number;
}

/**
 * Runs in the page: presses keys (the Controls' shortcuts: ←/→ layer, ↓ next solo head) at a
 * random moment of the frame, then waits until painting has stopped for two frames.
 */
async function changeTrials({ keys, count }: { keys: string[]; count: number }): Promise<Trial[]> {
  const probe = window.__clipLensBenchProbe;
  const frame = () => new Promise<number>((ok) => requestAnimationFrame(ok));
  const trials: Trial[] = [];
  for (let i = 0; i < count; i++) {
    await frame();
    await frame();
    await new Promise((ok) => setTimeout(ok, Math.random() * 16));
    const p0 = probe.paints.length;
    const m0 = probe.mutations.length;
    const t0 = performance.now();
    window.dispatchEvent(new KeyboardEvent('keydown', { key: keys[i % keys.length] ?? 'ArrowDown' }));
    let seen = p0;
    let quiet = 0;
    while (performance.now() - t0 < 5000) {
      await frame();
      if (probe.paints.length > seen) {
        seen = probe.paints.length;
        quiet = 0;
      } else if (seen > p0 && ++quiet >= 2) break;
    }
    const paints = probe.paints.slice(p0);
    const first = paints[0];
    const last = paints[paints.length - 1];
    if (!first || !last) {
      trials.push({ latency: null, render: null, paint: null, canvases: 0 });
      continue;
    }
    // React renders synchronously after a key press; the heatmaps paint in the next animation frame.
    const commit = probe.mutations.slice(m0).find((t) => t >= t0) ?? t0;
    const frameStart = Math.max(first.frame, commit);
    trials.push({ latency: last.t - t0, render: commit - t0, paint: last.t - frameStart, canvases: paints.length });
  }
  return trials;
}

function interactionResult(trials: Trial[]): InteractionResult {
  const ok = trials.filter((t): t is { latency: number; render: number; paint: number; canvases: number } =>
    t.latency !== null && t.render !== null && t.paint !== null);
  if (ok.length === 0) throw new Error('no change was painted');
  return {
    latency: summarize(ok.map((t) => t.latency)),
    work: summarize(ok.map((t) => t.render + t.paint)),
    render: summarize(ok.map((t) => t.render)),
    paint: summarize(ok.map((t) => t.paint)),
    canvases: summarize(ok.map((t) => t.canvases)).median,
    timeouts: trials.length - ok.length,
  };
}

/**
 * Layer/head change → painted: with one image and no focused image (its card alone: "single"), and
 * with the image focused (large view + the layers × heads grid: "grid").
 */
export async function interaction(page: Page, image: ImageFile, trials: number): Promise<{ single: InteractionResult; grid: InteractionResult }> {
  await page.getByTestId('file-input').setInputFiles([image]);
  await waitForDone(page, 1, 300_000);
  const keys = ['ArrowLeft', 'ArrowDown', 'ArrowRight', 'ArrowDown'];
  const warmup = 4;
  const run = async () => interactionResult((await page.evaluate(changeTrials, { keys, count: warmup + trials })).slice(warmup));
  await page.evaluate(() => window.clipLensDebug.setView({ focusImageId: null, method: 'attention' }));
  const single = await run();
  await page.getByTestId('image-0').getByRole('button').first().click(); // the name: focuses the image
  await page.getByTestId('layer-grid').waitFor();
  const grid = await run();
  return { single, grid };
}

/** Adds the images at once and waits for all results; long tasks and memory over that stretch. */
export async function throughput(page: Page, images: ImageFile[], timeout: number): Promise<ThroughputResult> {
  await page.getByTestId('file-input').setInputFiles(images);
  await waitForDone(page, images.length, timeout);
  const probe = await page.evaluate(() => window.__clipLensBenchProbe);
  const errors = await page.locator('[data-status="error"]').count();
  const start = probe.inputAt;
  if (start === null) throw new Error('the file input fired no change event');
  const times: number[] = [];
  let before = 0;
  for (const d of probe.done) {
    for (let k = before; k < d.done; k++) times.push(d.t);
    before = Math.max(before, d.done);
  }
  const end = times[times.length - 1] ?? start;
  const intervals = times.map((t, i) => t - (i === 0 ? start : (times[i - 1] ?? start)));
  const inWindow = <T extends { start: number }>(xs: T[]) => xs.filter((x) => x.start >= start && x.start <= end);
  const tasks = inWindow(probe.longTasks);
  return {
    images: images.length,
    errors,
    totalMs: end - start,
    perImage: summarize(intervals),
    longestTaskMs: Math.max(0, ...tasks.map((t) => t.duration)),
    tasksOver50ms: tasks.filter((t) => t.duration > 50).length,
    longestFrames: inWindow(probe.frames).sort((a, b) => b.duration - a.duration).slice(0, 3),
    memory: await memory(page),
    attentionBytes: await page.evaluate(() => window.clipLensDebug.attentionBytes()),
  };
}

/**
 * JS memory of the page and each of its workers after a full garbage collection, read over the
 * DevTools protocol: the V8 heap in use plus the backing stores of its ArrayBuffers (where ORT's
 * and tfjs's WebAssembly memories live).
 * `performance.measureUserAgentSpecificMemory()` also splits by page and worker, but it waits about
 * a minute for workers blocked in `Atomics.wait` (ORT's idle threads) and counts more than V8's
 * heap statistics do, so its figures are not comparable.
 */
export async function memory(page: Page): Promise<MemoryResult> {
  const cdp = await page.context().newCDPSession(page);
  try {
    // A full garbage collection first: otherwise buffers nothing references any more (a model
    // file's bytes once its session exists) are counted for as long as V8 has not collected them.
    await cdp.send('HeapProfiler.collectGarbage');
    const targets: MemoryResult['targets'] = [{ name: 'page', ...heapBytes(await cdp.send('Runtime.getHeapUsage')) }];
    // Playwright is already attached to the workers; a second, non-flat session is ours to talk through.
    const replies = new Map<number, (message: string) => void>();
    cdp.on('Target.receivedMessageFromTarget', (e) => {
      const id = (JSON.parse(e.message) as { id?: number }).id;
      if (id !== undefined) replies.get(id)?.(e.message);
    });
    const { targetInfos } = await cdp.send('Target.getTargets');
    let nextId = 1;
    for (const info of targetInfos.filter((t) => t.type === 'worker')) {
      const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: info.targetId, flatten: false });
      const call = async (method: string): Promise<unknown> => {
        const id = nextId++;
        const reply = new Promise<string>((resolve) => replies.set(id, resolve));
        await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method }) });
        return (JSON.parse(await reply) as { result: unknown }).result;
      };
      // ORT's own thread workers idle in Atomics.wait and would never answer a collection.
      if (!info.url.includes('ort-wasm')) await call('HeapProfiler.collectGarbage');
      const result = (await call('Runtime.getHeapUsage')) as HeapUsage;
      await cdp.send('Target.detachFromTarget', { sessionId });
      targets.push({ name: new URL(info.url).pathname.split('/').pop() ?? info.url, ...heapBytes(result) });
    }
    return { targets };
  } finally {
    await cdp.detach();
  }
}

interface HeapUsage {
  usedSize: number;
  backingStorageSize?: number;
}

function heapBytes(usage: HeapUsage): { heapBytes: number; backingBytes: number } {
  return { heapBytes: usage.usedSize, backingBytes: usage.backingStorageSize ?? 0 };
}
