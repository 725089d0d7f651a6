/**
 * Small ONNX models with node attributes, written with our protobuf Writer: test fixtures that
 * exercise operators the bundled model does not use (Gemm, LayerNormalization, Split, …), run
 * by both ONNX Runtime and the interpreter. Not used by the app.
 */
import { DataType } from '../onnx/graph';
import { Writer } from '../onnx/protobuf';

/** Element types a synthetic tensor can have. */
export type SynthType = 'float' | 'float16' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';

const TYPE_CODE: Record<SynthType, number> = {
  float: DataType.FLOAT,
  float16: DataType.FLOAT16,
  int64: DataType.INT64,
  int32: DataType.INT32,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
  bool: DataType.BOOL,
};

export interface SynthTensor {
  readonly type: SynthType;
  readonly dims: readonly number[];
  readonly data: readonly number[];
}

/** Attribute values: an int, `{ f }` for a float, int or float lists, a string, or a tensor. */
export type SynthAttr =
  | number
  | { readonly f: number }
  | readonly number[]
  | { readonly floats: readonly number[] }
  | string
  | { readonly tensor: SynthTensor };

export interface SynthNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: Readonly<Record<string, SynthAttr>>;
  readonly domain?: string;
}

export interface SynthModel {
  readonly nodes: readonly SynthNode[];
  readonly inputs: readonly { readonly name: string; readonly type: SynthType; readonly dims: readonly number[] }[];
  readonly outputs: readonly { readonly name: string; readonly type: SynthType }[];
  readonly initializers?: Readonly<Record<string, SynthTensor>>;
  readonly opset?: number;
  /** Opsets of other domains, e.g. `{ 'com.microsoft': 1 }` for ONNX Runtime's contrib ops. */
  readonly opsets?: Readonly<Record<string, number>>;
}

function halfBits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign; // tiny values: zero is enough for fixtures
  if (exp >= 31) return sign | 0x7c00;
  const rounded = (exp << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  return sign | (rest > 0x1000 || (rest === 0x1000 && rounded & 1) ? rounded + 1 : rounded);
}

function rawBytes(t: SynthTensor): Uint8Array {
  const n = t.data.length;
  switch (t.type) {
    case 'float':
      return new Uint8Array(Float32Array.from(t.data).buffer);
    case 'float16':
      return new Uint8Array(Uint16Array.from(t.data, halfBits).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(t.data, (v) => BigInt(v)).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(t.data).buffer);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(t.data);
    case 'int8':
      return new Uint8Array(Int8Array.from(t.data).buffer, 0, n);
  }
}

function writeTensor(w: Writer, name: string, t: SynthTensor): void {
  for (const d of t.dims) w.int64(1, d);
  w.int64(2, TYPE_CODE[t.type]);
  if (name) w.string(8, name);
  w.bytes(9, rawBytes(t));
}

function isIntList(v: SynthAttr): v is readonly number[] {
  return Array.isArray(v);
}

function writeAttr(w: Writer, name: string, v: SynthAttr): void {
  w.string(1, name);
  if (typeof v === 'number') w.int64(3, v).int64(20, 2);
  else if (typeof v === 'string') w.string(4, v).int64(20, 3);
  else if (isIntList(v)) {
    for (const x of v) w.int64(8, x);
    w.int64(20, 7);
  } else if ('f' in v) w.float32(2, v.f).int64(20, 1);
  else if ('floats' in v) {
    for (const x of v.floats) w.float32(7, x);
    w.int64(20, 6);
  } else {
    w.message(5, (t) => writeTensor(t, '', v.tensor));
    w.int64(20, 4);
  }
}

function valueInfo(w: Writer, name: string, type: SynthType, dims?: readonly number[]): void {
  w.string(1, name);
  w.message(2, (tp) =>
    tp.message(1, (tt) => {
      tt.int64(1, TYPE_CODE[type]);
      if (dims) tt.message(2, (shape) => dims.forEach((d) => shape.message(1, (dim) => dim.int64(1, d))));
    }),
  );
}

/** Serialises a {@link SynthModel} as a ModelProto (IR 8). */
export function synthModel(m: SynthModel): Uint8Array {
  const w = new Writer().int64(1, 8).string(2, 'clip-lens-synthetic');
  w.message(7, (g) => {
    m.nodes.forEach((n, i) =>
      g.message(1, (node) => {
        for (const x of n.inputs) node.string(1, x);
        for (const x of n.outputs) node.string(2, x);
        node.string(3, `n${i}_${n.op}`);
        node.string(4, n.op);
        for (const [k, v] of Object.entries(n.attrs ?? {})) node.message(5, (a) => writeAttr(a, k, v));
        if (n.domain) node.string(7, n.domain);
      }),
    );
    g.string(2, 'synthetic');
    for (const [name, t] of Object.entries(m.initializers ?? {})) g.message(5, (tw) => writeTensor(tw, name, t));
    for (const i of m.inputs) g.message(11, (v) => valueInfo(v, i.name, i.type, i.dims));
    for (const o of m.outputs) g.message(12, (v) => valueInfo(v, o.name, o.type));
  });
  w.message(8, (op) => op.int64(2, m.opset ?? 17));
  for (const [domain, version] of Object.entries(m.opsets ?? {})) w.message(8, (op) => op.string(1, domain).int64(2, version));
  return w.finish();
}
