/**
 * Reduces each layer's attention probabilities inside the ONNX graph, so that an image encoding
 * copies out of ONNX Runtime only what the app keeps (`ReducedAttention`, src/explain/reduce.ts):
 * every head's CLS row and the all-heads mean, max and min. For ViT-B/16 that is 5.6 MB of
 * float32 per image instead of the 22 MB stack, and ORT's kernels do the reduction.
 *
 * Like every patch, nothing is decoded or re-encoded: the nodes, initializers and outputs are
 * appended as one more `ModelProto.graph` field (./graphTail.ts).
 * Per layer, from the Softmax output `p` — `(batch·heads, seq, seq)` (HF's bmm attention) or
 * `(batch, heads, seq, seq)`, batch 1 (the app encodes one image per run):
 *
 *   f    = Cast(p, to=FLOAT)                 float16 files reduce in float32
 *   r    = Reshape(f, [heads, -1])           (heads, seq²), either layout
 *   mean = ReduceMean(r, axes=[0])           (seq²)      and ReduceMax, ReduceMin alike
 *   seq  = Slice(Shape(f), [-1], [∞], [0])   [seq]
 *   cls  = Slice(r, [0], seq, [1])           (heads, seq): row 0 of every head
 *
 * Reduce ops take `axes` as an attribute before opset 18 and as an input from 18 on.
 */
import type { ReducedAttention } from '../../explain/types';
import { DataType, type OpsetImport } from './graph';
import { GraphTail } from './graphTail';

/** The output names of one layer's reductions. */
export interface HeadReductionOutputs {
  readonly mean: string;
  readonly max: string;
  readonly min: string;
  readonly cls: string;
}

const PREFIX = 'clip_lens_reduce';
const INT64_MAX = 9223372036854775807n;

/**
 * Whether image encodings reduce the attention in the graph (this module) rather than
 * copy the whole stack out of ORT and reduce it in JS. The graph's extra nodes (8 per layer) cost
 * more than they save on small stacks and pay off on big ones; measured in the app's bench
 * (docs/benchmarks.md), attention overhead over the plain graph, in graph vs in JS: bundled model
 * (0.3 MB stack) +148 % vs +39 %, ViT-B/32 (1.4 MB) +26 % vs +8 %, ViT-B/16 (22 MB) +12 % vs +27 %.
 * So: in the graph above 8 MB of float32 attention per image.
 */
export function reducesInGraph(vision: { layers: number; heads: number; imageSize: number; patchSize: number }): boolean {
  const seq = Math.floor(vision.imageSize / vision.patchSize) ** 2 + 1;
  return vision.layers * vision.heads * seq * seq * 4 > 8 * 1024 * 1024;
}

/** The default domain's opset version of a model (`''` or `ai.onnx`); 1 when absent. */
export function defaultOpset(opsets: readonly OpsetImport[]): number {
  return opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 1;
}

/**
 * Returns a copy of `bytes` whose graph also computes and outputs, for each Softmax output in
 * `softmaxOutputs` (one per layer), the reductions above; and their names, in layer order.
 *
 * @param heads attention heads per layer (config.json), the size of the reduced axis.
 * @param opset the model's default-domain opset ({@link defaultOpset}).
 */
export function appendHeadReductions(
  bytes: Uint8Array,
  softmaxOutputs: readonly string[],
  heads: number,
  opset: number,
): { bytes: Uint8Array; outputs: HeadReductionOutputs[] } {
  if (!Number.isInteger(heads) || heads <= 0) throw new RangeError(`appendHeadReductions: heads must be a positive integer, got ${heads}`);
  const name = (s: string) => `${PREFIX}/${s}`;
  const outputs = softmaxOutputs.map((_, l): HeadReductionOutputs => ({
    mean: name(`mean_${l}`), max: name(`max_${l}`), min: name(`min_${l}`), cls: name(`cls_${l}`),
  }));
  const axesAsInput = opset >= 18;
  const t = new GraphTail(PREFIX);
  const reduce = (op: string, input: string, output: string) =>
    axesAsInput
      ? t.node(op, [input, name('axis0')], { keepdims: 0 }, output)
      : t.node(op, [input], { axes: [0], keepdims: 0 }, output);
  softmaxOutputs.forEach((p, l) => {
    const o = outputs[l] as HeadReductionOutputs;
    const f = t.node('Cast', [p], { to: DataType.FLOAT }, name(`f32_${l}`));
    const r = t.node('Reshape', [f, name('heads_by_rest')], {}, name(`heads_${l}`));
    reduce('ReduceMean', r, o.mean);
    reduce('ReduceMax', r, o.max);
    reduce('ReduceMin', r, o.min);
    const shape = t.node('Shape', [f], {}, name(`shape_${l}`));
    const seq = t.node('Slice', [shape, name('minus1'), name('int64_max'), name('axis0')], {}, name(`seq_${l}`));
    t.node('Slice', [r, name('zero'), seq, name('axis1')], {}, o.cls);
  });
  t.ints([heads, -1], name('heads_by_rest'));
  t.ints([0], name('zero'));
  t.ints([-1], name('minus1'));
  t.ints([INT64_MAX], name('int64_max'));
  t.ints([0], name('axis0'));
  t.ints([1], name('axis1'));
  for (const o of outputs) for (const out of [o.mean, o.max, o.min, o.cls]) t.output(out);
  const out = t.append(bytes);
  return { bytes: out, outputs };
}

/** One layer's reductions as ORT returned them (float32). */
export interface LayerReductions {
  readonly mean: Float32Array;
  readonly max: Float32Array;
  readonly min: Float32Array;
  readonly cls: Float32Array;
}

/**
 * The app's `ReducedAttention` from the graph's reductions, one entry per layer. The mean is
 * widened to float64 (the type the views read); it was summed by ORT in float32, so maps agree
 * with those of `reduceLayers` to float32 rounding (~1e-7 relative), not bit for bit.
 *
 * @throws Error when a layer's sizes do not match `heads` and a square `seq × seq` attention.
 */
export function assembleReduced(layers: readonly LayerReductions[], heads: number): ReducedAttention {
  const first = layers[0];
  if (!first) throw new Error('no attention layers were reduced');
  const seq = first.cls.length / heads;
  if (!Number.isInteger(seq) || seq <= 0) throw new Error(`the reduced CLS rows hold ${first.cls.length} values, not a multiple of ${heads} heads`);
  const n = seq * seq;
  const count = layers.length;
  const cls = new Float32Array(count * heads * seq);
  const mean = new Float64Array(count * n);
  const max = new Float32Array(count * n);
  const min = new Float32Array(count * n);
  layers.forEach((r, l) => {
    if (r.cls.length !== heads * seq || r.mean.length !== n || r.max.length !== n || r.min.length !== n) {
      throw new Error(`layer ${l}'s reductions have ${r.cls.length}, ${r.mean.length}, ${r.max.length} and ${r.min.length} values; ` +
        `expected ${heads}×${seq} CLS rows and ${seq}×${seq} fusions`);
    }
    cls.set(r.cls, l * heads * seq);
    mean.set(r.mean, l * n);
    max.set(r.max, l * n);
    min.set(r.min, l * n);
  });
  return {
    layers: count, heads, seq,
    cls: { layers: count, heads, seq, token: 0, data: cls },
    fused: { layers: count, heads, seq, mean, max, min },
  };
}
