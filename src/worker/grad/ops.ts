/**
 * ONNX operators evaluated with tfjs ops (so tfjs's autodiff can differentiate them) or, for
 * integer shape math, in plain JS (see ./values.ts).
 *
 * Semantics follow the ONNX operator specs (https://onnx.ai/onnx/operators/) for opsets 11–21;
 * where an op changed (Unsqueeze/Squeeze/ReduceSum/Split axes moved from attribute to input in
 * opset 13, ReduceMean in 18; Softmax's axis meaning changed in 13), both forms are read.
 * Every op here is checked against ONNX Runtime in interpreter.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DataType } from '../onnx/graph';
import { weightMatMul } from './linear';
import { decodeTensor, type Attribute, type ModelNode, type TensorProtoData } from './onnxModel';
import {
  axisOf,
  broadcastData,
  broadcastShapes,
  host,
  hostElementwise,
  numbersOf,
  shapeOf,
  sizeOf,
  stridesOf,
  tensorValue,
  toFloat,
  toTensor,
  type Elem,
  type HostValue,
  type TensorValue,
  type Value,
} from './values';

/** What an op may ask of the interpreter besides its inputs. */
export interface OpContext {
  /** Model file name, for messages. */
  readonly model: string;
  /** Opset version of the default ONNX domain. */
  readonly opset: number;
  /**
   * A tensor derived from constants (e.g. a Conv weight transposed to tfjs's layout), made once
   * and kept until the interpreter is disposed. `key` must identify the node and the derivation.
   */
  derived(key: string, make: () => tf.Tensor): tf.Tensor;
}

/** Inputs of one node, by position; an omitted optional input (`''`) is undefined. */
export type OpInputs = readonly (Value | undefined)[];

/** Evaluates one node: returns one value per declared output (trailing optional ones may be omitted). */
export type OpImpl = (node: ModelNode, inputs: OpInputs, ctx: OpContext) => Value[];

// ---------------------------------------------------------------------------------------------
// Attribute and input helpers

function attr(node: ModelNode, name: string): Attribute | undefined {
  return node.attrs.get(name);
}

function attrInt(node: ModelNode, name: string, fallback: number): number {
  return attr(node, name)?.i ?? fallback;
}

function attrFloat(node: ModelNode, name: string, fallback: number): number {
  return attr(node, name)?.f ?? fallback;
}

function attrInts(node: ModelNode, name: string): readonly number[] | undefined {
  return attr(node, name)?.ints;
}

function req(node: ModelNode, inputs: OpInputs, i: number): Value {
  const v = inputs[i];
  if (!v) throw new Error(`input ${i} of ${node.opType} is missing`);
  return v;
}

/** Integer list from an optional input or, for older opsets, an attribute. */
function intsFrom(node: ModelNode, inputs: OpInputs, i: number, attrName: string): number[] | undefined {
  const v = inputs[i];
  if (v) return numbersOf(v);
  const a = attrInts(node, attrName);
  return a ? [...a] : undefined;
}

/** A float value: a float tensor, or an int/bool one converted (ONNX typing makes this rare). */
function floatOf(v: Value): tf.Tensor {
  return toFloat(v);
}

function floatResult(t: tf.Tensor, like?: Value): TensorValue {
  return tensorValue(t, 'float', like?.kind === 'tensor' ? like.half : false);
}

function resultOf(t: tf.Tensor, elem: Elem, half = false): TensorValue {
  return tensorValue(t, elem, half);
}

function allHost(vs: readonly Value[]): vs is readonly HostValue[] {
  return vs.every((v) => v.kind === 'host');
}

/** Common element kind of several inputs for a tensor op: float wins over int over bool. */
function commonElem(vs: readonly Value[]): Elem {
  if (vs.some((v) => v.elem === 'float')) return 'float';
  if (vs.some((v) => v.elem === 'int')) return 'int';
  return 'bool';
}

function asElem(v: Value, elem: Elem): tf.Tensor {
  const t = toTensor(v);
  const dtype = elem === 'float' ? 'float32' : elem === 'int' ? 'int32' : 'bool';
  return t.dtype === dtype ? t : tf.cast(t, dtype);
}

function anyHalf(vs: readonly Value[]): boolean {
  return vs.some((v) => v.kind === 'tensor' && v.half);
}

// ---------------------------------------------------------------------------------------------
// Element-wise

type HostFn = (...xs: number[]) => number;
type TfFn = (...ts: tf.Tensor[]) => tf.Tensor;

/** An element-wise op on host values when all inputs are host values, else on tensors. */
function elementwise(hostFn: HostFn | undefined, tfFn: TfFn, out: 'same' | 'bool' = 'same'): OpImpl {
  return (node, inputs) => {
    const vs = node.inputs.map((_, i) => req(node, inputs, i));
    if (hostFn && allHost(vs)) {
      const elem = out === 'bool' ? 'bool' : vs.some((v) => v.elem === 'int') ? 'int' : 'bool';
      return [hostElementwise(vs, elem, hostFn)];
    }
    const elem = commonElem(vs);
    const t = tfFn(...vs.map((v) => asElem(v, elem)));
    return [resultOf(t, out === 'bool' ? 'bool' : elem, out === 'bool' ? false : anyHalf(vs))];
  };
}

/** Rounds toward zero (tfjs has floor and ceil only). */
function truncate(t: tf.Tensor): tf.Tensor {
  return tf.mul(tf.sign(t), tf.floor(tf.abs(t)));
}

/** Integer division as ONNX defines it for integer types: truncation toward zero. */
const intDiv: HostFn = (a, b) => (b === 0 ? 0 : Math.trunc(a / b));

/** x^p with the exponent read from a constant when possible: x² is the common LayerNorm case. */
const pow: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const p = req(node, inputs, 1);
  if (allHost([x, p])) return [hostElementwise([x as HostValue, p as HostValue], 'int', (a, b) => Math.trunc(a ** b))];
  const exponent = p.kind === 'tensor' && p.constValues?.length === 1 ? p.constValues[0] : p.kind === 'host' && p.data.length === 1 ? p.data[0] : undefined;
  const base = floatOf(x);
  // Special cases keep gradients exact and avoid pow(negative, float), undefined on some GPUs.
  let t: tf.Tensor;
  if (exponent === 2) t = tf.square(base);
  else if (exponent === 1) t = base;
  else if (exponent === 0.5) t = tf.sqrt(base);
  else if (exponent === 3) t = tf.mul(tf.square(base), base);
  else t = tf.pow(base, floatOf(p));
  return [floatResult(t, x)];
};

function unary(fn: (t: tf.Tensor) => tf.Tensor, hostFn?: HostFn): OpImpl {
  return (node, inputs) => {
    const x = req(node, inputs, 0);
    if (hostFn && x.kind === 'host') return [hostElementwise([x], x.elem, hostFn)];
    return [floatResult(fn(floatOf(x)), x)];
  };
}

const where: OpImpl = (node, inputs) => {
  const [c, a, b] = [0, 1, 2].map((i) => req(node, inputs, i)) as [Value, Value, Value];
  if (allHost([c, a, b])) {
    return [hostElementwise([c, a, b] as HostValue[], (a as HostValue).elem, (cc, x, y) => (cc ? x : y))];
  }
  const elem = commonElem([a, b]);
  return [resultOf(tf.where(asElem(c, 'bool'), asElem(a, elem), asElem(b, elem)), elem, anyHalf([a, b]))];
};

const clip: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const lo = inputs[1] ? numbersOf(inputs[1])[0] : attr(node, 'min')?.f;
  const hi = inputs[2] ? numbersOf(inputs[2])[0] : attr(node, 'max')?.f;
  if (x.kind === 'host') {
    return [hostElementwise([x], x.elem, (v) => Math.min(hi ?? Infinity, Math.max(lo ?? -Infinity, v)))];
  }
  let t = toTensor(x);
  if (lo !== undefined) t = tf.maximum(t, tf.scalar(lo, t.dtype));
  if (hi !== undefined) t = tf.minimum(t, tf.scalar(hi, t.dtype));
  return [resultOf(t, x.elem, x.kind === 'tensor' && x.half)];
};

// ---------------------------------------------------------------------------------------------
// Shape and data movement

const shape: OpImpl = (node, inputs) => {
  const s = shapeOf(req(node, inputs, 0));
  const start = axisClamp(attrInt(node, 'start', 0), s.length);
  const end = axisClamp(attrInt(node, 'end', s.length), s.length);
  const dims = s.slice(start, Math.max(start, end));
  return [host('int', [dims.length], dims)];
};

function axisClamp(a: number, rank: number): number {
  return Math.min(rank, Math.max(0, a < 0 ? a + rank : a));
}

const size: OpImpl = (node, inputs) => [host('int', [], [sizeOf(shapeOf(req(node, inputs, 0)))])];

/** Resolves a Reshape target: 0 copies the input dim (unless allowzero), -1 is inferred. */
function reshapeTarget(input: readonly number[], target: readonly number[], allowZero: boolean): number[] {
  const out = target.map((d, i) => (d === 0 && !allowZero ? (input[i] ?? 0) : d));
  const unknown = out.indexOf(-1);
  if (unknown >= 0) {
    const known = out.reduce((a, d, i) => (i === unknown ? a : a * d), 1);
    out[unknown] = known === 0 ? 0 : sizeOf(input) / known;
  }
  if (sizeOf(out) !== sizeOf(input) || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`cannot reshape [${input.join(', ')}] to [${target.join(', ')}]`);
  }
  return out;
}

function reshapeValue(v: Value, to: number[]): Value {
  if (v.kind === 'host') return host(v.elem, to, v.data);
  return tensorValue(tf.reshape(v.tensor, to), v.elem, v.half);
}

const reshape: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const to = reshapeTarget(shapeOf(x), numbersOf(req(node, inputs, 1)), attrInt(node, 'allowzero', 0) === 1);
  return [reshapeValue(x, to)];
};

const flatten: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const s = shapeOf(x);
  const a = axisClamp(attrInt(node, 'axis', 1), s.length);
  return [reshapeValue(x, [sizeOf(s.slice(0, a)), sizeOf(s.slice(a))])];
};

const unsqueeze: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const axes = intsFrom(node, inputs, 1, 'axes');
  if (!axes) throw new Error('Unsqueeze has no axes');
  const s = shapeOf(x);
  const rank = s.length + axes.length;
  const norm = axes.map((a) => axisOf(a, rank, 'Unsqueeze axis')).sort((a, b) => a - b);
  const out = [...s];
  for (const a of norm) out.splice(a, 0, 1);
  return [reshapeValue(x, out)];
};

const squeeze: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const s = shapeOf(x);
  const axes = intsFrom(node, inputs, 1, 'axes');
  const drop = new Set(axes ? axes.map((a) => axisOf(a, s.length, 'Squeeze axis')) : s.flatMap((d, i) => (d === 1 ? [i] : [])));
  for (const a of drop) if (s[a] !== 1) throw new Error(`Squeeze axis ${a} has size ${s[a]}, not 1`);
  return [reshapeValue(x, s.filter((_, i) => !drop.has(i)))];
};

const transpose: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const rank = shapeOf(x).length;
  const perm = attrInts(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (x.kind === 'host') {
    const t = tf.transpose(toTensor(x), [...perm]);
    return [host(x.elem, t.shape, Array.from(t.dataSync()))];
  }
  return [resultOf(tf.transpose(x.tensor, [...perm]), x.elem, x.half)];
};

/** Host concatenation along `axis`. */
function hostConcat(vs: readonly HostValue[], axis: number): HostValue {
  const first = vs[0] as HostValue;
  const outer = sizeOf(first.shape.slice(0, axis));
  const shape = [...first.shape];
  shape[axis] = vs.reduce((a, v) => a + (v.shape[axis] ?? 0), 0);
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const v of vs) {
      const block = sizeOf(v.shape.slice(axis));
      for (let i = 0; i < block; i++) data.push(v.data[o * block + i] as number);
    }
  }
  return host(commonElem(vs) === 'bool' ? 'bool' : 'int', shape, data);
}

const concat: OpImpl = (node, inputs) => {
  const vs = node.inputs.map((_, i) => req(node, inputs, i)).filter((v) => sizeOf(shapeOf(v)) > 0 || shapeOf(v).length > 1);
  const first = vs[0];
  if (!first) throw new Error('Concat of nothing');
  const axis = axisOf(attrInt(node, 'axis', 0), shapeOf(first).length, 'Concat axis');
  if (allHost(vs)) return [hostConcat(vs, axis)];
  const elem = commonElem(vs);
  return [resultOf(tf.concat(vs.map((v) => asElem(v, elem)), axis), elem, anyHalf(vs))];
};

const split: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const s = shapeOf(x);
  const axis = axisOf(attrInt(node, 'axis', 0), s.length, 'Split axis');
  const dim = s[axis] as number;
  let sizes = intsFrom(node, inputs, 1, 'split');
  if (!sizes) {
    const n = attrInt(node, 'num_outputs', node.outputs.length);
    const part = Math.ceil(dim / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(part, dim - i * part)));
  }
  const parts = sizes;
  if (x.kind === 'host') {
    let at = 0;
    return parts.map((len) => {
      const v = sliceHost(x, [at], [at + len], [axis], [1]);
      at += len;
      return v;
    });
  }
  return tf.split(x.tensor, parts, axis).map((t) => resultOf(t, x.elem, x.half));
};

/** One axis of a Slice: clamped start, count and step (ONNX Slice semantics). */
interface SliceAxis {
  start: number;
  count: number;
  step: number;
}

function sliceAxis(dim: number, start: number, end: number, step: number): SliceAxis {
  if (step === 0) throw new Error('Slice step 0');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, -1), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  const count = Math.max(0, Math.ceil((e - s) / step));
  return { start: s, count, step };
}

function sliceAxes(shape: readonly number[], starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined): SliceAxis[] {
  const spec: SliceAxis[] = shape.map((d) => ({ start: 0, count: d, step: 1 }));
  starts.forEach((st, i) => {
    const a = axisOf(axes?.[i] ?? i, shape.length, 'Slice axis');
    spec[a] = sliceAxis(shape[a] as number, st, ends[i] as number, steps?.[i] ?? 1);
  });
  return spec;
}

function sliceHost(x: HostValue, starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined): HostValue {
  const spec = sliceAxes(x.shape, starts, ends, axes, steps);
  const outShape = spec.map((a) => a.count);
  const strides = stridesOf(x.shape);
  const n = sizeOf(outShape);
  const data = new Array<number>(n);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    spec.forEach((a, d) => (off += (a.start + (idx[d] as number) * a.step) * (strides[d] as number)));
    data[i] = x.data[off] as number;
    for (let d = outShape.length - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (outShape[d] as number)) break;
      idx[d] = 0;
    }
  }
  return host(x.elem, outShape, data);
}

const slice: OpImpl = (node, inputs, ctx) => {
  const x = req(node, inputs, 0);
  const fromAttrs = ctx.opset < 10;
  const starts = fromAttrs ? [...(attrInts(node, 'starts') ?? [])] : numbersOf(req(node, inputs, 1));
  const ends = fromAttrs ? [...(attrInts(node, 'ends') ?? [])] : numbersOf(req(node, inputs, 2));
  const axes = fromAttrs ? attrInts(node, 'axes')?.slice() : inputs[3] ? numbersOf(inputs[3]) : undefined;
  const steps = !fromAttrs && inputs[4] ? numbersOf(inputs[4]) : undefined;
  if (x.kind === 'host') return [sliceHost(x, starts, ends, axes, steps)];
  const spec = sliceAxes(x.tensor.shape, starts, ends, axes, steps);
  let t = x.tensor;
  // Negative steps: reverse the axis, then it is a positive-step slice.
  spec.forEach((a, d) => {
    if (a.step < 0) {
      t = tf.reverse(t, d);
      const dim = x.tensor.shape[d] as number;
      spec[d] = { start: dim - 1 - a.start, count: a.count, step: -a.step };
    }
  });
  if (spec.every((a) => a.step === 1)) {
    t = tf.slice(t, spec.map((a) => a.start), spec.map((a) => a.count));
  } else {
    t = tf.stridedSlice(t, spec.map((a) => a.start), spec.map((a) => a.start + (a.count - 1) * a.step + 1), spec.map((a) => a.step));
  }
  return [resultOf(t, x.elem, x.half)];
};

const gather: OpImpl = (node, inputs) => {
  const data = req(node, inputs, 0);
  const idx = req(node, inputs, 1);
  const dShape = shapeOf(data);
  const axis = axisOf(attrInt(node, 'axis', 0), dShape.length, 'Gather axis');
  const dim = dShape[axis] as number;
  const iShape = shapeOf(idx);
  const outShape = [...dShape.slice(0, axis), ...iShape, ...dShape.slice(axis + 1)];
  if (idx.kind === 'host') {
    const indices = idx.data.map((i) => {
      const j = i < 0 ? i + dim : i;
      if (j < 0 || j >= dim) throw new Error(`Gather index ${i} is out of range for a dimension of ${dim}`);
      return j;
    });
    if (data.kind === 'host') {
      const outer = sizeOf(dShape.slice(0, axis));
      const inner = sizeOf(dShape.slice(axis + 1));
      const out: number[] = [];
      for (let o = 0; o < outer; o++) for (const j of indices) for (let k = 0; k < inner; k++) out.push(data.data[(o * dim + j) * inner + k] as number);
      return [host(data.elem, outShape, out)];
    }
    // A run of consecutive indices (position ids, a pooled token) is a slice: cheaper, and its
    // gradient needs no scatter kernel (UnsortedSegmentSum, missing from some tfjs backends).
    const first = indices[0];
    const contiguous = first !== undefined && indices.every((j, k) => j === first + k);
    let t: tf.Tensor;
    if (contiguous) {
      const begin = dShape.map((_, d) => (d === axis ? first : 0));
      const sz = dShape.map((s, d) => (d === axis ? indices.length : s));
      t = tf.slice(data.tensor, begin, sz);
    } else {
      t = tf.gather(data.tensor, tf.tensor1d(indices, 'int32'), axis);
    }
    return [resultOf(tf.reshape(t, outShape), data.elem, data.half)];
  }
  // Data-dependent indices (rare in CLIP): wrap negatives, then gather.
  let it = asElem(idx, 'int');
  it = tf.where(tf.less(it, 0), tf.add(it, tf.scalar(dim, 'int32')), it);
  const t = tf.gather(toTensor(data), tf.reshape(it, [-1]), axis);
  return [resultOf(tf.reshape(t, outShape), data.elem, data.kind === 'tensor' && data.half)];
};

const expand: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const out = broadcastShapes(shapeOf(x), numbersOf(req(node, inputs, 1)));
  if (x.kind === 'host') return [host(x.elem, out, broadcastData(x, out))];
  return [resultOf(tf.broadcastTo(x.tensor, out), x.elem, x.half)];
};

const tile: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const reps = numbersOf(req(node, inputs, 1));
  const t = tf.tile(toTensor(x), reps);
  if (x.kind === 'host') return [host(x.elem, t.shape, Array.from(t.dataSync()))];
  return [resultOf(t, x.elem, x.half)];
};

const cast: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const to = attrInt(node, 'to', DataType.FLOAT);
  const toElem = elemOfType(to);
  if (toElem === undefined) throw new Error(`Cast to ONNX type ${to} is not supported`);
  if (x.kind === 'host') {
    if (toElem === 'bool') return [hostElementwise([x], 'bool', (v) => (v !== 0 ? 1 : 0))];
    if (toElem === 'int') return [host('int', x.shape, x.data)];
    return [resultOf(tf.tensor([...x.data], [...x.shape], 'float32'), 'float', to === DataType.FLOAT16)];
  }
  if (toElem === x.elem) return [{ ...x, half: toElem === 'float' && to === DataType.FLOAT16 }];
  const dtype = toElem === 'float' ? 'float32' : toElem === 'int' ? 'int32' : 'bool';
  // float → int truncates toward zero in ONNX Runtime; tf.cast does the same.
  return [resultOf(tf.cast(x.tensor, dtype), toElem, to === DataType.FLOAT16)];
};

/** Element kind of an ONNX data type, or undefined for strings and unknown codes. */
export function elemOfType(t: number): Elem | undefined {
  switch (t) {
    case DataType.FLOAT:
    case DataType.FLOAT16:
    case DataType.DOUBLE:
    case DataType.BFLOAT16:
      return 'float';
    case DataType.BOOL:
      return 'bool';
    case DataType.INT8:
    case DataType.UINT8:
    case DataType.INT16:
    case DataType.UINT16:
    case DataType.INT32:
    case DataType.UINT32:
    case DataType.INT64:
    case DataType.UINT64:
      return 'int';
    default:
      return undefined;
  }
}

/** A decoded constant tensor as a value: floats become tensors, integers and bools host values. */
export function constantValue(t: TensorProtoData): Value {
  const d = decodeTensor(t);
  if (d.kind === 'float') {
    const value = tensorValue(tf.tensor(d.data, [...d.dims], 'float32'), 'float', t.dataType === DataType.FLOAT16);
    return d.data.length <= 16 ? { ...value, constValues: d.data } : value;
  }
  return host(d.kind, d.dims, d.data);
}

const constantOfShape: OpImpl = (node, inputs) => {
  const dims = inputs[0] ? numbersOf(inputs[0]) : [];
  const t = attr(node, 'value')?.t;
  const d = t ? decodeTensor(t) : ({ kind: 'float', dims: [1], data: new Float32Array(1) } as const);
  const value = d.data[0] ?? 0;
  if (d.kind === 'float') return [resultOf(tf.fill(dims, value, 'float32'), 'float', t?.dataType === DataType.FLOAT16)];
  return [host(d.kind, dims, new Array<number>(sizeOf(dims)).fill(value))];
};

const constant: OpImpl = (node) => {
  const a = (name: string) => attr(node, name);
  const t = a('value')?.t;
  if (t) return [constantValue(t)];
  const f = a('value_float')?.f;
  if (f !== undefined) return [{ ...tensorValue(tf.scalar(f)), constValues: Float32Array.of(f) }];
  const fs = a('value_floats')?.floats;
  if (fs) return [{ ...tensorValue(tf.tensor1d([...fs])), constValues: Float32Array.from(fs) }];
  const i = a('value_int')?.i;
  if (i !== undefined) return [host('int', [], [i])];
  const is = a('value_ints')?.ints;
  if (is) return [host('int', [is.length], [...is])];
  throw new Error('Constant has no value attribute this interpreter reads (value, value_float(s), value_int(s))');
};

const range: OpImpl = (node, inputs) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => numbersOf(req(node, inputs, i))[0] as number) as [number, number, number];
  const n = Math.max(0, Math.ceil((limit - start) / delta));
  const vals = Array.from({ length: n }, (_, k) => start + k * delta);
  if (inputs.slice(0, 3).every((v) => v?.elem === 'int')) return [host('int', [n], vals)];
  return [resultOf(tf.tensor1d(vals, 'float32'), 'float')];
};

const trilu: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const k = inputs[1] ? (numbersOf(inputs[1])[0] ?? 0) : 0;
  const upper = attrInt(node, 'upper', 1) === 1;
  const s = shapeOf(x);
  const [rows, cols] = [s[s.length - 2] ?? 1, s[s.length - 1] ?? 1];
  const keep = (i: number, j: number) => (upper ? j - i >= k : j - i <= k);
  if (x.kind === 'host') {
    const data = x.data.map((v, idx) => (keep(Math.floor(idx / cols) % rows, idx % cols) ? v : 0));
    return [host(x.elem, x.shape, data)];
  }
  const mask = Array.from({ length: rows * cols }, (_, idx) => keep(Math.floor(idx / cols), idx % cols));
  const t = tf.where(tf.tensor2d(mask, [rows, cols], 'bool'), x.tensor, tf.zerosLike(x.tensor));
  return [resultOf(t, x.elem, x.half)];
};

// ---------------------------------------------------------------------------------------------
// Linear algebra

/**
 * ONNX MatMul (NumPy matmul semantics: 1-D operands promoted, batch dims broadcast).
 *
 * @param constantB `b` is a weight (not computed from the graph input): its product then takes
 *   the fast gradient of ./linear.ts, which differentiates with respect to `a` only.
 */
export function matMul(a: tf.Tensor, b: tf.Tensor, constantB = false): tf.Tensor {
  const a1 = a.rank === 1 ? tf.reshape(a, [1, a.shape[0] as number]) : a;
  const b1 = b.rank === 1 ? tf.reshape(b, [b.shape[0] as number, 1]) : b;
  const k = a1.shape[a1.rank - 1] as number;
  const m = a1.shape[a1.rank - 2] as number;
  const n = b1.shape[b1.rank - 1] as number;
  let out: tf.Tensor;
  if (b1.rank === 2) {
    // The common linear layer: fold all leading dims of `a` into rows, one 2-D product.
    const rows = tf.reshape(a1, [-1, k]);
    out = tf.reshape(constantB ? weightMatMul(rows, b1) : tf.matMul(rows, b1), [...a1.shape.slice(0, -1), n]);
  } else {
    const batch = broadcastShapes(a1.shape.slice(0, -2), b1.shape.slice(0, -2));
    const fullA = sameShape(a1.shape.slice(0, -2), batch) ? a1 : tf.broadcastTo(a1, [...batch, m, k]);
    const fullB = sameShape(b1.shape.slice(0, -2), batch) ? b1 : tf.broadcastTo(b1, [...batch, k, n]);
    const nb = sizeOf(batch);
    out = tf.reshape(tf.matMul(tf.reshape(fullA, [nb, m, k]), tf.reshape(fullB, [nb, k, n])), [...batch, m, n]);
  }
  if (a.rank === 1) out = tf.squeeze(out, [out.rank - 2]);
  if (b.rank === 1) out = tf.squeeze(out, [out.rank - 1]);
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const matMulOp: OpImpl = (node, inputs) => {
  const a = req(node, inputs, 0);
  const b = req(node, inputs, 1);
  const constantB = b.kind === 'host' || b.constant === true;
  return [floatResult(matMul(floatOf(a), floatOf(b), constantB), a)];
};

const gemm: OpImpl = (node, inputs) => {
  const a = req(node, inputs, 0);
  let y = tf.matMul(floatOf(a), floatOf(req(node, inputs, 1)), attrInt(node, 'transA', 0) === 1, attrInt(node, 'transB', 0) === 1);
  const alpha = attrFloat(node, 'alpha', 1);
  if (alpha !== 1) y = tf.mul(y, alpha);
  const c = inputs[2];
  if (c) {
    const beta = attrFloat(node, 'beta', 1);
    y = tf.add(y, beta === 1 ? floatOf(c) : tf.mul(floatOf(c), beta));
  }
  return [floatResult(y, a)];
};

/** Conv for 2-D images (N, C, H, W), any group count; tfjs works channels-last, so transpose. */
const conv: OpImpl = (node, inputs, ctx) => {
  const x = req(node, inputs, 0);
  const w = req(node, inputs, 1);
  const xt = floatOf(x);
  const wShape = shapeOf(w);
  if (xt.rank !== 4 || wShape.length !== 4) throw new Error(`only 2-D Conv is supported (input rank ${xt.rank})`);
  const outC = wShape[0] as number;
  const group = attrInt(node, 'group', 1);
  const strides = (attrInts(node, 'strides') ?? [1, 1]) as readonly number[];
  const dil = (attrInts(node, 'dilations') ?? [1, 1]) as readonly number[];
  const autoPad = attr(node, 'auto_pad')?.s ?? 'NOTSET';
  const pads = attrInts(node, 'pads') ?? [0, 0, 0, 0];
  let pad: 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];
  if (autoPad === 'VALID') pad = 'valid';
  else if (autoPad === 'SAME_UPPER') pad = 'same';
  else if (autoPad === 'NOTSET') {
    pad = [[0, 0], [pads[0] ?? 0, pads[2] ?? 0], [pads[1] ?? 0, pads[3] ?? 0], [0, 0]];
  } else throw new Error(`Conv auto_pad ${autoPad} is not supported`);
  // (O, I/g, kh, kw) → (kh, kw, I/g, O), made once for a constant weight.
  const hwio = (): tf.Tensor4D => tf.transpose(floatOf(w), [2, 3, 1, 0]) as tf.Tensor4D;
  const filter = w.kind === 'tensor' && w.constant === true ? (ctx.derived(`${node.index}:hwio`, hwio) as tf.Tensor4D) : hwio();
  const nhwc = tf.transpose(xt, [0, 2, 3, 1]) as tf.Tensor4D;
  const s: [number, number] = [strides[0] ?? 1, strides[1] ?? 1];
  const d: [number, number] = [dil[0] ?? 1, dil[1] ?? 1];
  const conv2d = (xg: tf.Tensor, wg: tf.Tensor): tf.Tensor => tf.conv2d(xg as tf.Tensor4D, wg as tf.Tensor4D, s, pad, 'NHWC', d);
  let y: tf.Tensor;
  if (group === 1) {
    y = conv2d(nhwc, filter);
  } else {
    const ws = tf.split(filter, group, 3);
    y = tf.concat(tf.split(nhwc, group, 3).map((xg, g) => conv2d(xg, ws[g] as tf.Tensor)), 3);
  }
  const bias = inputs[2];
  let out: tf.Tensor = tf.transpose(y, [0, 3, 1, 2]);
  if (bias) out = tf.add(out, tf.reshape(floatOf(bias), [1, outC, 1, 1]));
  return [floatResult(out, x)];
};

/** Marks a value as a graph constant (an initializer or a Constant node's output). */
export function markConstant(v: Value): Value {
  return v.kind === 'tensor' ? { ...v, constant: true } : v;
}

// ---------------------------------------------------------------------------------------------
// Normalisation, softmax, reductions

/** Softmax along `axis`. Opset < 13 flattens to 2-D at `axis` first (the old definition). */
function softmaxLike(log: boolean): OpImpl {
  return (node, inputs, ctx) => {
    const x = req(node, inputs, 0);
    const t = floatOf(x);
    const rank = t.rank;
    const sm = (u: tf.Tensor) => (log ? tf.logSoftmax(u) : tf.softmax(u));
    if (ctx.opset < 13) {
      const a = axisOf(attrInt(node, 'axis', 1), rank);
      const s = t.shape;
      const flat = tf.reshape(t, [sizeOf(s.slice(0, a)), sizeOf(s.slice(a))]);
      return [floatResult(tf.reshape(sm(flat), s), x)];
    }
    const a = axisOf(attrInt(node, 'axis', -1), rank);
    if (a === rank - 1) return [floatResult(sm(t), x)];
    const perm = Array.from({ length: rank }, (_, i) => i);
    perm[a] = rank - 1;
    perm[rank - 1] = a;
    return [floatResult(tf.transpose(sm(tf.transpose(t, perm)), perm), x)];
  };
}

type Reducer = (t: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor;

/** Reduce ops; `axesInputFrom` is the opset from which axes are an input instead of an attribute. */
function reduce(fn: Reducer, axesInputFrom: number): OpImpl {
  return (node, inputs, ctx) => {
    const x = req(node, inputs, 0);
    const t = floatOf(x);
    const keep = attrInt(node, 'keepdims', 1) === 1;
    const axes = ctx.opset >= axesInputFrom ? (inputs[1] ? numbersOf(inputs[1]) : undefined) : attrInts(node, 'axes')?.slice();
    if (!axes || axes.length === 0) {
      if (attrInt(node, 'noop_with_empty_axes', 0) === 1) return [x];
      return [floatResult(fn(t, Array.from({ length: t.rank }, (_, i) => i), keep), x)];
    }
    return [floatResult(fn(t, axes.map((a) => axisOf(a, t.rank)), keep), x)];
  };
}

const layerNorm: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const t = floatOf(x);
  const axis = axisOf(attrInt(node, 'axis', -1), t.rank);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const axes = Array.from({ length: t.rank - axis }, (_, i) => axis + i);
  const { mean, variance } = tf.moments(t, axes, true);
  const inv = tf.rsqrt(tf.add(variance, eps));
  let y = tf.mul(tf.sub(t, mean), inv);
  y = tf.mul(y, floatOf(req(node, inputs, 1)));
  if (inputs[2]) y = tf.add(y, floatOf(inputs[2]));
  return [floatResult(y, x), floatResult(mean, x), floatResult(inv, x)];
};

function argReduce(max: boolean): OpImpl {
  return (node, inputs) => {
    const x = req(node, inputs, 0);
    const s = shapeOf(x);
    const axis = axisOf(attrInt(node, 'axis', 0), s.length);
    const keep = attrInt(node, 'keepdims', 1) === 1;
    const last = attrInt(node, 'select_last_index', 0) === 1;
    const outShape = keep ? s.map((d, i) => (i === axis ? 1 : d)) : s.filter((_, i) => i !== axis);
    if (x.kind === 'host') {
      const outer = sizeOf(s.slice(0, axis));
      const dim = s[axis] as number;
      const inner = sizeOf(s.slice(axis + 1));
      const out: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (let k = 0; k < inner; k++) {
          let best = 0;
          for (let j = 1; j < dim; j++) {
            const v = x.data[(o * dim + j) * inner + k] as number;
            const b = x.data[(o * dim + best) * inner + k] as number;
            if (max ? v > b || (last && v === b) : v < b || (last && v === b)) best = j;
          }
          out.push(best);
        }
      }
      return [host('int', outShape, out)];
    }
    let t = x.tensor;
    const dim = t.shape[axis] as number;
    if (last) t = tf.reverse(t, axis);
    let idx = max ? tf.argMax(t, axis) : tf.argMin(t, axis);
    if (last) idx = tf.sub(tf.scalar(dim - 1, 'int32'), idx);
    return [resultOf(tf.reshape(idx, outShape), 'int')];
  };
}

// ---------------------------------------------------------------------------------------------
// Quantized weights stored as integers (QDQ-style exports: weights only)

const dequantizeLinear: OpImpl = (node, inputs) => {
  const x = req(node, inputs, 0);
  const scale = floatOf(req(node, inputs, 1));
  const zp = inputs[2];
  const s = shapeOf(x);
  const axis = axisOf(attrInt(node, 'axis', 1), Math.max(s.length, 1));
  // Per-axis scale/zero point: shape them to broadcast along `axis`.
  const along = (t: tf.Tensor) => (t.rank === 1 && s.length > 1 ? tf.reshape(t, s.map((d, i) => (i === axis ? d : 1))) : t);
  let y = floatOf(x);
  if (zp) y = tf.sub(y, along(floatOf(zp)));
  return [resultOf(tf.mul(y, along(scale)), 'float')];
};

// ---------------------------------------------------------------------------------------------
// The table

/** Every operator of the default ONNX domain the interpreter evaluates. */
export const OPS: Readonly<Record<string, OpImpl>> = {
  Identity: (node, inputs) => [req(node, inputs, 0)],
  Dropout: (node, inputs) => {
    const x = req(node, inputs, 0);
    return [x, host('bool', shapeOf(x), new Array<number>(sizeOf(shapeOf(x))).fill(1))];
  },
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Shape: shape,
  Size: size,
  Cast: cast,
  Reshape: reshape,
  Flatten: flatten,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  Expand: expand,
  Tile: tile,
  Range: range,
  Trilu: trilu,
  Where: where,
  Add: elementwise((a, b) => a + b, (a, b) => tf.add(a, b)),
  Sub: elementwise((a, b) => a - b, (a, b) => tf.sub(a, b)),
  Mul: elementwise((a, b) => a * b, (a, b) => tf.mul(a, b)),
  Div: elementwise(intDiv, (a, b) => tf.div(a, b)),
  Mod: (node, inputs, ctx) =>
    // fmod = 1: C's fmod (sign of the dividend), required for floats; 0: sign of the divisor.
    attrInt(node, 'fmod', 0) === 1
      ? elementwise((a, b) => a % b, (a, b) => tf.sub(a, tf.mul(b, truncate(tf.div(a, b)))))(node, inputs, ctx)
      : elementwise((a, b) => a - b * Math.floor(a / b), (a, b) => tf.mod(a, b))(node, inputs, ctx),
  Pow: pow,
  Max: elementwise((...xs) => Math.max(...xs), (...ts) => ts.reduce((a, b) => tf.maximum(a, b))),
  Min: elementwise((...xs) => Math.min(...xs), (...ts) => ts.reduce((a, b) => tf.minimum(a, b))),
  Sum: elementwise((...xs) => xs.reduce((a, b) => a + b, 0), (...ts) => ts.reduce((a, b) => tf.add(a, b))), // broadcasts, unlike tf.addN
  Equal: elementwise((a, b) => (a === b ? 1 : 0), (a, b) => tf.equal(a, b), 'bool'),
  Less: elementwise((a, b) => (a < b ? 1 : 0), (a, b) => tf.less(a, b), 'bool'),
  LessOrEqual: elementwise((a, b) => (a <= b ? 1 : 0), (a, b) => tf.lessEqual(a, b), 'bool'),
  Greater: elementwise((a, b) => (a > b ? 1 : 0), (a, b) => tf.greater(a, b), 'bool'),
  GreaterOrEqual: elementwise((a, b) => (a >= b ? 1 : 0), (a, b) => tf.greaterEqual(a, b), 'bool'),
  And: elementwise((a, b) => (a && b ? 1 : 0), (a, b) => tf.logicalAnd(a, b), 'bool'),
  Or: elementwise((a, b) => (a || b ? 1 : 0), (a, b) => tf.logicalOr(a, b), 'bool'),
  Not: elementwise((a) => (a ? 0 : 1), (a) => tf.logicalNot(a), 'bool'),
  Neg: unary((t) => tf.neg(t), (a) => -a),
  Abs: unary((t) => tf.abs(t), (a) => Math.abs(a)),
  Sqrt: unary((t) => tf.sqrt(t)),
  Reciprocal: unary((t) => tf.reciprocal(t)),
  Exp: unary((t) => tf.exp(t)),
  Log: unary((t) => tf.log(t)),
  Sigmoid: unary((t) => tf.sigmoid(t)),
  Tanh: unary((t) => tf.tanh(t)),
  Erf: unary((t) => tf.erf(t)),
  Relu: unary((t) => tf.relu(t)),
  Floor: unary((t) => tf.floor(t)),
  Ceil: unary((t) => tf.ceil(t)),
  Sin: unary((t) => tf.sin(t)),
  Cos: unary((t) => tf.cos(t)),
  Softplus: unary((t) => tf.softplus(t)),
  Gelu: (node, inputs) => {
    const x = req(node, inputs, 0);
    const t = floatOf(x);
    const approx = attr(node, 'approximate')?.s === 'tanh';
    const y = approx
      ? tf.mul(tf.mul(t, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(t, tf.mul(0.044715, tf.pow(t, 3)))))))
      : tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2))));
    return [floatResult(y, x)];
  },
  LeakyRelu: (node, inputs) => {
    const x = req(node, inputs, 0);
    return [floatResult(tf.leakyRelu(floatOf(x), attrFloat(node, 'alpha', 0.01)), x)];
  },
  Clip: clip,
  MatMul: matMulOp,
  Gemm: gemm,
  Conv: conv,
  Softmax: softmaxLike(false),
  LogSoftmax: softmaxLike(true),
  LayerNormalization: layerNorm,
  ReduceMean: reduce((t, a, k) => tf.mean(t, a, k), 18),
  ReduceSum: reduce((t, a, k) => tf.sum(t, a, k), 13),
  ReduceMax: reduce((t, a, k) => tf.max(t, a, k), 18),
  ReduceMin: reduce((t, a, k) => tf.min(t, a, k), 18),
  ReduceProd: reduce((t, a, k) => tf.prod(t, a, k), 18),
  ReduceL2: reduce((t, a, k) => tf.sqrt(tf.sum(tf.square(t), a, k)), 18),
  ReduceSumSquare: reduce((t, a, k) => tf.sum(tf.square(t), a, k), 18),
  ArgMax: argReduce(true),
  ArgMin: argReduce(false),
  DequantizeLinear: dequantizeLinear,
};
