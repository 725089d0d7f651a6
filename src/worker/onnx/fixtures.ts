/**
 * Tiny ONNX models written with our protobuf {@link Writer}, for tests: the shapes of graphs we
 * must recognise or refuse (fused attention, no attention, odd tensor encodings) without needing
 * an exporter. The files are structurally valid ModelProtos; most are not meant to be run.
 */
import { DataType, type OpsetImport } from './graph';
import { UnsupportedModelError } from './errors';
import { Writer } from './protobuf';

/** A node of a synthetic graph. */
export interface FixtureNode {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly domain?: string;
}

/** An initializer of a synthetic graph; exactly one of the data fields is written. */
export interface FixtureTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: number;
  readonly raw?: Uint8Array;
  /** Written packed into `float_data`. */
  readonly floatData?: readonly number[];
  /** Written unpacked into `int32_data` (one field per value), as some writers do. */
  readonly int32Data?: readonly number[];
  /** Written packed into `int64_data`. */
  readonly int64Data?: readonly number[];
  /** Marks the data as external (`data_location = EXTERNAL`). */
  readonly external?: boolean;
}

/** A whole synthetic model. */
export interface FixtureModel {
  readonly nodes: readonly FixtureNode[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly initializers?: readonly FixtureTensor[];
  readonly opsets?: readonly OpsetImport[];
}

/** Serialises a {@link FixtureModel} as a ModelProto, fields in the order exporters use. */
export function fixtureModel(m: FixtureModel): Uint8Array {
  const w = new Writer().int64(1, 8).string(2, 'clip-lens-fixture').string(3, '0');
  w.message(7, (g) => {
    for (const n of m.nodes) {
      g.message(1, (node) => {
        for (const i of n.inputs) node.string(1, i);
        for (const o of n.outputs) node.string(2, o);
        if (n.name) node.string(3, n.name);
        node.string(4, n.opType);
        if (n.domain) node.string(7, n.domain);
      });
    }
    g.string(2, 'fixture');
    for (const t of m.initializers ?? []) g.message(5, (tensor) => writeTensor(tensor, t));
    for (const i of m.inputs) g.message(11, (v) => v.string(1, i).message(2, floatTensorType));
    for (const o of m.outputs) g.message(12, (v) => v.string(1, o).message(2, floatTensorType));
  });
  for (const o of m.opsets ?? [{ domain: '', version: 14 }]) {
    w.message(8, (op) => {
      if (o.domain) op.string(1, o.domain);
      op.int64(2, o.version);
    });
  }
  return w.finish();
}

/** ORT-optimized style: one fused com.microsoft `Attention` per layer, no Softmax anywhere. */
export function fusedAttentionModel(layers = 2): Uint8Array {
  const nodes: FixtureNode[] = [];
  let x = 'hidden_states';
  for (let l = 0; l < layers; l++) {
    nodes.push({
      opType: 'Attention',
      domain: 'com.microsoft',
      name: `Attention_${l}`,
      inputs: [x, `qkv_weight_${l}`, `qkv_bias_${l}`],
      outputs: [`attn_${l}`],
    });
    nodes.push({ opType: 'Add', inputs: [x, `attn_${l}`], outputs: [`residual_${l}`] });
    x = `residual_${l}`;
  }
  nodes.push({ opType: 'MatMul', inputs: [x, 'proj'], outputs: ['embeds'] });
  const initializers = [
    ...Array.from({ length: layers }, (_, l) => [
      { name: `qkv_weight_${l}`, dims: [4, 12], dataType: DataType.FLOAT, raw: new Uint8Array(4 * 12 * 4) },
      { name: `qkv_bias_${l}`, dims: [12], dataType: DataType.FLOAT, raw: new Uint8Array(12 * 4) },
    ]).flat(),
    { name: 'proj', dims: [4, 4], dataType: DataType.FLOAT, raw: new Uint8Array(16 * 4) },
  ];
  return fixtureModel({
    nodes,
    inputs: ['hidden_states'],
    outputs: ['embeds'],
    initializers,
    opsets: [
      { domain: '', version: 14 },
      { domain: 'com.microsoft', version: 1 },
    ],
  });
}

/**
 * Unfused self-attention, the pattern of the stock exports, with meaningless node names:
 * MatMul(q, kᵀ) → Div → Add(mask) → Softmax → MatMul(·, v), plus a classifier Softmax on weights
 * that must not be mistaken for attention.
 */
export function unfusedAttentionModel(layers = 2): Uint8Array {
  const nodes: FixtureNode[] = [];
  let x = 'x';
  for (let l = 0; l < layers; l++) {
    const t = (s: string): string => `t${l}_${s}`;
    nodes.push(
      { opType: 'MatMul', inputs: [x, 'wq'], outputs: [t('q')], name: `n${nodes.length}` },
      { opType: 'MatMul', inputs: [x, 'wk'], outputs: [t('k')] },
      { opType: 'MatMul', inputs: [x, 'wv'], outputs: [t('v')] },
      { opType: 'Transpose', inputs: [t('k')], outputs: [t('kT')] },
      { opType: 'MatMul', inputs: [t('q'), t('kT')], outputs: [t('scores')] },
      { opType: 'Div', inputs: [t('scores'), 'scale'], outputs: [t('scaled')] },
      { opType: 'Add', inputs: [t('scaled'), 'mask'], outputs: [t('masked')] },
      { opType: 'Softmax', inputs: [t('masked')], outputs: [t('p')], name: 'x' },
      { opType: 'MatMul', inputs: [t('p'), t('v')], outputs: [t('ctx')] },
      { opType: 'Add', inputs: [x, t('ctx')], outputs: [t('out')] },
    );
    x = t('out');
  }
  nodes.push(
    { opType: 'MatMul', inputs: [x, 'head'], outputs: ['logits'] },
    { opType: 'Softmax', inputs: ['logits'], outputs: ['probs'] },
  );
  const f32 = (name: string, dims: number[]): FixtureTensor => ({
    name,
    dims,
    dataType: DataType.FLOAT,
    raw: new Uint8Array(dims.reduce((a, b) => a * b, 1) * 4),
  });
  return fixtureModel({
    nodes,
    inputs: ['x', 'mask'],
    outputs: ['probs'],
    initializers: [f32('wq', [4, 4]), f32('wk', [4, 4]), f32('wv', [4, 4]), f32('scale', []), f32('head', [4, 3])],
  });
}

function writeTensor(w: Writer, t: FixtureTensor): void {
  for (const d of t.dims) w.int64(1, d);
  w.int64(2, t.dataType);
  if (t.floatData) {
    const bytes = new Uint8Array(4 * t.floatData.length);
    const view = new DataView(bytes.buffer);
    t.floatData.forEach((v, i) => view.setFloat32(4 * i, v, true));
    w.bytes(4, bytes); // packed fixed32
  }
  for (const v of t.int32Data ?? []) w.int64(5, v); // unpacked: one key per value
  if (t.int64Data) {
    const packed = new Writer();
    for (const v of t.int64Data) packed.rawInt64(v);
    w.bytes(7, packed.finish());
  }
  w.string(8, t.name);
  if (t.raw) w.bytes(9, t.raw);
  if (t.external) {
    w.message(13, (kv) => kv.string(1, 'location').string(2, 'weights.bin'));
    w.int64(14, 1);
  }
}

function floatTensorType(type: Writer): void {
  type.message(1, (tensorType) => tensorType.int64(1, DataType.FLOAT));
}

/** Throws unless `fn` throws an UnsupportedModelError; returns it (for tests of the error). */
export function modelError(fn: () => unknown): UnsupportedModelError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UnsupportedModelError) return e;
    throw new Error(`expected UnsupportedModelError, got ${String(e)}`);
  }
  throw new Error('expected UnsupportedModelError, nothing was thrown');
}
