/**
 * Walks an ONNX `ModelProto` (the bytes of a `.onnx` file) without decoding its weights.
 *
 * The walk reads the node list, graph inputs/outputs and each initializer's header (name, dims,
 * type) and skips every weight by its length prefix, so it is fast and allocation-light even for
 * hundreds of MB. It also validates what it walks (bounds, wire types, required fields), which is
 * how a truncated download or an HTML error page becomes a clear {@link UnsupportedModelError}
 * instead of a confusing failure deep inside ONNX Runtime.
 *
 * Field numbers follow onnx/onnx.proto (IR version 10).
 */
import { UnsupportedModelError } from './errors';
import { ProtobufError, Reader, WireType, type Tag } from './protobuf';

/** `ModelProto` field numbers used here. */
const Model = { irVersion: 1, producerName: 2, producerVersion: 3, graph: 7, opsetImport: 8 } as const;
/** `GraphProto` field numbers used here. */
const Graph = { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13 } as const;
/** `NodeProto` field numbers used here. */
const Node = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
/** `TensorProto` field numbers used here. */
const Tensor = {
  dims: 1,
  dataType: 2,
  floatData: 4,
  int32Data: 5,
  stringData: 6,
  int64Data: 7,
  name: 8,
  rawData: 9,
  doubleData: 10,
  uint64Data: 11,
  externalData: 13,
  dataLocation: 14,
} as const;

/** ONNX `TensorProto.DataType` codes (the ones a CLIP export can contain, plus neighbours). */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

/** Bytes per element for the fixed-size types in {@link DataType}; undefined for strings and unknown codes. */
export function elementSize(dataType: number): number | undefined {
  switch (dataType) {
    case DataType.UINT8:
    case DataType.INT8:
    case DataType.BOOL:
      return 1;
    case DataType.UINT16:
    case DataType.INT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return 2;
    case DataType.FLOAT:
    case DataType.INT32:
    case DataType.UINT32:
      return 4;
    case DataType.INT64:
    case DataType.UINT64:
    case DataType.DOUBLE:
      return 8;
    default:
      return undefined;
  }
}

/** One entry of `ModelProto.opset_import`. */
export interface OpsetImport {
  /** Operator domain; `''` is the default ONNX domain (also spelled `ai.onnx`). */
  readonly domain: string;
  readonly version: number;
}

/** One graph node, as much as is needed to find and check attention. */
export interface OnnxNode {
  /** Position in graph order, counted across all merged `graph` fields. ONNX requires topological order. */
  readonly index: number;
  readonly opType: string;
  /** Operator domain; `''` for the default ONNX domain, e.g. `'com.microsoft'` for ORT contrib ops. */
  readonly domain: string;
  /** Node name; may be empty and must not be relied on. */
  readonly name: string;
  /** Input tensor names; `''` marks an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/** Header of one initializer (a weight): everything but its values. */
export interface InitializerInfo {
  readonly name: string;
  /** Tensor shape, e.g. `[768, 3072]`. */
  readonly dims: readonly number[];
  /** ONNX `TensorProto.DataType` code; see {@link DataType}. */
  readonly dataType: number;
}

/** What a walk over a model finds. Nothing here holds weight data. */
export interface ModelSummary {
  readonly irVersion: number;
  /** `producer_name` and `producer_version` joined by a space, e.g. `'pytorch 1.13.1'`. */
  readonly producer: string;
  readonly opsetImports: readonly OpsetImport[];
  /** Graph name (the last non-empty one, as protobuf merging would give). */
  readonly graphName: string;
  /** All nodes in graph order. */
  readonly nodes: readonly OnnxNode[];
  /** Graph input names in order. Old (IR < 4) files also list initializers here. */
  readonly inputs: readonly string[];
  /** Graph output names in order: what ONNX Runtime returns. */
  readonly outputs: readonly string[];
  readonly initializers: readonly InitializerInfo[];
  /** Number of `graph` fields in the file: 1 for a stock export, more after {@link patchOutputs}-style patches. */
  readonly graphFields: number;
}

/**
 * Walks a model and returns its {@link ModelSummary}.
 *
 * @param bytes the whole `.onnx` file.
 * @throws UnsupportedModelError `not-onnx` or `truncated` when the bytes are not a complete ONNX model.
 */
export function summarizeModel(bytes: Uint8Array): ModelSummary {
  const nodes: OnnxNode[] = [];
  const inputs: string[] = [];
  const outputs: string[] = [];
  const initializers: InitializerInfo[] = [];
  let graphName = '';
  const header = walkModel(bytes, (g) => {
    while (!g.done) {
      const tag = g.tag();
      switch (tag.field) {
        case Graph.node:
          expectWire(tag, WireType.Len, g);
          nodes.push(readNode(g.message(), nodes.length));
          break;
        case Graph.name: {
          expectWire(tag, WireType.Len, g);
          const name = g.string();
          if (name) graphName = name;
          break;
        }
        case Graph.initializer:
          expectWire(tag, WireType.Len, g);
          initializers.push(readTensorHeader(g.message()));
          break;
        case Graph.input:
          expectWire(tag, WireType.Len, g);
          inputs.push(readValueInfoName(g.message()));
          break;
        case Graph.output:
          expectWire(tag, WireType.Len, g);
          outputs.push(readValueInfoName(g.message()));
          break;
        default:
          g.skip(tag.wire);
      }
    }
    return false;
  });
  return { ...header, graphName, nodes, inputs, outputs, initializers };
}

/** One initializer with its values. */
export interface Initializer extends InitializerInfo {
  /**
   * The values as little-endian bytes, `product(dims) × elementSize(dataType)` long.
   * For `raw_data` (what exporters write) this is a view into the model bytes, not a copy, and
   * may be unaligned: copy it (`data.slice()`) before viewing it as a `Float32Array`.
   * Values stored in the typed fields (`float_data`, `int32_data`, …) are packed into a fresh buffer.
   */
  readonly data: Uint8Array;
}

/**
 * Finds one initializer by name and returns its header and values. Other initializers are
 * skipped after comparing their name bytes, so nothing else is decoded or copied.
 *
 * @param bytes the whole `.onnx` file.
 * @param name the initializer (tensor) name, e.g. `'text_projection.weight'`.
 * @returns the initializer, or `undefined` if no initializer has this name.
 * @throws UnsupportedModelError `not-onnx`/`truncated` for a broken file, `external-data` when the
 *   values live in a separate file.
 */
export function readInitializer(bytes: Uint8Array, name: string): Initializer | undefined {
  const wanted = new TextEncoder().encode(name);
  let found: Initializer | undefined;
  walkModel(bytes, (g) => {
    while (!g.done) {
      const tag = g.tag();
      if (tag.field !== Graph.initializer) {
        g.skip(tag.wire);
        continue;
      }
      expectWire(tag, WireType.Len, g);
      const t = g.message();
      if (tensorNameIs(t, wanted)) {
        found = readTensor(t, name);
        return true; // names are unique in a valid graph: stop here
      }
    }
    return false;
  });
  return found;
}

// ---------------------------------------------------------------------------------------------

interface ModelHeader {
  readonly irVersion: number;
  readonly producer: string;
  readonly opsetImports: readonly OpsetImport[];
  readonly graphFields: number;
}

/**
 * Walks the top level of a ModelProto, calling `onGraph` with a reader over each `graph` field.
 * `onGraph` returns true to stop early (then required fields after it are not checked).
 * Converts protobuf-level errors into {@link UnsupportedModelError}.
 */
function walkModel(bytes: Uint8Array, onGraph: (g: Reader) => boolean): ModelHeader {
  try {
    const r = new Reader(bytes);
    let irVersion = 0;
    let producerName = '';
    let producerVersion = '';
    const opsetImports: OpsetImport[] = [];
    let graphFields = 0;
    while (!r.done) {
      const tag = r.tag();
      switch (tag.field) {
        case Model.irVersion:
          expectWire(tag, WireType.Varint, r);
          irVersion = r.int64();
          break;
        case Model.producerName:
          expectWire(tag, WireType.Len, r);
          producerName = r.string();
          break;
        case Model.producerVersion:
          expectWire(tag, WireType.Len, r);
          producerVersion = r.string();
          break;
        case Model.graph:
          expectWire(tag, WireType.Len, r);
          graphFields++;
          if (onGraph(r.message())) return { irVersion, producer: join(producerName, producerVersion), opsetImports, graphFields };
          break;
        case Model.opsetImport:
          expectWire(tag, WireType.Len, r);
          opsetImports.push(readOpset(r.message()));
          break;
        case 4: // domain
        case 6: // doc_string
        case 14: // metadata_props
        case 20: // training_info
        case 25: // functions
          expectWire(tag, WireType.Len, r);
          r.skip(tag.wire);
          break;
        case 5: // model_version
          expectWire(tag, WireType.Varint, r);
          r.skip(tag.wire);
          break;
        default:
          r.skip(tag.wire);
      }
    }
    // Protobuf has no end marker: a file cut at a field boundary parses. These required fields
    // (exporters write ir_version first and opset_import after the graph) catch most such cuts.
    if (irVersion < 1 || graphFields === 0 || opsetImports.length === 0) {
      const missing = [
        irVersion < 1 ? 'ir_version' : '',
        graphFields === 0 ? 'graph' : '',
        opsetImports.length === 0 ? 'opset_import' : '',
      ].filter(Boolean);
      throw new ProtobufError(`no ${missing.join(', ')} field`, bytes.length, looksLikeOnnxStart(bytes));
    }
    return { irVersion, producer: join(producerName, producerVersion), opsetImports, graphFields };
  } catch (e) {
    if (e instanceof ProtobufError) throw notOnnx(bytes, e);
    throw e;
  }
}

function join(...parts: string[]): string {
  return parts.filter(Boolean).join(' ');
}

/** Turns a low-level parse error into a message a person can act on. */
function notOnnx(bytes: Uint8Array, e: ProtobufError): UnsupportedModelError {
  const size = `${bytes.length.toLocaleString('en-US')} bytes`;
  if (bytes.length === 0) {
    return new UnsupportedModelError('not-onnx', 'The model file is empty (0 bytes). Check the model URL, then reload.', {
      cause: e,
    });
  }
  if (e.truncated && looksLikeOnnxStart(bytes)) {
    return new UnsupportedModelError(
      'truncated',
      `The ONNX model file is incomplete or damaged (${size}; at byte ${e.offset}: ${e.detail}). ` +
        'The download was probably cut short: clear the cached model and load it again.',
      { cause: e },
    );
  }
  const text = sniffText(bytes);
  const what =
    text === 'html'
      ? 'It looks like an HTML page — the server probably answered with an error or login page instead of the file.'
      : text === 'json'
        ? 'It looks like JSON — perhaps an API error or a config file was fetched instead of the .onnx file.'
        : text === 'lfs'
          ? 'It is a Git LFS pointer, not the model itself: fetch the file through LFS (e.g. the Hub "resolve" URL).'
          : text === 'text'
            ? 'It looks like a text file.'
            : `It is not a valid ONNX protobuf (at byte ${e.offset}: ${e.detail}).`;
  return new UnsupportedModelError(
    'not-onnx',
    `This file is not an ONNX model (${size}). ${what} Check the model URL or pick an .onnx file.`,
    { cause: e },
  );
}

/** Every exporter (PyTorch, onnx, tf2onnx, optimum) writes `ir_version` (key 0x08) first, with a small value. */
function looksLikeOnnxStart(bytes: Uint8Array): boolean {
  const v = bytes[1];
  return bytes[0] === 0x08 && v !== undefined && v >= 1 && v < 0x80;
}

function sniffText(bytes: Uint8Array): 'html' | 'json' | 'lfs' | 'text' | undefined {
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 256)).trimStart();
  if (head.startsWith('<')) return 'html'; // also XML, which is no better
  if (head.startsWith('version https://git-lfs')) return 'lfs';
  if (/^[{[]/.test(head)) return 'json';
  // Mostly printable ASCII in the first bytes: some text document.
  const sample = bytes.subarray(0, 256);
  let printable = 0;
  for (const b of sample) if ((b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d || b === 0x09) printable++;
  return sample.length > 0 && printable / sample.length > 0.95 ? 'text' : undefined;
}

function expectWire(tag: Tag, wire: WireType, r: Reader): void {
  if (tag.wire !== wire) {
    throw new ProtobufError(`field ${tag.field} has wire type ${tag.wire}, expected ${wire}`, r.pos);
  }
}

function readOpset(r: Reader): OpsetImport {
  let domain = '';
  let version = 0;
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 1) {
      expectWire(tag, WireType.Len, r);
      domain = r.string();
    } else if (tag.field === 2) {
      expectWire(tag, WireType.Varint, r);
      version = r.int64();
    } else {
      r.skip(tag.wire);
    }
  }
  return { domain: domain === 'ai.onnx' ? '' : domain, version };
}

function readNode(r: Reader, index: number): OnnxNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  let name = '';
  let opType = '';
  let domain = '';
  while (!r.done) {
    const tag = r.tag();
    switch (tag.field) {
      case Node.input:
        expectWire(tag, WireType.Len, r);
        inputs.push(r.string());
        break;
      case Node.output:
        expectWire(tag, WireType.Len, r);
        outputs.push(r.string());
        break;
      case Node.name:
        expectWire(tag, WireType.Len, r);
        name = r.string();
        break;
      case Node.opType:
        expectWire(tag, WireType.Len, r);
        opType = r.string();
        break;
      case Node.attribute: // may hold tensors (Constant) or subgraphs: skipped by length
        expectWire(tag, WireType.Len, r);
        r.skip(tag.wire);
        break;
      case Node.domain:
        expectWire(tag, WireType.Len, r);
        domain = r.string();
        break;
      default:
        r.skip(tag.wire);
    }
  }
  if (!opType) throw new ProtobufError(`node ${index} has no op_type`, r.pos);
  return { index, opType, domain: domain === 'ai.onnx' ? '' : domain, name, inputs, outputs };
}

function readValueInfoName(r: Reader): string {
  let name = '';
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 1) {
      expectWire(tag, WireType.Len, r);
      name = r.string();
    } else {
      r.skip(tag.wire); // type (field 2) and doc_string: not needed
    }
  }
  return name;
}

/** Reads name, dims and data_type; skips the values. */
function readTensorHeader(r: Reader): InitializerInfo {
  let name = '';
  const dims: number[] = [];
  let dataType = 0;
  while (!r.done) {
    const tag = r.tag();
    switch (tag.field) {
      case Tensor.dims:
        r.repeated(tag.wire, WireType.Varint, (x) => dims.push(x.int64()));
        break;
      case Tensor.dataType:
        expectWire(tag, WireType.Varint, r);
        dataType = r.int64();
        break;
      case Tensor.name:
        expectWire(tag, WireType.Len, r);
        name = r.string();
        break;
      default:
        r.skip(tag.wire);
    }
  }
  return { name, dims, dataType };
}

/** True if the tensor's `name` field equals `wanted` byte for byte; leaves `r` unchanged. */
function tensorNameIs(r: Reader, wanted: Uint8Array): boolean {
  const t = new Reader(r.bytes, r.pos, r.end);
  let match = false;
  while (!t.done) {
    const tag = t.tag();
    if (tag.field !== Tensor.name) {
      t.skip(tag.wire);
      continue;
    }
    expectWire(tag, WireType.Len, t);
    const { start, end } = t.lengthDelimited();
    match = end - start === wanted.length && wanted.every((b, i) => t.bytes[start + i] === b);
  }
  return match;
}

/** Reads a whole initializer TensorProto (see {@link readTensorProto}) and validates it. */
function readTensor(r: Reader, name: string): Initializer {
  const t = readTensorProto(r);
  if (t.external) {
    throw new UnsupportedModelError(
      'external-data',
      `Weight "${name}" is stored outside the .onnx file (ONNX external data), which this app does not load. ` +
        'Use a single-file export (models under 2 GB are normally exported as one file).',
    );
  }
  if (t.hasStrings || t.byteLength === undefined) {
    throw new UnsupportedModelError('not-onnx', `Weight "${name}" has data type ${t.dataType}, which is not a numeric tensor type.`);
  }
  if (t.bytes.length !== t.byteLength) {
    throw new UnsupportedModelError(
      'truncated',
      `Weight "${name}" holds ${t.bytes.length} bytes but its shape [${t.dims.join(', ')}] needs ${t.byteLength}: the model file is damaged.`,
    );
  }
  return { name: t.name, dims: t.dims, dataType: t.dataType, data: t.bytes };
}

/** A decoded `TensorProto`, not yet validated: callers check the flags and the length. */
export interface TensorProtoFields {
  readonly name: string;
  readonly dims: readonly number[];
  /** ONNX `TensorProto.DataType`; see {@link DataType}. */
  readonly dataType: number;
  /** `data_location` is EXTERNAL: the values live in another file and `bytes` is empty. */
  readonly external: boolean;
  /** The tensor has `string_data`. */
  readonly hasStrings: boolean;
  /**
   * The values as little-endian bytes: a view of `raw_data` into the reader's bytes when present
   * (no copy, possibly unaligned), else packed from the typed repeated field that matches
   * `dataType` (empty when the type has no {@link elementSize}).
   */
  readonly bytes: Uint8Array;
  /** `product(dims) × elementSize(dataType)`, what `bytes.length` must be; undefined for non-numeric types. */
  readonly byteLength: number | undefined;
}

/**
 * Decodes a whole `TensorProto` message: dims, data_type, name, raw_data (as a view), the typed
 * repeated value fields (float/int32/int64/uint64/double), and the string_data / data_location
 * markers. Does not validate them; see {@link TensorProtoFields}.
 */
export function readTensorProto(r: Reader): TensorProtoFields {
  let name = '';
  const dims: number[] = [];
  let dataType = 0;
  let raw: Uint8Array | undefined;
  let external = false;
  const floats: number[] = [];
  const ints: number[] = [];
  const int64s: bigint[] = [];
  const doubles: number[] = [];
  let hasStrings = false;
  while (!r.done) {
    const tag = r.tag();
    switch (tag.field) {
      case Tensor.dims:
        r.repeated(tag.wire, WireType.Varint, (x) => dims.push(x.int64()));
        break;
      case Tensor.dataType:
        expectWire(tag, WireType.Varint, r);
        dataType = r.int64();
        break;
      case Tensor.name:
        expectWire(tag, WireType.Len, r);
        name = r.string();
        break;
      case Tensor.rawData:
        expectWire(tag, WireType.Len, r);
        raw = r.bytesView();
        break;
      case Tensor.floatData:
        r.repeated(tag.wire, WireType.Fixed32, (x) => floats.push(x.float32()));
        break;
      case Tensor.int32Data:
        r.repeated(tag.wire, WireType.Varint, (x) => ints.push(Number(BigInt.asIntN(32, x.varint64()))));
        break;
      case Tensor.int64Data:
        r.repeated(tag.wire, WireType.Varint, (x) => int64s.push(BigInt.asIntN(64, x.varint64())));
        break;
      case Tensor.uint64Data:
        r.repeated(tag.wire, WireType.Varint, (x) => int64s.push(x.varint64()));
        break;
      case Tensor.doubleData:
        r.repeated(tag.wire, WireType.Fixed64, (x) => {
          const at = x.pos;
          x.skip(WireType.Fixed64);
          doubles.push(new DataView(x.bytes.buffer, x.bytes.byteOffset + at, 8).getFloat64(0, true));
        });
        break;
      case Tensor.stringData:
        hasStrings = true;
        r.skip(tag.wire);
        break;
      case Tensor.dataLocation:
        expectWire(tag, WireType.Varint, r);
        external = r.int64() === 1; // TensorProto.DataLocation.EXTERNAL
        break;
      default:
        r.skip(tag.wire);
    }
  }
  const size = elementSize(dataType);
  const byteLength = size === undefined ? undefined : dims.reduce((a, b) => a * b, 1) * size;
  const bytes = raw ?? (size === undefined ? new Uint8Array(0) : packTyped(dataType, size, floats, ints, int64s, doubles));
  return { name, dims, dataType, external, hasStrings, bytes, byteLength };
}

/** Packs TensorProto's typed repeated fields into little-endian bytes of `dataType`; the caller checks the length. */
function packTyped(
  dataType: number,
  size: number,
  floats: number[],
  ints: number[],
  int64s: bigint[],
  doubles: number[],
): Uint8Array {
  // ONNX stores each type in a fixed field; fill from whichever one matches.
  const source: readonly (number | bigint)[] =
    dataType === DataType.FLOAT
      ? floats
      : dataType === DataType.DOUBLE
        ? doubles
        : dataType === DataType.INT64 || dataType === DataType.UINT64 || dataType === DataType.UINT32
          ? int64s
          : ints;
  const out = new Uint8Array(source.length * size);
  const view = new DataView(out.buffer);
  source.forEach((v, i) => {
    const at = i * size;
    if (dataType === DataType.FLOAT) view.setFloat32(at, Number(v), true);
    else if (dataType === DataType.DOUBLE) view.setFloat64(at, Number(v), true);
    else if (size === 8) view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
    else if (size === 4) view.setUint32(at, Number(v) >>> 0, true);
    // int32_data holds int32 and every narrower type (for float16/bfloat16: the bit pattern).
    else if (size === 2) view.setUint16(at, Number(v) & 0xffff, true);
    else view.setUint8(at, Number(v) & 0xff);
  });
  return out;
}
