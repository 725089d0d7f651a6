/**
 * 4-bit block-quantized weights (ONNX Runtime's contrib operators), dequantised once at load.
 *
 * The `_q4` / `_q4f16` exports replace each `x · W` with a constant weight by
 * `com.microsoft::MatMulNBits`, the `_bnb4` exports by `com.microsoft::MatMulBnb4`: W is stored as
 * 4-bit codes in blocks with one scale per block, and ORT dequantises inside its kernel.
 * {@link foldBlockQuantizedMatMuls} instead makes the float (K, N) weight once and leaves a plain
 * `MatMul(x, W)`: the same weight values ORT multiplies by (each code·scale rounded once to
 * float32), an ordinary gradient, and the fast weight product of ./linear.ts. Memory: 4 bytes per
 * weight element, where the file had half a byte.
 *
 * The layouts (checked against ONNX Runtime Web's kernels in blockQuantized.test.ts):
 * - MatMulNBits (attributes K, N, bits, block_size): B uint8 (N, ceil(K/block_size),
 *   block_size·bits/8), the codes of column n of W in order along K, packed from the low bits of
 *   each byte up (4 bits: element 2i in the low nibble); scales (N·n_blocks) float or float16;
 *   optional zero_points uint8 (N·ceil(n_blocks·bits/8)) packed the same way per column, default
 *   2^(bits−1). W[k, n] = (code − zero_point) · scale of block (n, k / block_size).
 * - MatMulBnb4 (attributes K, N, block_size, quant_type 0 = FP4, 1 = NF4): B uint8
 *   (ceil(N·K/2)), the codes of Wᵀ (N, K) flattened row-major, two per byte with the first in
 *   the high nibble (bitsandbytes' packing); absmax (ceil(N·K/block_size)) per block of that
 *   flattened order. W[k, n] = codebook[code] · absmax.
 */
import { DataType } from '../onnx/graph';
import { isBlockQuantizedMatMul } from '../onnx/structure';
import { halfToFloat } from '../onnx/tensors';
import type { ModelNode, TensorProtoData } from './onnxModel';

/** bitsandbytes' NF4 code book (quantiles of a normal distribution, scaled to [−1, 1]). */
export const NF4_CODES = Float32Array.of(
  -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1,
);

/** bitsandbytes' FP4 code book (1 sign, 2 exponent, 1 mantissa bit), as ORT's MatMulBnb4 reads it. */
export const FP4_CODES = Float32Array.of(
  0, 1 / 192, 2 / 3, 1, 1 / 3, 0.5, 1 / 6, 0.25,
  -0, -1 / 192, -2 / 3, -1, -1 / 3, -0.5, -1 / 6, -0.25,
);

/** Bit widths of MatMulNBits that are dequantised here (the ones checked against ORT). */
const NBITS = new Set([2, 4, 8]);

/**
 * Replaces every MatMulNBits / MatMulBnb4 node whose weight inputs are initializers by
 * `MatMul(A, W)`, W the float32 (K, N) weight dequantised once and added to the initializers
 * (named `<B>/dequantized`, so a weight shared by several nodes is made once). The packed
 * tensors are then unused and never decoded. A node this does not recognise (other bit widths,
 * `g_idx` or `bias` inputs, non-uint8 zero points, non-constant weights) is left in place, and the
 * interpreter refuses it with its op name.
 *
 * @returns the new node list, and the initializers with the float weights added.
 */
export function foldBlockQuantizedMatMuls(
  nodes: readonly ModelNode[],
  initializers: ReadonlyMap<string, TensorProtoData>,
): { nodes: ModelNode[]; initializers: ReadonlyMap<string, TensorProtoData> } {
  const added = new Map<string, TensorProtoData>();
  const out = nodes.map((node) => {
    if (!isBlockQuantizedMatMul(node)) return node;
    const [a, b] = node.inputs;
    const packed = b ? initializers.get(b) : undefined;
    if (!a || !b || !packed) return node;
    const name = `${b}/dequantized`;
    if (!added.has(name)) {
      const weight = node.opType === 'MatMulNBits' ? nBitsWeight(node, initializers) : bnb4Weight(node, initializers);
      if (!weight) return node;
      added.set(name, { name, dims: [weight.k, weight.n], dataType: DataType.FLOAT, bytes: new Uint8Array(weight.data.buffer) });
    }
    return { ...node, opType: 'MatMul', domain: '', inputs: [a, name], attrs: new Map() };
  });
  if (added.size === 0) return { nodes: out, initializers };
  return { nodes: out, initializers: new Map([...initializers, ...added]) };
}

/** A dequantised weight: (K, N) row-major float32. */
interface FloatWeight {
  readonly k: number;
  readonly n: number;
  readonly data: Float32Array;
}

function intAttr(node: ModelNode, name: string): number | undefined {
  return node.attrs.get(name)?.i;
}

/** A float or float16 initializer's values; undefined for anything else. */
function floats(t: TensorProtoData | undefined): Float32Array | undefined {
  if (!t) return undefined;
  const count = t.dims.reduce((x, y) => x * y, 1);
  const buf = t.bytes.slice().buffer; // raw_data views may be unaligned
  if (t.dataType === DataType.FLOAT) return new Float32Array(buf, 0, count);
  if (t.dataType === DataType.FLOAT16) return Float32Array.from(new Uint16Array(buf, 0, count), halfToFloat);
  return undefined;
}

function isUint8(t: TensorProtoData | undefined): t is TensorProtoData {
  return t !== undefined && t.dataType === DataType.UINT8;
}

/** W of a MatMulNBits node (layout in the module comment), or undefined when not recognised. */
function nBitsWeight(node: ModelNode, inits: ReadonlyMap<string, TensorProtoData>): FloatWeight | undefined {
  const k = intAttr(node, 'K');
  const n = intAttr(node, 'N');
  const bits = intAttr(node, 'bits') ?? 4;
  const block = intAttr(node, 'block_size');
  const [, bName, sName, zName, gIdx, bias] = node.inputs;
  if (!k || !n || !block || !NBITS.has(bits) || gIdx || bias) return undefined;
  const packed = inits.get(bName ?? '');
  const scales = floats(inits.get(sName ?? ''));
  const zeros = zName ? inits.get(zName) : undefined;
  const nBlocks = Math.ceil(k / block);
  const blob = (block * bits) / 8;
  const zRow = Math.ceil((nBlocks * bits) / 8);
  if (!isUint8(packed) || packed.bytes.length !== n * nBlocks * blob || scales?.length !== n * nBlocks) return undefined;
  if (zName && (!isUint8(zeros) || zeros.bytes.length !== n * zRow)) return undefined;
  const mask = (1 << bits) - 1;
  /** The `index`-th code of `bytes` read from `offset`, low bits first. */
  const code = (bytes: Uint8Array, offset: number, index: number): number => {
    const bit = index * bits;
    return ((bytes[offset + (bit >> 3)] as number) >> (bit & 7)) & mask;
  };
  const w = new Float32Array(k * n);
  const q = packed.bytes;
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < nBlocks; b++) {
      const scale = scales[col * nBlocks + b] as number;
      const zero = zeros ? code(zeros.bytes, col * zRow, b) : 1 << (bits - 1);
      const offset = (col * nBlocks + b) * blob;
      for (let j = 0; j < block && b * block + j < k; j++) w[(b * block + j) * n + col] = (code(q, offset, j) - zero) * scale;
    }
  }
  return { k, n, data: w };
}

/** W of a MatMulBnb4 node (layout in the module comment), or undefined when not recognised. */
function bnb4Weight(node: ModelNode, inits: ReadonlyMap<string, TensorProtoData>): FloatWeight | undefined {
  const k = intAttr(node, 'K');
  const n = intAttr(node, 'N');
  const block = intAttr(node, 'block_size');
  const book = [FP4_CODES, NF4_CODES][intAttr(node, 'quant_type') ?? -1];
  const [, bName, mName] = node.inputs;
  if (!k || !n || !block || !book || (intAttr(node, 'transB') ?? 1) !== 1) return undefined;
  const packed = inits.get(bName ?? '');
  const absmax = floats(inits.get(mName ?? ''));
  const count = k * n;
  if (!isUint8(packed) || packed.bytes.length !== Math.ceil(count / 2) || absmax?.length !== Math.ceil(count / block)) return undefined;
  const w = new Float32Array(count);
  const q = packed.bytes;
  for (let i = 0; i < count; i++) {
    const byte = q[i >> 1] as number;
    const c = i & 1 ? byte & 15 : byte >> 4;
    // i runs over Wᵀ (N, K): i = col·K + row.
    w[(i % k) * n + Math.floor(i / k)] = (book[c] as number) * (absmax[Math.floor(i / block)] as number);
  }
  return { k, n, data: w };
}
