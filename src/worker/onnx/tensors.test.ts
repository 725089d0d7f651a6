import { describe, expect, test } from 'vitest';
import { UnsupportedModelError } from './errors';
import {
  attentionToFloat32,
  checkAttentionShape,
  halfBitsToFloat32,
  halfToFloat,
  layerAttentions,
  toFloat32,
  toLayerAttention,
  type TensorLike,
} from './tensors';

describe('half floats', () => {
  test.each([
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x0400, 2 ** -14], // smallest normal
    [0x3c00, 1],
    [0x3555, 0.333251953125],
    [0xc000, -2],
    [0x7bff, 65504], // largest finite
    [0x7c00, Number.POSITIVE_INFINITY],
    [0xfc00, Number.NEGATIVE_INFINITY],
  ])('0x%s → %s', (bits, value) => {
    expect(Object.is(halfToFloat(bits), value)).toBe(true);
    expect(Object.is(halfBitsToFloat32(Uint16Array.of(bits))[0], value)).toBe(true);
  });

  test('NaN patterns stay NaN', () => {
    for (const bits of [0x7e00, 0x7c01, 0xfe00]) {
      expect(halfToFloat(bits)).toBeNaN();
      expect(halfBitsToFloat32(Uint16Array.of(bits))[0]).toBeNaN();
    }
  });

  test('the bulk converter agrees with the scalar one on all 65,536 patterns', () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const out = halfBitsToFloat32(bits);
    for (let i = 0; i < 65536; i++) {
      const want = halfToFloat(i);
      const got = out[i] as number;
      if (Number.isNaN(want)) expect(got).toBeNaN();
      else expect(Object.is(got, want), `0x${i.toString(16)}`).toBe(true);
    }
  });

  test('writes into a given output and checks its length', () => {
    const out = new Float32Array(2);
    expect(halfBitsToFloat32(Uint16Array.of(0x3c00, 0x4000), out)).toBe(out);
    expect([...out]).toEqual([1, 2]);
    expect(() => halfBitsToFloat32(Uint16Array.of(1), out)).toThrow(RangeError);
  });
});

describe('toFloat32', () => {
  test('float32 data is returned as is (no copy)', () => {
    const data = Float32Array.of(1, 2, 3);
    expect(toFloat32({ type: 'float32', data, dims: [3] })).toBe(data);
  });

  test('float16 as Uint16Array bits (what ORT gives without Float16Array)', () => {
    expect([...toFloat32({ type: 'float16', data: Uint16Array.of(0x3c00, 0xbc00, 0x0001), dims: [3] })]).toEqual([1, -1, 2 ** -24]);
  });

  test('other types are refused', () => {
    expect(() => toFloat32({ type: 'int64', data: new BigInt64Array(1), dims: [1] })).toThrow(/float32 or float16.*int64/);
    expect(() => toFloat32({ type: 'float32', data: [1, 2], dims: [2] })).toThrow(TypeError);
  });
});

describe('attention shapes', () => {
  const expected = { batch: 2, heads: 3, layer: 5, name: 'softmax_5' };

  test('rank 3 (batch·heads, seq, seq) and rank 4 (batch, heads, seq, seq) are accepted', () => {
    expect(checkAttentionShape([6, 7, 7], expected)).toEqual({ batch: 2, heads: 3, seq: 7 });
    expect(checkAttentionShape([2, 3, 7, 7], expected)).toEqual({ batch: 2, heads: 3, seq: 7 });
  });

  test.each([
    [[6, 7], /rank 2/],
    [[1, 2, 3, 7, 7], /rank 5/],
    [[6, 7, 8], /last two dimensions/],
    [[5, 7, 7], /not divisible by the batch size 2/],
    [[8, 7, 7], /4 heads, not 3/],
    [[3, 2, 7, 7], /dimension 0 is not the batch size 2/],
    [[2, 4, 7, 7], /dimension 1 is not the head count 3/],
    [[0, 7, 7], /not a positive integer/],
  ])('%j is refused, naming the layer', (dims, why) => {
    try {
      checkAttentionShape(dims, expected);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(UnsupportedModelError);
      const err = e as UnsupportedModelError;
      expect(err.reason).toBe('attention-shape');
      expect(err.layer).toBe(5);
      expect(err.message).toMatch(/^Layer 5 attention \("softmax_5"\) has shape/);
      expect(err.message).toMatch(why);
    }
  });

  test('toLayerAttention views (batch·heads, seq, seq) as (batch, heads, seq, seq) without copying', () => {
    const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const t: TensorLike = { type: 'float32', data, dims: [6, 2, 2] };
    const a = toLayerAttention(t, expected);
    expect(a.shape).toEqual([2, 3, 2, 2]);
    expect(a.data).toBe(data);
    // Element (b=1, h=2, q=1, k=0) is at ((1·3 + 2)·2 + 1)·2 + 0 = 22.
    expect(a.data[((1 * 3 + 2) * 2 + 1) * 2 + 0]).toBe(22);
    expect(() => toLayerAttention({ type: 'float32', data: new Float32Array(5), dims: [6, 2, 2] }, expected)).toThrow(/holds 5 values/);
  });

  test('attentionToFloat32 regroups per-layer tensors into per-item (layers, heads, seq, seq) stacks', () => {
    const batch = 2;
    const heads = 3;
    const seq = 2;
    const layers = 4;
    // value encodes (layer, b, h, q, k) so every element's destination can be checked.
    const code = (l: number, b: number, h: number, q: number, k: number): number => l * 10000 + b * 1000 + h * 100 + q * 10 + k;
    const tensors = Array.from({ length: layers }, (_, l) => {
      const data = new Float32Array(batch * heads * seq * seq);
      for (let b = 0; b < batch; b++)
        for (let h = 0; h < heads; h++)
          for (let q = 0; q < seq; q++)
            for (let k = 0; k < seq; k++) data[((b * heads + h) * seq + q) * seq + k] = code(l, b, h, q, k);
      return { type: 'float32', data, dims: [batch * heads, seq, seq] };
    });
    const stacks = attentionToFloat32(tensors, batch, heads);
    expect(stacks).toHaveLength(batch);
    stacks.forEach((s, b) => {
      expect([s.layers, s.heads, s.seq]).toEqual([layers, heads, seq]);
      for (let l = 0; l < layers; l++)
        for (let h = 0; h < heads; h++)
          for (let q = 0; q < seq; q++)
            for (let k = 0; k < seq; k++) expect(s.data[((l * heads + h) * seq + q) * seq + k]).toBe(code(l, b, h, q, k));
    });
    // Each stack owns its buffer, so it can be transferred on its own.
    expect(stacks[0]?.data.buffer).not.toBe(stacks[1]?.data.buffer);
  });

  test('attentionToFloat32 names the layer that does not fit', () => {
    const ok = { type: 'float32', data: new Float32Array(3 * 4), dims: [3, 2, 2] };
    const bad = { type: 'float32', data: new Float32Array(3 * 9), dims: [3, 3, 3] };
    expect(() => attentionToFloat32([ok, bad], 1, 3)).toThrow(/^Layer 1 attention has sequence length 3, layer 0 has 2/);
    expect(() => attentionToFloat32([ok, ok], 1, 4, ['a', 'b'])).toThrow(/^Layer 0 attention \("a"\)/);
  });

  test('layerAttentions validates one run and returns each layer as it is (no copy for float32)', () => {
    const a = new Float32Array(3 * 4).map((_, i) => i);
    const b = new Float32Array(3 * 4).map((_, i) => 100 + i);
    const out = layerAttentions([{ type: 'float32', data: a, dims: [3, 2, 2] }, { type: 'float32', data: b, dims: [1, 3, 2, 2] }], 3);
    expect([out.heads, out.seq]).toEqual([3, 2]);
    expect(out.layers[0]).toBe(a);
    expect(out.layers[1]).toBe(b);
    // float16 bits are converted: 0x3c00 = 1.
    const half = layerAttentions([{ type: 'float16', data: new Uint16Array(4).fill(0x3c00), dims: [1, 2, 2] }], 1);
    expect(Array.from(half.layers[0] ?? [])).toEqual([1, 1, 1, 1]);
    const bad = { type: 'float32', data: new Float32Array(3 * 9), dims: [3, 3, 3] };
    expect(() => layerAttentions([{ type: 'float32', data: a, dims: [3, 2, 2] }, bad], 3)).toThrow(/^Layer 1 attention has sequence length 3, layer 0 has 2/);
    expect(() => layerAttentions([{ type: 'float32', data: a, dims: [3, 2, 2] }], 3 * 2)).toThrow(/^Layer 0 attention/);
  });
});
