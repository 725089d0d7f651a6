/** bench/results.json → the markdown that docs/benchmarks.md shows. */
import { failed, type InteractionResult, type MemoryResult, type ModelResult, type Outcome, type Results } from './results.js';
import type { Summary } from './stats.js';

const num = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ms = (s: Summary): string => `${num(s.median)} ms (${num(s.min)}–${num(s.max)})`;
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
const mark = (ok: boolean): string => (ok ? ' ✓' : ' ✗');

/** A cell from a phase's outcome: its text, or why it is missing. */
function cell<T extends object>(o: Outcome<T> | null | undefined, show: (v: T) => string): string {
  if (o === null || o === undefined) return '—';
  if (failed(o)) return `failed: ${o.error.replace(/\s+/g, ' ').replace(/\|/g, '/').slice(0, 90)}`;
  return show(o);
}

function ok<T extends object>(o: Outcome<T> | null | undefined): T | null {
  return o === null || o === undefined || failed(o) ? null : o;
}

/** GFLOP/s of the vision encoder at a latency. */
const gflops = (m: ModelResult, latencyMs: number): number => (2 * m.macs.total) / (latencyMs * 1e6);

function p50p95(r: InteractionResult, field: 'latency' | 'work'): string {
  const main = `${num(r[field].median)} / ${num(r[field].p95)} ms`;
  return field === 'work' ? `${main} (render ${num(r.render.median)} + paint ${num(r.paint.median)})` : main;
}

export function markdown(r: Results): string {
  const models = r.models;
  const peak = ok(r.peak);
  const row = (label: string, target: string, f: (m: ModelResult) => string) =>
    `| ${label} | ${models.map(f).join(' | ')} | ${target} |`;
  const section = (title: string) => `| **${title}** | ${models.map(() => '').join(' | ')} | |`;
  const isB16 = (m: ModelResult) => m.shape.patchSize === 16 && m.shape.hidden === 768;
  const image = (m: ModelResult) => ok(m.image);
  const tjs = (m: ModelResult) => ok(m.transformersJs);

  const lines = [
    `Run ${r.date}${r.quick ? ' (`--quick`)' : ''}, ${Math.round(r.durationS / 60)} min; ` +
      `ONNX Runtime WASM with ${r.threads} threads unless noted. Cells: median (min–max) of the repetitions; ` +
      'interaction: p50 / p95; ✓/✗ compares the median (p95 for interaction) with the target.',
    '',
    `| | ${models.map((m) => m.label).join(' | ')} | target |`,
    `|---|${models.map(() => '---').join('|')}|---|`,
    row('vision encoder: layers × heads, tokens', '', (m) => `${m.shape.layers} × ${m.shape.heads}, ${m.shape.seq}`),
    row('multiply-adds per image', '', (m) => `${(m.macs.total / 1e9).toFixed(3)} G`),
    row('vision_model.onnx', '', (m) => mb(m.visionFileBytes)),
    section('Loading (vision + text encoders)'),
    row('cold: empty HTTP cache, new page', '', (m) => cell(m.load, (l) => ms(l.cold))),
    row('warm: second load by URL', '', (m) => cell(m.load, (l) => `${ms(l.warmHttp)}; ${l.warmHttpNetworkBytes === 0 ? 'all from HTTP cache' : `${mb(l.warmHttpNetworkBytes)} re-fetched`}`)),
    row('warm: from Cache Storage', '', (m) => cell(m.load, (l) => ms(l.warmCache))),
    row('graph patching (ModelInfo.patchMs)', '', (m) => cell(m.load, (l) => ms(l.patchMs))),
    section('Image encoding, one image'),
    row('plain graph (embeddings only)', '', (m) => cell(m.image, (i) => ms(i.plain))),
    row('patched graph, all attentions out', '', (m) => cell(m.image, (i) => ms(i.patchedRun))),
    row('… + preparing what the worker posts', '', (m) => cell(m.image, (i) => ms(i.patched))),
    row('attention overhead (patched + preparing vs plain)', '≤ 10 %', (m) => cell(m.image, (i) => {
      const o = i.patched.median / i.plain.median - 1;
      return pct(o) + mark(o <= 0.1);
    })),
    row('transformers.js, CLIPVisionModelWithProjection', '', (m) => cell(m.transformersJs, (t) => ms(t.image))),
    row('ours, plain graph ÷ transformers.js (ORT builds compared)', '', (m) => {
      const i = image(m);
      const t = tjs(m);
      return i && t ? `${(i.plain.median / t.image.median).toFixed(2)}×` : '—';
    }),
    row('ours with attentions ÷ transformers.js', '≤ 1.0×', (m) => {
      const i = image(m);
      const t = tjs(m);
      if (!i || !t) return '—';
      const x = i.patched.median / t.image.median;
      return `${x.toFixed(2)}×${mark(x <= 1)}`;
    }),
    row('transformers.js load (vision only)', '', (m) => cell(m.transformersJs, (t) => ms(t.load))),
    row('achieved, with attentions: GFLOP/s, % of peak', '≥ 50 %', (m) => {
      const i = image(m);
      if (!i) return '—';
      const g = gflops(m, i.patched.median);
      return peak ? `${g.toFixed(1)}, ${((g / peak.gflops) * 100).toFixed(0)} %${mark(g / peak.gflops >= 0.5)}` : g.toFixed(1);
    }),
    row('linear layers alone (same shapes, one graph)', '', (m) => cell(m.linear, (s) => {
      const i = image(m);
      const g = (2 * m.macs.linear) / (s.median * 1e6);
      return `${ms(s)}; ${g.toFixed(1)} GFLOP/s${i ? `; ${((s.median / i.plain.median) * 100).toFixed(0)} % of the plain encoder's time for ${((m.macs.linear / m.macs.total) * 100).toFixed(0)} % of its work` : ''}`;
    })),
    section('Text and explanations'),
    row('text encoding, 8 prompts one by one', '', (m) => cell(m.text8, ms)),
    row('rollout, full matrix (src/explain/rollout.ts)', '', (m) => cell(m.rollout, (x) => ms(x.matrix))),
    row('rollout, the map (CLS row, as the app paints)', '', (m) => cell(m.rollout, (x) => ms(x.map))),
    row('gradient relevance, last layer ÷ image encoding', '≤ 1.5×', (m) => relevanceCell(m, 'last', 1.5)),
    row('gradient relevance, all layers ÷ image encoding', '≤ 4×', (m) => relevanceCell(m, 'all', 4)),
    row('gradient relevance, first request (builds the tfjs graphs)', '', (m) =>
      'unavailable' in m.relevance ? m.relevance.unavailable : cell(m.relevance, (x) => `${num(x.firstMs)} ms (tfjs ${x.backend})`)),
    row('dense prompt map, MaskCLIP / ClearCLIP / patch contributions (÷ image encoding)', '', (m) => {
      const d = m.denseMap;
      if ('unavailable' in d) return d.unavailable;
      return cell(d, (x) => {
        const i = ok(m.image);
        const r = (s: { median: number }) => (i ? ` (${(s.median / i.patched.median).toFixed(1)}×)` : '');
        const c = x.contributions ? `${ms(x.contributions)}${r(x.contributions)}` : 'not measured';
        return `${ms(x.maskclip)}${r(x.maskclip)} / ${ms(x.clearclip)}${r(x.clearclip)} / ${c}`;
      });
    }),
    section('The app (production build, one worker)'),
    row('layer/head change → painted, card only (p50 / p95)', '≤ 16 ms', (m) => cell(m.interaction, (x) => p50p95(x.single, 'latency') + mark(x.single.latency.p95 <= 16))),
    row('… main-thread work in it (p50 / p95)', '', (m) => cell(m.interaction, (x) => p50p95(x.single, 'work'))),
    row('layer/head change → painted, with layers × heads grid', '≤ 50 ms (B/16)', (m) => cell(m.interaction, (x) => p50p95(x.grid, 'latency') + (isB16(m) ? mark(x.grid.latency.p95 <= 50) : ''))),
    row('… main-thread work in it (p50 / p95)', '', (m) => cell(m.interaction, (x) => p50p95(x.grid, 'work'))),
    row('canvases painted per change: card / grid', '', (m) => cell(m.interaction, (x) => `${x.single.canvases} / ${x.grid.canvases}`)),
    row('20 images end to end; per image', '', (m) => cell(m.throughput, (t) => `${(t.totalMs / 1000).toFixed(1)} s; ${ms(t.perImage)}${t.errors ? `; ${t.errors} errors` : ''}`)),
    row('longest main-thread task meanwhile; tasks > 50 ms', '≤ 50 ms', (m) => cell(m.throughput, (t) => `${num(t.longestTaskMs)} ms; ${t.tasksOver50ms}${mark(t.longestTaskMs <= 50)}`)),
    row('JS memory after 20 images: page + workers', '', (m) => cell(m.throughput, (t) => memoryCell(t.memory))),
    row('attention kept per image, measured in the app; for 20 images', '≤ 8 MB (B/16)', (m) => cell(m.throughput, (t) => {
      const a = t.attentionBytes;
      if (!a) return 'not measured';
      const per = Math.max(0, ...a.perImage);
      return `${mb(per)}; ${mb(a.total)}${isB16(m) ? mark(per <= 8e6) : ''}`;
    })),
    row('full attention stack per image (fp32); for 20 images', '', (m) => `${mb(m.attentionBytes)}; ${mb(20 * m.attentionBytes)}`),
    row('200 images end to end; longest main-thread task', '', (m) => cell(m.many ?? null, (t) => `${(t.totalMs / 1000).toFixed(1)} s${t.errors ? `; ${t.errors} errors` : ''}; ${num(t.longestTaskMs)} ms`)),
    row('JS memory after 200 images: page + workers', '', (m) => cell(m.many ?? null, (t) => memoryCell(t.memory))),
    row('attention kept after 200 images (the 32 most recent)', '≤ 32 × per image', (m) => cell(m.many ?? null, (t) => {
      const a = t.attentionBytes;
      if (!a) return 'not measured';
      const per = Math.max(0, ...a.perImage);
      return `${a.perImage.length} images, ${mb(a.total)}${mark(a.perImage.length <= 33 && a.total <= 33 * per)}; uncapped ${mb(200 * per)}`;
    })),
    section('PyTorch on this machine (CPU, same architecture)'),
    row('image encoding (no_grad)', '', (m) => cell(m.torch, (t) => ms(t.image))),
    row('ours with attentions ÷ PyTorch', '', (m) => {
      const i = image(m);
      const t = ok(m.torch);
      return i && t ? `${(i.patched.median / t.image.median).toFixed(2)}×` : '—';
    }),
    row('gradient relevance, last layer (image + prompt)', '', (m) => cell(m.torch, (t) => `${ms(t.relevanceLast)}; ${(t.relevanceLast.median / t.image.median).toFixed(1)}× its image encoding`)),
    row('gradient relevance, all layers', '', (m) => cell(m.torch, (t) => `${ms(t.relevanceAll)}; ${(t.relevanceAll.median / t.image.median).toFixed(1)}×`)),
    '',
    peak
      ? `Measured peak: a chain of 8 float32 MatMuls of 1024 × 1024 whose data stays in the graph (bench/graphs.py), same ORT WASM build and threads: ${ms(peak.ms)} for ${(peak.macs / 1e9).toFixed(1)} G multiply-adds = **${peak.gflops.toFixed(1)} GFLOP/s**.`
      : `Measured peak: ${cell(r.peak, () => '')}`,
    '',
    `WebGPU smoke test (bundled model, SwiftShader: a correctness line, not a timing): ${cell(r.webgpuSmoke, (w) =>
      `backend ${w.backend}; load ${ms(w.load)}; image plain ${ms(w.plain)}, with attentions ${ms(w.patched)}`)}.`,
  ];
  return lines.join('\n');
}

function relevanceCell(m: ModelResult, which: 'last' | 'all', target: number): string {
  const rel = m.relevance;
  if ('unavailable' in rel) return rel.unavailable;
  return cell(rel, (x) => {
    const i = ok(m.image);
    if (!i) return ms(x[which]);
    const ratio = x[which].median / i.patched.median;
    return `${ms(x[which])}; ${ratio.toFixed(1)}×${mark(ratio <= target)}`;
  });
}

function memoryCell(mem: MemoryResult): string {
  if (!('targets' in mem)) return 'measured another way (rerun)';
  const total = mem.targets.reduce((sum, t) => sum + t.heapBytes + t.backingBytes, 0);
  // Vite's content hash (lens.worker-BsHgyNfY.js) says nothing to a reader.
  const name = (script: string) => script.replace(/-(?=[\w-]{0,7}[A-Z0-9])[\w-]{8}(\.m?js)$/, '$1');
  const parts = mem.targets.map((t) => `${name(t.name)}: heap ${mb(t.heapBytes)} + buffers ${mb(t.backingBytes)}`);
  return `${mb(total)} (${parts.join('; ')})`;
}

export function machineLine(r: Results): string {
  const m = r.machine;
  return [
    `- CPU: ${m.cpu}, ${m.cores} cores; ${m.memoryGiB} GiB RAM; ${m.os}`,
    `- Browser: ${m.chromium}, headless, driven by Playwright ${m.playwright}; Node ${m.node}`,
    `- onnxruntime-web ${m.onnxruntimeWeb} (ours); transformers.js ${m.transformersJs} with its own onnxruntime-web ${m.transformersJsOnnxruntimeWeb}`,
    `- PyTorch ${m.torch} (Debian), ${r.threads} threads`,
    ...r.runs.map((run) => {
      const l = run.loadAverage;
      return `- Run ${run.date} (${run.models.join(', ')}): load average (1 min) ${l.before.toFixed(2)} before, ` +
        `during median ${l.median.toFixed(2)} / max ${l.max.toFixed(2)}, ${l.after.toFixed(2)} after (the bench alone: about 2)`;
    }),
    ...(m.busy.length ? [`- **Busy: ${m.busy.join('; ')}**`] : []),
  ].join('\n');
}
