/**
 * The 4-bit weight layouts of ./blockQuantized.ts are ONNX Runtime's: a one-node MatMulNBits /
 * MatMulBnb4 model fed the identity matrix returns its dequantised weight, W = I·W, and that must
 * equal the weight the interpreter makes at load. Random codes check the layouts in general; the
 * first node of each generated `_q4` / `_q4f16` / `_bnb4` file checks what
 * tools/models/onnx_variants.py wrote, and that it is the fp32 weight to within the format's
 * rounding step.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff } from '../../testing/golden';
import { seededRandom } from '../../testing/scenes';
import { ensureBundledVariants } from '../../testing/variants';
import { DataType } from '../onnx/graph';
import { halfBitsToFloat32, toFloat32 } from '../onnx/tensors';
import { foldBlockQuantizedMatMuls, FP4_CODES, NF4_CODES } from './blockQuantized';
import { OnnxInterpreter, UnsupportedOpError } from './interpreter';
import { decodeTensor, parseModel, type ModelNode, type TensorProtoData } from './onnxModel';
import { synthModel, type SynthAttr, type SynthTensor } from './synthetic';

beforeAll(async () => {
  await tf.setBackend('cpu');
  ort.env.wasm.numThreads = 1;
});

const rand = seededRandom(321);
const bytes = (n: number): number[] => Array.from({ length: n }, () => Math.floor(rand() * 256));
const positive = (n: number): number[] => Array.from({ length: n }, () => 0.01 + rand());

interface OneNode {
  readonly op: 'MatMulNBits' | 'MatMulBnb4';
  readonly k: number;
  readonly n: number;
  readonly attrs: Readonly<Record<string, SynthAttr>>;
  /** Weight inputs after A, in order, by name. */
  readonly weights: readonly (readonly [string, SynthTensor])[];
  /** A (and so scales) in float16, as in `_q4f16` files. */
  readonly half?: boolean;
}

function oneNodeModel(c: OneNode): Uint8Array {
  return synthModel({
    nodes: [{ op: c.op, domain: 'com.microsoft', inputs: ['a', ...c.weights.map(([name]) => name)], outputs: ['y'], attrs: { K: c.k, N: c.n, ...c.attrs } }],
    inputs: [{ name: 'a', type: c.half ? 'float16' : 'float', dims: [c.k, c.k] }],
    outputs: [{ name: 'y', type: c.half ? 'float16' : 'float' }],
    initializers: Object.fromEntries(c.weights),
    opsets: { 'com.microsoft': 1 },
  });
}

/** W as ONNX Runtime dequantises it: its output for A = I (K, K); (K, N) row-major. */
async function ortWeight(model: Uint8Array, k: number, half: boolean): Promise<Float32Array> {
  const eye = new Float32Array(k * k);
  for (let i = 0; i < k; i++) eye[i * k + i] = 1;
  const a = half ? new ort.Tensor('float16', Uint16Array.from(eye, (v) => (v ? 0x3c00 : 0)), [k, k]) : new ort.Tensor('float32', eye, [k, k]);
  const session = await ort.InferenceSession.create(model);
  const y = (await session.run({ a }))['y'] as ort.Tensor;
  await session.release();
  return toFloat32(y);
}

/** W as the interpreter makes it at load (./blockQuantized.ts), (K, N) row-major. */
function ourWeight(model: Uint8Array): { nodes: ModelNode[]; weight: Float32Array; dims: readonly number[] } {
  const parsed = parseModel(model, 'one-node.onnx');
  const folded = foldBlockQuantizedMatMuls(parsed.nodes, parsed.initializers);
  const name = folded.nodes[0]?.inputs[1] ?? '';
  const t = folded.initializers.get(name);
  if (!t) throw new Error(`no initializer ${name}`);
  const d = decodeTensor(t);
  if (d.kind !== 'float') throw new Error('not float');
  return { nodes: folded.nodes, weight: d.data, dims: t.dims };
}

const u8 = (dims: number[], data = bytes(dims.reduce((a, b) => a * b, 1))): SynthTensor => ({ type: 'uint8', dims, data });

const CASES: (OneNode & { readonly name: string })[] = [
  // K = 48 is not a multiple of 32: the last block is half padding.
  { name: 'MatMulNBits 4 bits, block 32, symmetric (no zero points)', op: 'MatMulNBits', k: 48, n: 5, attrs: { bits: 4, block_size: 32 }, weights: [['b', u8([5, 2, 16])], ['s', { type: 'float', dims: [10], data: positive(10) }]] },
  { name: 'MatMulNBits 4 bits, block 16, packed zero points (odd block count)', op: 'MatMulNBits', k: 40, n: 3, attrs: { bits: 4, block_size: 16 }, weights: [['b', u8([3, 3, 8])], ['s', { type: 'float', dims: [9], data: positive(9) }], ['z', u8([6])]] },
  { name: 'MatMulNBits 8 bits, block 32, zero points', op: 'MatMulNBits', k: 64, n: 4, attrs: { bits: 8, block_size: 32 }, weights: [['b', u8([4, 2, 32])], ['s', { type: 'float', dims: [8], data: positive(8).map((v) => v / 64) }], ['z', u8([8])]] },
  { name: 'MatMulNBits 2 bits, block 16, zero points', op: 'MatMulNBits', k: 48, n: 3, attrs: { bits: 2, block_size: 16 }, weights: [['b', u8([3, 3, 4])], ['s', { type: 'float', dims: [9], data: positive(9) }], ['z', u8([3])]] },
  { name: 'MatMulNBits 4 bits, float16 A and scales', op: 'MatMulNBits', k: 32, n: 4, half: true, attrs: { bits: 4, block_size: 32 }, weights: [['b', u8([4, 1, 16])], ['s', { type: 'float16', dims: [4], data: positive(4).map((v) => v / 4) }], ['z', u8([4])]] },
  // N·K = 111 is odd: the last byte holds one code.
  { name: 'MatMulBnb4 NF4, block 16', op: 'MatMulBnb4', k: 37, n: 3, attrs: { block_size: 16, quant_type: 1 }, weights: [['b', u8([56])], ['m', { type: 'float', dims: [7], data: positive(7) }]] },
  { name: 'MatMulBnb4 FP4, block 64', op: 'MatMulBnb4', k: 64, n: 2, attrs: { block_size: 64, quant_type: 0 }, weights: [['b', u8([64])], ['m', { type: 'float', dims: [2], data: positive(2) }]] },
];

describe('4-bit weights dequantised at load equal ONNX Runtime\'s', () => {
  it.each(CASES)('$name', async (c) => {
    const model = oneNodeModel(c);
    const ref = await ortWeight(model, c.k, c.half === true);
    const ours = ourWeight(model);
    expect(ours.nodes.map((n) => [n.domain, n.opType])).toEqual([['', 'MatMul']]);
    expect(ours.dims).toEqual([c.k, c.n]);
    if (c.half) {
      // ORT rounds its float16 output (steps of 2^-11 relative); ours is float32.
      for (let i = 0; i < ref.length; i++) expect(Math.abs((ours.weight[i] as number) - (ref[i] as number))).toBeLessThanOrEqual(Math.abs(ref[i] as number) * 2 ** -11 + 1e-7);
    } else {
      // code·scale rounded once to float32 on both sides: the same numbers.
      expect(maxAbsDiff(ours.weight, ref)).toBe(0);
    }
  });

  it.each([
    { type: 'FP4', quantType: 0, book: FP4_CODES },
    { type: 'NF4', quantType: 1, book: NF4_CODES },
  ])('reads every $type code as ORT does (bitsandbytes\' code book)', async ({ quantType, book }) => {
    // Codes 0..15 in order (two per byte, first in the high nibble), absmax 1: W is the code book.
    const codes = u8([8], [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
    const model = oneNodeModel({ op: 'MatMulBnb4', k: 16, n: 1, attrs: { block_size: 16, quant_type: quantType }, weights: [['b', codes], ['m', { type: 'float', dims: [1], data: [1] }]] });
    expect(maxAbsDiff(await ortWeight(model, 16, false), book)).toBe(0);
    expect(maxAbsDiff(ourWeight(model).weight, book)).toBe(0);
  });

  it('leaves nodes it does not recognise, and the interpreter refuses them by name', () => {
    // bits = 3 is not dequantised here (ONNX Runtime refuses it too, see variants.test.ts).
    const bytes3 = oneNodeModel({ op: 'MatMulNBits', k: 32, n: 2, attrs: { bits: 3, block_size: 32 }, weights: [['b', u8([2, 1, 12])], ['s', { type: 'float', dims: [2], data: [1, 1] }]] });
    expect(() => OnnxInterpreter.load(bytes3, { name: 'onnx/odd_q3.onnx' })).toThrow(UnsupportedOpError);
    expect(() => OnnxInterpreter.load(bytes3, { name: 'onnx/odd_q3.onnx' })).toThrow(/onnx\/odd_q3\.onnx uses ONNX operator com\.microsoft:MatMulNBits that the gradient interpreter does not implement/);
  });
});

// ---------------------------------------------------------------------------------------------

const DIR = ensureBundledVariants();
const read = (file: string): Uint8Array => new Uint8Array(readFileSync(`${DIR}onnx/${file}`));

/** The weight tensors of a node, as SynthTensors (numbers), to rebuild it as a one-node model. */
function synthOf(t: TensorProtoData): SynthTensor {
  const d = decodeTensor(t);
  if (t.dataType === DataType.UINT8) return { type: 'uint8', dims: t.dims, data: d.data as number[] };
  if (t.dataType === DataType.FLOAT) return { type: 'float', dims: t.dims, data: Array.from(d.data) };
  if (t.dataType === DataType.FLOAT16) return { type: 'float16', dims: t.dims, data: Array.from(halfBitsToFloat32(new Uint16Array(t.bytes.slice().buffer))) };
  throw new Error(`unexpected type ${t.dataType}`);
}

describe('generated 4-bit files: ONNX Runtime\'s layout, and the fp32 weights to within one step', () => {
  // Bounds, per element, from the block's own scale: symmetric q4 maps the block's largest
  // magnitude to code 0 (−8·scale), so the opposite extreme may clip at +7: error ≤ |scale|;
  // asymmetric q4 rounds to the nearest step: ≤ scale/2 (float16 scales and weights add ~1e-3
  // relative); NF4's widest gap is between −1 and −0.696: ≤ 0.153·absmax.
  const files = [
    { file: 'vision_model_q4.onnx', op: 'MatMulNBits', step: 1, half: false },
    { file: 'text_model_q4f16.onnx', op: 'MatMulNBits', step: 0.5, half: true },
    { file: 'vision_model_bnb4.onnx', op: 'MatMulBnb4', step: 0.153, half: false },
  ] as const;
  const fp32 = { vision: parseModel(read('vision_model.onnx'), 'vision_model.onnx'), text: parseModel(read('text_model.onnx'), 'text_model.onnx') };

  it.each(files)('$file', async ({ file, op, step, half }) => {
    const parsed = parseModel(read(file), file);
    const node = parsed.nodes.find((n) => n.opType === op);
    if (!node) throw new Error(`no ${op} in ${file}`);
    const k = node.attrs.get('K')?.i ?? 0;
    const n = node.attrs.get('N')?.i ?? 0;
    const attrs = Object.fromEntries([...node.attrs.values()].filter((a) => a.name !== 'K' && a.name !== 'N').map((a) => [a.name, a.i ?? 0]));
    const weights = node.inputs.slice(1).map((name, i) => [`w${i}`, synthOf(parsed.initializers.get(name) as TensorProtoData)] as const);
    const model = oneNodeModel({ op, k, n, attrs, weights, half });
    const ours = ourWeight(model).weight;
    const ref = await ortWeight(model, k, half);
    expect(maxAbsDiff(ours, ref)).toBeLessThanOrEqual(half ? 2 ** -11 * Math.max(...ref.map(Math.abs)) : 0);

    // onnx_variants.py names the packed weight after the fp32 one: `<name>_Q4` / `<name>_Bnb4`.
    const original = (file.startsWith('vision') ? fp32.vision : fp32.text).initializers.get((node.inputs[1] ?? '').replace(/_(Q4|Bnb4)$/, ''));
    const w = original && decodeTensor(original);
    if (w?.kind !== 'float') throw new Error('fp32 weight not found');
    const scales = toFloat32Values(parsed.initializers.get(node.inputs[2] ?? ''));
    const block = node.attrs.get('block_size')?.i ?? 0;
    let worst = 0;
    for (let row = 0; row < k; row++) {
      for (let col = 0; col < n; col++) {
        const scale = op === 'MatMulNBits' ? scales[col * Math.ceil(k / block) + Math.floor(row / block)] : scales[Math.floor((col * k + row) / block)];
        const err = Math.abs((ours[row * n + col] as number) - (w.data[row * n + col] as number));
        worst = Math.max(worst, err / (step * Math.abs(scale as number) * (half ? 1.01 : 1) + 1e-6));
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
  });
});

function toFloat32Values(t: TensorProtoData | undefined): Float32Array {
  const d = t && decodeTensor(t);
  if (d?.kind !== 'float') throw new Error('scales not found');
  return d.data;
}
