/**
 * Reads a whole ONNX `ModelProto` for interpretation: nodes WITH their attributes, and every
 * initializer WITH its values. ../onnx/graph.ts deliberately skips both (it only needs the node
 * list); the interpreter needs all of it.
 *
 * Initializer values are not converted here: each {@link TensorProtoData} keeps a view of its
 * little-endian bytes into the model buffer (no copy), and {@link decodeTensor} turns it into
 * numbers when the interpreter asks. Field numbers follow onnx/onnx.proto (IR version 10).
 */
import { UnsupportedModelError } from '../onnx/errors';
import { DataType, readTensorProto, type OnnxNode } from '../onnx/graph';
import { ProtobufError, Reader, WireType } from '../onnx/protobuf';
import { halfBitsToFloat32 } from '../onnx/tensors';

/** One `TensorProto`: header and raw little-endian values. */
export interface TensorProtoData {
  readonly name: string;
  readonly dims: readonly number[];
  /** ONNX `TensorProto.DataType`; see {@link DataType}. */
  readonly dataType: number;
  /**
   * `product(dims) × elementSize(dataType)` bytes, little-endian. A view into the model bytes
   * when the file used `raw_data` (possibly unaligned), else freshly packed.
   */
  readonly bytes: Uint8Array;
}

/** One `AttributeProto`; only the fields that were present are set. */
export interface Attribute {
  readonly name: string;
  readonly f?: number;
  readonly i?: number;
  readonly s?: string;
  readonly t?: TensorProtoData;
  readonly floats?: readonly number[];
  readonly ints?: readonly number[];
  readonly strings?: readonly string[];
  /** True when the attribute holds a subgraph (If/Loop/Scan): the interpreter refuses those. */
  readonly hasGraph?: boolean;
}

/** A graph node with everything needed to evaluate it: an {@link OnnxNode} plus its attributes. */
export interface ModelNode extends OnnxNode {
  readonly attrs: ReadonlyMap<string, Attribute>;
}

/** A whole model, ready to interpret. */
export interface ParsedModel {
  /** Opset version per domain (`''` = default ONNX domain). */
  readonly opsets: ReadonlyMap<string, number>;
  /** Nodes of all merged `graph` fields, in order (ONNX requires topological order). */
  readonly nodes: readonly ModelNode[];
  readonly initializers: ReadonlyMap<string, TensorProtoData>;
  /** Graph inputs that are not initializers, e.g. `['pixel_values']`. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

const Graph = { node: 1, initializer: 5, input: 11, output: 12, sparseInitializer: 15 } as const;
const NodeF = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
const Attr = { name: 1, f: 2, i: 3, s: 4, t: 5, g: 6, floats: 7, ints: 8, strings: 9, tensors: 10, graphs: 11 } as const;

/**
 * Parses a model for the interpreter.
 *
 * @param bytes the whole `.onnx` file; initializer views point into it, so keep it alive (and
 *   unmodified) until the initializers have been decoded.
 * @param modelName used in error messages, e.g. `'vision_model_fp16.onnx'`.
 * @throws UnsupportedModelError for bytes that are not an ONNX model, sparse or external weights.
 */
export function parseModel(bytes: Uint8Array, modelName: string): ParsedModel {
  const opsets = new Map<string, number>();
  const nodes: ModelNode[] = [];
  const initializers = new Map<string, TensorProtoData>();
  const inputs: string[] = [];
  const outputs: string[] = [];
  try {
    const r = new Reader(bytes);
    while (!r.done) {
      const tag = r.tag();
      if (tag.field === 7 && tag.wire === WireType.Len) readGraph(r.message(), nodes, initializers, inputs, outputs, modelName);
      else if (tag.field === 8 && tag.wire === WireType.Len) {
        const op = r.message();
        let domain = '';
        let version = 0;
        while (!op.done) {
          const t = op.tag();
          if (t.field === 1 && t.wire === WireType.Len) domain = op.string();
          else if (t.field === 2 && t.wire === WireType.Varint) version = op.int64();
          else op.skip(t.wire);
        }
        opsets.set(domain === 'ai.onnx' ? '' : domain, version);
      } else r.skip(tag.wire);
    }
  } catch (e) {
    if (e instanceof ProtobufError) {
      throw new UnsupportedModelError('not-onnx', `${modelName} could not be read as an ONNX model (${e.message}).`, { cause: e });
    }
    throw e;
  }
  if (nodes.length === 0) throw new UnsupportedModelError('not-onnx', `${modelName} has no graph nodes.`);
  return {
    opsets,
    nodes,
    initializers,
    // Old (IR < 4) files list initializers among the inputs too: those are not inputs to feed.
    inputs: inputs.filter((n) => !initializers.has(n)),
    outputs,
  };
}

function readGraph(
  g: Reader,
  nodes: ModelNode[],
  initializers: Map<string, TensorProtoData>,
  inputs: string[],
  outputs: string[],
  modelName: string,
): void {
  while (!g.done) {
    const tag = g.tag();
    switch (tag.field) {
      case Graph.node:
        nodes.push(readNode(g.message(), nodes.length));
        break;
      case Graph.initializer: {
        const t = readTensor(g.message(), modelName);
        initializers.set(t.name, t);
        break;
      }
      case Graph.input:
        inputs.push(readValueInfoName(g.message()));
        break;
      case Graph.output:
        outputs.push(readValueInfoName(g.message()));
        break;
      case Graph.sparseInitializer:
        throw new UnsupportedModelError('not-onnx', `${modelName} stores sparse weights (sparse_initializer), which the gradient interpreter does not read.`);
      default:
        g.skip(tag.wire);
    }
  }
}

function readValueInfoName(r: Reader): string {
  let name = '';
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 1 && tag.wire === WireType.Len) name = r.string();
    else r.skip(tag.wire);
  }
  return name;
}

function readNode(r: Reader, index: number): ModelNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attrs = new Map<string, Attribute>();
  let name = '';
  let opType = '';
  let domain = '';
  while (!r.done) {
    const tag = r.tag();
    if (tag.wire !== WireType.Len) {
      r.skip(tag.wire);
      continue;
    }
    switch (tag.field) {
      case NodeF.input:
        inputs.push(r.string());
        break;
      case NodeF.output:
        outputs.push(r.string());
        break;
      case NodeF.name:
        name = r.string();
        break;
      case NodeF.opType:
        opType = r.string();
        break;
      case NodeF.attribute: {
        const a = readAttribute(r.message());
        attrs.set(a.name, a);
        break;
      }
      case NodeF.domain:
        domain = r.string();
        break;
      default:
        r.skip(tag.wire);
    }
  }
  return { index, opType, domain: domain === 'ai.onnx' ? '' : domain, name, inputs, outputs, attrs };
}

function readAttribute(r: Reader): Attribute {
  let name = '';
  const out: {
    f?: number;
    i?: number;
    s?: string;
    t?: TensorProtoData;
    floats?: number[];
    ints?: number[];
    strings?: string[];
    hasGraph?: boolean;
  } = {};
  while (!r.done) {
    const tag = r.tag();
    switch (tag.field) {
      case Attr.name:
        name = r.string();
        break;
      case Attr.f:
        out.f = r.float32();
        break;
      case Attr.i:
        out.i = readInt64(r);
        break;
      case Attr.s:
        out.s = r.string();
        break;
      case Attr.t:
        out.t = readTensor(r.message(), 'attribute');
        break;
      case Attr.floats:
        r.repeated(tag.wire, WireType.Fixed32, (x) => (out.floats ??= []).push(x.float32()));
        break;
      case Attr.ints:
        r.repeated(tag.wire, WireType.Varint, (x) => (out.ints ??= []).push(readInt64(x)));
        break;
      case Attr.strings:
        (out.strings ??= []).push(r.string());
        break;
      case Attr.g:
      case Attr.graphs:
        out.hasGraph = true;
        r.skip(tag.wire);
        break;
      default:
        r.skip(tag.wire);
    }
  }
  return { name, ...out };
}

/**
 * An int64 as a JS number. Values beyond ±2^53 (exporters write INT64_MAX/MIN as "to the end"
 * in Slice) are clamped to ±MAX_SAFE_INTEGER, which means the same thing.
 */
function readInt64(r: Reader): number {
  const v = BigInt.asIntN(64, r.varint64());
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(v);
}

function readTensor(r: Reader, modelName: string): TensorProtoData {
  const { name, dims, dataType, external, bytes, byteLength } = readTensorProto(r);
  if (external) {
    throw new UnsupportedModelError('external-data', `Weight "${name}" of ${modelName} is stored outside the .onnx file (ONNX external data), which this app does not load.`);
  }
  if (byteLength === undefined) {
    throw new UnsupportedModelError('not-onnx', `Tensor "${name}" of ${modelName} has data type ${dataType}, which is not a numeric type the interpreter reads.`);
  }
  if (bytes.length !== byteLength) {
    throw new UnsupportedModelError('truncated', `Tensor "${name}" of ${modelName} holds ${bytes.length} bytes but its shape [${dims.join(', ')}] needs ${byteLength}: the model file is damaged.`);
  }
  return { name, dims, dataType, bytes };
}

/** Decoded values of a tensor: floats as float32 (float16/double/bfloat16 converted), integers and bools as numbers. */
export type DecodedTensor =
  | { readonly kind: 'float'; readonly dims: readonly number[]; readonly data: Float32Array }
  | { readonly kind: 'int' | 'bool'; readonly dims: readonly number[]; readonly data: number[] };

/** True for the ONNX floating-point element types. */
export function isFloatType(dataType: number): boolean {
  return dataType === DataType.FLOAT || dataType === DataType.FLOAT16 || dataType === DataType.DOUBLE || dataType === DataType.BFLOAT16;
}

/**
 * Converts a tensor's bytes into numbers. float16 (the `_fp16` exports' weights) becomes float32
 * exactly; int64 becomes JS numbers (clamped to ±2^53, see {@link readInt64}).
 */
export function decodeTensor(t: TensorProtoData): DecodedTensor {
  const { dims, dataType } = t;
  // raw_data views may be unaligned: copy before viewing as a wider typed array.
  const buf = t.bytes.slice().buffer;
  const count = dims.reduce((a, b) => a * b, 1);
  switch (dataType) {
    case DataType.FLOAT:
      return { kind: 'float', dims, data: new Float32Array(buf, 0, count) };
    case DataType.FLOAT16:
      return { kind: 'float', dims, data: halfBitsToFloat32(new Uint16Array(buf, 0, count)) };
    case DataType.BFLOAT16: {
      const bits = new Uint16Array(buf, 0, count);
      const out = new Float32Array(count);
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = (bits[i] as number) << 16;
      return { kind: 'float', dims, data: out };
    }
    case DataType.DOUBLE:
      return { kind: 'float', dims, data: Float32Array.from(new Float64Array(buf, 0, count)) };
    case DataType.INT64:
    case DataType.UINT64: {
      const big = dataType === DataType.INT64 ? new BigInt64Array(buf, 0, count) : new BigUint64Array(buf, 0, count);
      const out: number[] = new Array<number>(count);
      for (let i = 0; i < count; i++) {
        const v = big[i] as bigint;
        out[i] = v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : v < BigInt(Number.MIN_SAFE_INTEGER) ? Number.MIN_SAFE_INTEGER : Number(v);
      }
      return { kind: 'int', dims, data: out };
    }
    case DataType.INT32:
      return { kind: 'int', dims, data: Array.from(new Int32Array(buf, 0, count)) };
    case DataType.UINT32:
      return { kind: 'int', dims, data: Array.from(new Uint32Array(buf, 0, count)) };
    case DataType.INT16:
      return { kind: 'int', dims, data: Array.from(new Int16Array(buf, 0, count)) };
    case DataType.UINT16:
      return { kind: 'int', dims, data: Array.from(new Uint16Array(buf, 0, count)) };
    case DataType.INT8:
      return { kind: 'int', dims, data: Array.from(new Int8Array(buf, 0, count)) };
    case DataType.UINT8:
      return { kind: 'int', dims, data: Array.from(new Uint8Array(buf, 0, count)) };
    case DataType.BOOL:
      return { kind: 'bool', dims, data: Array.from(new Uint8Array(buf, 0, count), (b) => (b ? 1 : 0)) };
    default:
      throw new Error(`tensor "${t.name}" has data type ${dataType}, which the interpreter cannot decode`);
  }
}
