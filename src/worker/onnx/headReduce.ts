/**
 * Reduces each layer's attention probabilities inside the ONNX graph, so that an image encoding
 * copies out of ONNX Runtime only what the app keeps (`ReducedAttention`, src/explain/reduce.ts):
 * every head's CLS row and the all-heads mean, max and min. For ViT-B/16 that is 5.6 MB of
 * float32 per image instead of the 22 MB stack, and ORT's kernels do the reduction.
 *
 * Like `patchOutputs` (./attention.ts), nothing is decoded or re-encoded: the nodes, initializers and outputs
 * are appended as one more `ModelProto.graph` field, which protobuf merging adds to the graph.
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
import type { OpsetImport } from './graph';
import { Writer } from './protobuf';

/** The output names of one layer's reductions. */
export interface HeadReductionOutputs {
  readonly mean: string;
  readonly max: string;
  readonly min: string;
  readonly cls: string;
}

const PREFIX = 'clip_lens_reduce';
const INT64 = 7;
const FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;
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
  const tail = new Writer()
    .message(7, (g) => {
      const node = (op: string, inputs: readonly string[], output: string, attributes: (n: Writer) => void = () => {}) =>
        g.message(1, (n) => {
          for (const i of inputs) n.string(1, i);
          n.string(2, output).string(3, output).string(4, op);
          attributes(n);
        });
      const intAttr = (n: Writer, key: string, value: number) => n.message(5, (a) => a.string(1, key).int64(3, value).int64(20, ATTR_INT));
      const intsAttr = (n: Writer, key: string, values: readonly number[]) =>
        n.message(5, (a) => {
          a.string(1, key);
          for (const v of values) a.int64(8, v);
          a.int64(20, ATTR_INTS);
        });
      const reduce = (op: string, input: string, output: string) =>
        axesAsInput
          ? node(op, [input, name('axis0')], output, (n) => intAttr(n, 'keepdims', 0))
          : node(op, [input], output, (n) => {
            intsAttr(n, 'axes', [0]);
            intAttr(n, 'keepdims', 0);
          });

      softmaxOutputs.forEach((p, l) => {
        const o = outputs[l] as HeadReductionOutputs;
        const f = name(`f32_${l}`);
        const r = name(`heads_${l}`);
        const shape = name(`shape_${l}`);
        const seq = name(`seq_${l}`);
        node('Cast', [p], f, (n) => intAttr(n, 'to', FLOAT));
        node('Reshape', [f, name('heads_by_rest')], r);
        reduce('ReduceMean', r, o.mean);
        reduce('ReduceMax', r, o.max);
        reduce('ReduceMin', r, o.min);
        node('Shape', [f], shape);
        node('Slice', [shape, name('minus1'), name('int64_max'), name('axis0')], seq);
        node('Slice', [r, name('zero'), seq, name('axis1')], o.cls);
      });
      const int64 = (key: string, values: readonly (number | bigint)[]) =>
        g.message(5, (t) => {
          t.int64(1, values.length).int64(2, INT64);
          const packed = new Writer();
          for (const v of values) packed.rawInt64(v);
          t.bytes(7, packed.finish()).string(8, name(key));
        });
      int64('heads_by_rest', [heads, -1]);
      int64('zero', [0]);
      int64('minus1', [-1]);
      int64('int64_max', [INT64_MAX]);
      int64('axis0', [0]);
      int64('axis1', [1]);
      for (const o of outputs) for (const out of [o.mean, o.max, o.min, o.cls]) g.message(12, (v) => v.string(1, out));
    })
    .finish();
  const out = new Uint8Array(bytes.length + tail.length);
  out.set(bytes, 0);
  out.set(tail, bytes.length);
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
