/**
 * Dynamically quantized MatMuls, made differentiable.
 *
 * The `_quantized` exports (onnxruntime's dynamic int8 quantization, as transformers.js ships
 * them) replace each `x · W` whose weight is constant by
 *
 *   DynamicQuantizeLinear(x) → (xq, xs, xz)
 *   MatMulInteger(xq, Wq, xz, Wz) → int32 → Cast(float) → Mul(·, xs·Ws)
 *
 * Rounding to integers has no useful gradient, so {@link rewriteQuantizedMatMuls} replaces that
 * chain by one internal `QuantizedMatMul(x)` node holding the dequantised weight
 * W = (Wq − Wz)·Ws. Its forward pass can be
 * - `'exact'` (default): the same integer arithmetic as ONNX Runtime — x is quantised per tensor
 *   exactly as DynamicQuantizeLinear does (scale = (max(x,0) − min(x,0))/255, round half to even,
 *   saturate) — so embeddings and attentions equal ORT's; the backward pass is the
 *   straight-through estimator, i.e. the gradient of the float product x · W;
 * - `'dequantized'`: the float product x · W itself (no activation rounding).
 * Either way the gradient is that of x · W with the dequantised weight, which is what relevance
 * needs: how the score changes with the attention, not with rounding steps. Weights may be uint8
 * (`_quantized`, `_uint8`) or int8 (`_int8`); a ConvInteger chain (the patch embedding of
 * `_uint8` / `_int8` vision files) becomes a float Conv, see {@link rewriteQuantizedMatMuls}.
 * 4-bit weights (MatMulNBits, MatMulBnb4) are in ./blockQuantized.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DataType } from '../onnx/graph';
import { halfToFloat } from '../onnx/tensors';
import { timesTransposed, weightMatMul } from './linear';
import type { ModelNode, TensorProtoData } from './onnxModel';

/** Domain of the interpreter's own node types (never in a file). */
export const INTERNAL_DOMAIN = 'clip-lens.interpreter';

/** How a `QuantizedMatMul` computes its forward pass; see the module comment. */
export type QuantizedMode = 'exact' | 'dequantized';

/** The weights of one rewritten chain, as found in the file. */
export interface QuantizedSpec {
  /** (K, N) uint8 or int8. */
  readonly weight: TensorProtoData;
  /** Scalar or (N,) zero point of the weight; absent means 0. */
  readonly zeroPoint: TensorProtoData | undefined;
  /** Scalar or (N,) float scale of the weight. */
  readonly scale: TensorProtoData;
}

/** A rewritten chain, ready to run: integer weight as float32 and its scale. */
export interface QuantizedWeight {
  /** (K, N) float32 holding the integers Wq − Wz. */
  readonly wInt: tf.Tensor2D;
  /** Scalar or (N,) float32 weight scale Ws. */
  readonly wScale: tf.Tensor;
}

/** One `DynamicQuantizeLinear → {MatMul,Conv}Integer → Cast → Mul(·, xs·Ws)` chain, as found. */
interface IntegerChain {
  /** The MatMulInteger or ConvInteger node. */
  readonly op: ModelNode;
  /** The float input of DynamicQuantizeLinear. */
  readonly x: string;
  /** The last Mul's output: the chain's float result. */
  readonly out: string;
  readonly spec: QuantizedSpec;
  /** Nodes only this chain used (the DynamicQuantizeLinear is dropped later, once unused). */
  readonly removed: readonly ModelNode[];
  /** The node the chain's replacement takes the place of. */
  readonly last: ModelNode;
}

/**
 * Finds every `DynamicQuantizeLinear → MatMulInteger → Cast → Mul` chain and replaces it with
 * one `QuantizedMatMul` node (domain {@link INTERNAL_DOMAIN}) whose input is the float `x` and
 * whose output is the chain's output. Nodes only the chains used are dropped.
 *
 * The same chain with ConvInteger (the patch embedding of `_uint8` / `_int8` vision files)
 * becomes `DynamicQuantizeDequantize(x)` (internal: x rounded as DynamicQuantizeLinear rounds
 * it, gradient straight through) → a float `Conv` with the weight dequantised once,
 * (Wq − Wz)·Ws, added to the initializers. That is the same product as ONNX Runtime's, but not
 * bit for bit: ORT sums integers and scales once, this sums scaled floats, so the last bits
 * differ (~1e-7 relative). Only per-tensor weight scale and zero point are rewritten there.
 *
 * @returns the new node list, the initializers (with each Conv's float weight added) and, by
 *   new node output name, the weights of each MatMul chain. A MatMulInteger or ConvInteger that
 *   does not fit the pattern is left in place (and later refused by the interpreter with its op
 *   name).
 */
export function rewriteQuantizedMatMuls(
  nodes: readonly ModelNode[],
  initializers: ReadonlyMap<string, TensorProtoData>,
): { nodes: ModelNode[]; initializers: ReadonlyMap<string, TensorProtoData>; specs: Map<string, QuantizedSpec> } {
  const producer = new Map<string, ModelNode>();
  const consumers = new Map<string, ModelNode[]>();
  for (const n of nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const only = (name: string): ModelNode | undefined => {
    const c = consumers.get(name);
    return c && c.length === 1 ? c[0] : undefined;
  };
  const removed = new Set<ModelNode>();
  const replace = new Map<ModelNode, ModelNode[]>();
  const specs = new Map<string, QuantizedSpec>();
  const added = new Map<string, TensorProtoData>();

  for (const node of nodes) {
    if ((node.opType !== 'MatMulInteger' && node.opType !== 'ConvInteger') || node.domain !== '') continue;
    const chain = matchChain(node, producer, only, consumers, initializers);
    if (!chain) continue;
    const name = `${node.name || chain.out}/differentiable`;
    if (node.opType === 'MatMulInteger') {
      if (chain.spec.weight.dims.length !== 2) continue;
      specs.set(chain.out, chain.spec);
      replace.set(chain.last, [{ index: chain.last.index, opType: 'QuantizedMatMul', domain: INTERNAL_DOMAIN, name, inputs: [chain.x], outputs: [chain.out], attrs: new Map() }]);
    } else {
      const { weight, zeroPoint, scale } = chain.spec;
      if (weight.dims.length !== 4 || numbers(scale).length !== 1 || (zeroPoint && numbers(zeroPoint).length !== 1)) continue;
      const w = `${weight.name}/dequantized`;
      if (!added.has(w)) added.set(w, { name: w, dims: weight.dims, dataType: DataType.FLOAT, bytes: new Uint8Array(dequantize(chain.spec).buffer) });
      const rounded = `${name}/input`;
      replace.set(chain.last, [
        { index: chain.last.index, opType: 'DynamicQuantizeDequantize', domain: INTERNAL_DOMAIN, name: rounded, inputs: [chain.x], outputs: [rounded], attrs: new Map() },
        { ...node, index: chain.last.index, opType: 'Conv', name, inputs: [rounded, w], outputs: [chain.out] },
      ]);
    }
    for (const n of chain.removed) removed.add(n);
  }
  // A DynamicQuantizeLinear whose outputs now feed nothing is dropped too.
  const kept = nodes.filter((n) => !removed.has(n)).flatMap((n) => replace.get(n) ?? [n]);
  const used = new Set(kept.flatMap((n) => n.inputs));
  return {
    nodes: kept.filter((n) => n.opType !== 'DynamicQuantizeLinear' || n.outputs.some((o) => used.has(o))),
    initializers: added.size === 0 ? initializers : new Map([...initializers, ...added]),
    specs,
  };
}

/** The chain around one MatMulInteger / ConvInteger node, or undefined when it does not fit. */
function matchChain(
  op: ModelNode,
  producer: ReadonlyMap<string, ModelNode>,
  only: (name: string) => ModelNode | undefined,
  consumers: ReadonlyMap<string, readonly ModelNode[]>,
  initializers: ReadonlyMap<string, TensorProtoData>,
): IntegerChain | undefined {
  const [aq, wq, az, wz] = op.inputs;
  const dql = aq ? producer.get(aq) : undefined;
  if (!dql || dql.opType !== 'DynamicQuantizeLinear' || dql.outputs[0] !== aq || (az && dql.outputs[2] !== az)) return undefined;
  const weight = wq ? initializers.get(wq) : undefined;
  if (!weight || (weight.dataType !== DataType.UINT8 && weight.dataType !== DataType.INT8)) return undefined;
  const zeroPoint = wz ? initializers.get(wz) : undefined;
  if (wz && !zeroPoint) return undefined;
  const castNode = only(op.outputs[0] ?? '');
  if (!castNode || castNode.opType !== 'Cast' || castNode.attrs.get('to')?.i !== DataType.FLOAT) return undefined;
  const mul = only(castNode.outputs[0] ?? '');
  if (!mul || mul.opType !== 'Mul') return undefined;
  const scaleName = mul.inputs[0] === castNode.outputs[0] ? mul.inputs[1] : mul.inputs[0];
  const scaleMul = scaleName ? producer.get(scaleName) : undefined;
  if (!scaleMul || scaleMul.opType !== 'Mul') return undefined;
  const xScale = dql.outputs[1];
  const wsName = scaleMul.inputs[0] === xScale ? scaleMul.inputs[1] : scaleMul.inputs[1] === xScale ? scaleMul.inputs[0] : undefined;
  const scale = wsName ? initializers.get(wsName) : undefined;
  if (!scale || (scale.dataType !== DataType.FLOAT && scale.dataType !== DataType.FLOAT16)) return undefined;
  const x = dql.inputs[0];
  const out = mul.outputs[0];
  if (!x || !out) return undefined;
  const scaleOnlyHere = (consumers.get(scaleMul.outputs[0] ?? '') ?? []).every((c) => c === mul);
  return { op, x, out, spec: { weight, zeroPoint, scale }, removed: [op, castNode, ...(scaleOnlyHere ? [scaleMul] : [])], last: mul };
}

/** Reads a small float tensor (scale) or integer tensor (zero point) as numbers. */
function numbers(t: TensorProtoData): Float32Array {
  const count = t.dims.reduce((a, b) => a * b, 1);
  const buf = t.bytes.slice().buffer;
  switch (t.dataType) {
    case DataType.FLOAT:
      return new Float32Array(buf, 0, count);
    case DataType.UINT8:
      return Float32Array.from(new Uint8Array(buf, 0, count));
    case DataType.INT8:
      return Float32Array.from(new Int8Array(buf, 0, count));
    case DataType.FLOAT16:
      return Float32Array.from(new Uint16Array(buf, 0, count), halfToFloat);
    default:
      throw new Error(`unexpected data type ${t.dataType} for a quantization parameter "${t.name}"`);
  }
}

/** (Wq − Wz)·Ws in float32 for per-tensor Wz and Ws, any weight shape: one rounding per value. */
function dequantize(spec: QuantizedSpec): Float32Array {
  const raw = spec.weight.bytes;
  const signed = spec.weight.dataType === DataType.INT8;
  const z = spec.zeroPoint ? (numbers(spec.zeroPoint)[0] as number) : 0;
  const s = numbers(spec.scale)[0] as number;
  const w = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    w[i] = ((signed && b > 127 ? b - 256 : b) - z) * s;
  }
  return w;
}

/**
 * Makes the tensors of one rewritten chain. Memory: one float32 per weight element (the
 * quantized file has one byte), the same as the fp32 model's weight.
 */
export function loadQuantizedWeight(spec: QuantizedSpec): QuantizedWeight {
  const [k, n] = spec.weight.dims as [number, number];
  const raw = spec.weight.bytes;
  const signed = spec.weight.dataType === DataType.INT8;
  const zp = spec.zeroPoint ? numbers(spec.zeroPoint) : Float32Array.of(0);
  const perColumn = zp.length > 1;
  if (perColumn && zp.length !== n) throw new Error(`zero point of "${spec.weight.name}" has ${zp.length} values for ${n} columns`);
  const w = new Float32Array(k * n);
  for (let i = 0; i < k * n; i++) {
    const b = raw[i] as number;
    w[i] = (signed && b > 127 ? b - 256 : b) - (zp[perColumn ? i % n : 0] as number);
  }
  const scale = numbers(spec.scale);
  if (scale.length !== 1 && scale.length !== n) throw new Error(`scale of "${spec.weight.name}" has ${scale.length} values for ${n} columns`);
  return {
    wInt: tf.tensor2d(w, [k, n]),
    wScale: scale.length === 1 ? tf.scalar(scale[0] as number) : tf.tensor1d(scale),
  };
}

/**
 * ONNX `DynamicQuantizeLinear` in float32 tfjs ops, exactly as ONNX Runtime rounds: per-tensor
 * scale xs = (max(x,0) − min(x,0))/255, zero point and values rounded half to even, saturated.
 *
 * @returns the centred integers xq − xz (as float32, same shape as x) and the scalar xs.
 */
function dynamicQuantize(x: tf.Tensor): { centred: tf.Tensor; xs: tf.Tensor } {
  const zero = tf.scalar(0);
  const lo = tf.minimum(tf.min(x), zero);
  const hi = tf.maximum(tf.max(x), zero);
  const range = tf.sub(hi, lo);
  const xs = tf.where(tf.equal(range, zero), tf.onesLike(range), tf.div(range, 255));
  const xz = tf.round(tf.clipByValue(tf.neg(tf.div(lo, xs)), 0, 255)); // tf.round: half to even, as ORT
  const xq = tf.clipByValue(tf.add(tf.round(tf.div(x, xs)), xz), 0, 255);
  return { centred: tf.sub(xq, xz), xs };
}

/**
 * `DynamicQuantizeLinear` followed by the integer product with `wInt`, reproducing ONNX
 * Runtime's integers exactly (integers below 2^24 are exact in float32).
 *
 * @param x2 (M, K) activations
 * @returns (M, N) = float((xq − xz)·wInt) · (xs · Ws)
 */
function exactForward(x2: tf.Tensor, w: QuantizedWeight): tf.Tensor {
  const { centred, xs } = dynamicQuantize(x2);
  return tf.mul(tf.matMul(centred, w.wInt), tf.mul(xs, w.wScale));
}

/**
 * The internal `DynamicQuantizeDequantize` node in front of a rewritten ConvInteger: in
 * `'exact'` mode x rounded to DynamicQuantizeLinear's grid, (xq − xz)·xs, with the gradient
 * passed straight through; in `'dequantized'` mode x itself.
 *
 * @param x any shape, float
 * @returns the same shape
 */
export function quantizeDequantize(x: tf.Tensor, mode: QuantizedMode): tf.Tensor {
  if (mode === 'dequantized') return x;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const { centred, xs } = dynamicQuantize(args[0] as tf.Tensor);
    return { value: tf.mul(centred, xs), gradFunc: (dy: tf.Tensor) => dy };
  });
  return op(x);
}

/**
 * x · W for a rewritten chain; see the module comment for `mode`.
 *
 * @param x (..., K) float activations
 * @param dequantized W = wInt·wScale as (K, N), for `'dequantized'` mode (cache it per node)
 * @returns (..., N)
 */
export function quantizedMatMul(x: tf.Tensor, w: QuantizedWeight, mode: QuantizedMode, dequantized: () => tf.Tensor): tf.Tensor {
  const [k, n] = w.wInt.shape;
  const lead = x.shape.slice(0, -1);
  const x2 = tf.reshape(x, [-1, k]);
  if (mode === 'dequantized') return tf.reshape(weightMatMul(x2, dequantized()), [...lead, n]);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return {
      value: exactForward(input, w),
      // Straight-through: d(x·W)/dx with W = wInt·wScale, i.e. dy·Wᵀ = (dy·wScale)·wIntᵀ.
      gradFunc: (dy: tf.Tensor) => timesTransposed(tf.mul(dy, w.wScale), w.wInt),
    };
  });
  return tf.reshape(op(x2), [...lead, n]);
}

/**
 * Folds each `Gather(integer table, ids) → DequantizeLinear(·, scale, zero_point)` — the form
 * ONNX Runtime's quantizer gives an embedding table, as in the `_quantized` text models' token
 * embedding — into a Gather from the table dequantised once: (q − zero_point) · scale in
 * float32, the same numbers DequantizeLinear gives for the rows gathered, so the forward pass is
 * exact. The integer table is then unused and never decoded. Only per-tensor (scalar) scale and
 * zero point are folded; other DequantizeLinear nodes run as they are.
 *
 * @returns the new node list, and the initializers with each folded table added as float32.
 */
export function foldQuantizedGathers(
  nodes: readonly ModelNode[],
  initializers: ReadonlyMap<string, TensorProtoData>,
): { nodes: ModelNode[]; initializers: ReadonlyMap<string, TensorProtoData> } {
  const consumers = new Map<string, ModelNode[]>();
  for (const n of nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const scalar = (name: string | undefined): TensorProtoData | undefined => {
    const t = name ? initializers.get(name) : undefined;
    return t && t.dims.every((d) => d === 1) ? t : undefined;
  };
  const added = new Map<string, TensorProtoData>();
  const removed = new Set<ModelNode>();
  const replace = new Map<ModelNode, ModelNode>();
  for (const g of nodes) {
    if (g.opType !== 'Gather' || g.domain !== '') continue;
    const table = initializers.get(g.inputs[0] ?? '');
    if (!table || (table.dataType !== DataType.UINT8 && table.dataType !== DataType.INT8)) continue;
    const users = consumers.get(g.outputs[0] ?? '') ?? [];
    const dq = users[0];
    if (users.length !== 1 || !dq || dq.opType !== 'DequantizeLinear' || dq.domain !== '' || dq.inputs[0] !== g.outputs[0]) continue;
    const scale = scalar(dq.inputs[1]);
    const zeroPoint = dq.inputs[2] ? scalar(dq.inputs[2]) : undefined;
    if (!scale || (scale.dataType !== DataType.FLOAT && scale.dataType !== DataType.FLOAT16) || (dq.inputs[2] && !zeroPoint)) continue;
    const out = dq.outputs[0];
    if (!out) continue;
    const name = `${table.name}/dequantized`;
    if (!added.has(name)) {
      const s = numbers(scale)[0] as number;
      const z = zeroPoint ? (numbers(zeroPoint)[0] as number) : 0;
      const q = numbers(table);
      const f = new Float32Array(q.length);
      // An integer difference times a float32, rounded once: what DequantizeLinear computes.
      for (let i = 0; i < q.length; i++) f[i] = ((q[i] as number) - z) * s;
      added.set(name, { name, dims: table.dims, dataType: DataType.FLOAT, bytes: new Uint8Array(f.buffer) });
    }
    replace.set(g, { ...g, inputs: [name, ...g.inputs.slice(1)], outputs: [out] });
    removed.add(dq);
  }
  if (added.size === 0) return { nodes: [...nodes], initializers };
  return {
    nodes: nodes.filter((n) => !removed.has(n)).map((n) => replace.get(n) ?? n),
    initializers: new Map([...initializers, ...added]),
  };
}
