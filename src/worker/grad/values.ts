/**
 * The values an ONNX graph passes between nodes, as the interpreter holds them.
 *
 * Two kinds, because CLIP exports mix two very different kinds of computation:
 * - **host** values: integer and boolean tensors kept as plain JS arrays. Exporters build every
 *   `Reshape` target, `Expand` shape, `Range` and index with `Shape → Gather → Unsqueeze → Concat`
 *   chains; evaluating those in JS keeps them exact, synchronous (no GPU read-back to learn a
 *   shape) and out of the autodiff tape.
 * - **tensor** values: tfjs tensors, for everything that carries activations. Floats of every
 *   ONNX precision (float16, double) are computed as float32; `half` remembers an ONNX float16.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Element kind of a value: ONNX float types → 'float', integer types → 'int', bool → 'bool'. */
export type Elem = 'float' | 'int' | 'bool';

/** An integer/bool tensor in JS: `data` is row-major over `shape` (`[]` = scalar, one element). */
export interface HostValue {
  readonly kind: 'host';
  readonly elem: 'int' | 'bool';
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

/** A tfjs tensor: float32 for 'float', int32 for 'int', bool for 'bool'. */
export interface TensorValue {
  readonly kind: 'tensor';
  readonly elem: Elem;
  readonly tensor: tf.Tensor;
  /** The ONNX type is float16 (values are still float32 here). */
  readonly half: boolean;
  /** Values of a small constant, kept in JS so ops can read them without a GPU read-back. */
  readonly constValues?: Float32Array;
  /** An initializer or Constant output: tensors derived from it may be cached across runs. */
  readonly constant?: boolean;
}

export type Value = HostValue | TensorValue;

export function host(elem: 'int' | 'bool', shape: readonly number[], data: readonly number[]): HostValue {
  return { kind: 'host', elem, shape, data };
}

export function tensorValue(tensor: tf.Tensor, elem: Elem = 'float', half = false): TensorValue {
  return { kind: 'tensor', elem, tensor, half };
}

export function shapeOf(v: Value): number[] {
  return v.kind === 'host' ? [...v.shape] : [...v.tensor.shape];
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The value as a tfjs tensor (host values are uploaded: int32 / bool). */
export function toTensor(v: Value): tf.Tensor {
  if (v.kind === 'tensor') return v.tensor;
  return tf.tensor(v.elem === 'bool' ? v.data.map((x) => x !== 0) : [...v.data], [...v.shape], v.elem === 'bool' ? 'bool' : 'int32');
}

/** The value as a float32 tensor (what float ops need). */
export function toFloat(v: Value): tf.Tensor {
  const t = toTensor(v);
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
}

/**
 * A host value's numbers. Tensor values are read back synchronously: only for the rare graph
 * where a shape is computed through a float op, and then it is a handful of numbers.
 */
export function numbersOf(v: Value): number[] {
  if (v.kind === 'host') return [...v.data];
  if (v.constValues) return Array.from(v.constValues);
  return Array.from(v.tensor.dataSync());
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = (s[i + 1] as number) * (shape[i + 1] as number);
  return s;
}

/** NumPy/ONNX multidirectional broadcasting of shapes; throws when incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out[i] = x === 1 ? y : x;
  }
  return out;
}

/** Reads `v` at every index of the (broadcast) `shape`: the broadcast values, row-major. */
export function broadcastData(v: HostValue, shape: readonly number[]): number[] {
  const n = sizeOf(shape);
  if (sizeOf(v.shape) === n && v.shape.length === shape.length) return [...v.data];
  const rank = shape.length;
  const padded = [...new Array<number>(rank - v.shape.length).fill(1), ...v.shape];
  const srcStrides = stridesOf(padded);
  const out = new Array<number>(n);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < rank; d++) if ((padded[d] as number) !== 1) off += (idx[d] as number) * (srcStrides[d] as number);
    out[i] = v.data[off] as number;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (shape[d] as number)) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Element-wise op over host values with broadcasting. */
export function hostElementwise(
  inputs: readonly HostValue[],
  elem: 'int' | 'bool',
  fn: (...xs: number[]) => number,
): HostValue {
  const shape = inputs.map((v) => v.shape).reduce<readonly number[]>((a, b) => broadcastShapes(a, b), []);
  const cols = inputs.map((v) => broadcastData(v, shape));
  const n = sizeOf(shape);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = fn(...cols.map((c) => c[i] as number));
  return host(elem, shape, out);
}

/** Normalises a possibly negative axis against `rank`. */
export function axisOf(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) throw new Error(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}
