import { describe, expect, it } from 'vitest';
import { golden, imagesWithAttentions, tensor } from '../testing/golden';
import { identityStack, randomStack, stackFromLayers } from '../testing/attention';
import { allHeads, clsRow, queryRow, rowMap, soloHead } from './attention';
import { reduceLayers, reducedAttentionBytes, reducedBytes, reduceStack, tokenRows, tokenRowsBytes, tokenRowsOfLayers } from './reduce';
import { rolloutMap, rolloutMatrix, rolloutRow } from './rollout';
import { FUSIONS, type AttentionStack, type Grid, type HeadSelection } from './types';

/** Bit-for-bit equality of two float arrays (no tolerance: the reduction must not change a number). */
function expectSameBits(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  let firstDiff = -1;
  for (let i = 0; i < a.length && firstDiff < 0; i++) if (a[i] !== b[i]) firstDiff = i;
  expect(firstDiff, firstDiff < 0 ? '' : `index ${firstDiff}: ${actual[firstDiff]} != ${expected[firstDiff]}`).toBe(-1);
}

/** Head selections worth checking: all, each solo, and a few subsets. */
function selections(heads: number): HeadSelection[] {
  const out: HeadSelection[] = [allHeads(heads)];
  for (let h = 0; h < heads; h++) out.push(soloHead(heads, h));
  out.push(allHeads(heads).map((_, h) => h % 2 === 0));
  out.push(allHeads(heads).map((_, h) => h !== heads - 1));
  return out;
}

const grid: Grid = { width: 4, height: 3 };
const seq = 1 + grid.width * grid.height;
const small = randomStack(4, 3, seq, 21);
const reduced = reduceStack(small);

describe('reduceStack: the same maps as the full stack, bit for bit', () => {
  it('CLS maps for every layer, head selection and fusion', () => {
    for (let l = -1; l < small.layers; l++) {
      for (const heads of selections(small.heads)) {
        for (const fusion of FUSIONS) {
          expectSameBits(rowMap(reduced.cls, l, heads, fusion, grid).values, clsRow(small, l, heads, fusion, grid).values);
        }
      }
    }
  });

  it("a query patch's rows give its query maps for every layer, head selection and fusion", () => {
    for (let token = 0; token < seq; token++) {
      const rows = tokenRows(small, token);
      expect(rows.token).toBe(token);
      for (let l = 0; l < small.layers; l++) {
        for (const heads of selections(small.heads)) {
          for (const fusion of FUSIONS) {
            expectSameBits(rowMap(rows, l, heads, fusion, grid).values, queryRow(small, l, heads, fusion, token, grid).values);
          }
        }
      }
    }
  });

  it('rollout maps for every fusion, discard ratio and query token', () => {
    for (const fusion of FUSIONS) {
      for (const discardRatio of [0, 0.05, 0.3, 0.5, 0.9, 0.95]) {
        for (let q = 0; q < seq; q++) {
          const opts = { fusion, discardRatio };
          expectSameBits(rolloutMap(reduced.fused, grid, opts, q).values, rolloutMap(small, grid, opts, q).values);
        }
      }
    }
  });

  it('rollout rows, full matrices and layer ranges', () => {
    for (const fusion of FUSIONS) {
      for (const [startLayer, endLayer, discardRatio] of [[0, -1, 0], [1, 2, 0.5], [-1, -1, 0.9], [0, 0, 0.2]] as const) {
        const opts = { fusion, discardRatio, startLayer, endLayer };
        expectSameBits(rolloutMatrix(reduced.fused, opts), rolloutMatrix(small, opts));
        for (const q of [0, 5, seq - 1]) expectSameBits(rolloutRow(reduced.fused, q, opts), rolloutRow(small, q, opts));
      }
    }
  });

  it('on real attention: the bundled model on the golden images', () => {
    const g = golden();
    const side = g.patch_grid;
    const goldenGrid = { width: side, height: side };
    const images = imagesWithAttentions();
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const image of images.slice(0, 2)) {
      const first = image.attentions[0];
      if (!first) throw new Error('golden image without attentions');
      const [heads = 0, n = 0] = first.shape;
      const stack = stackFromLayers(image.attentions.map(tensor), heads, n);
      const r = reduceStack(stack);
      for (const fusion of FUSIONS) {
        for (let l = 0; l < stack.layers; l++) {
          expectSameBits(rowMap(r.cls, l, allHeads(heads), fusion, goldenGrid).values, clsRow(stack, l, allHeads(heads), fusion, goldenGrid).values);
        }
        for (const discardRatio of [0, 0.9]) {
          for (const q of [0, 1, n - 1]) {
            const opts = { fusion, discardRatio };
            expectSameBits(rolloutMap(r.fused, goldenGrid, opts, q).values, rolloutMap(stack, goldenGrid, opts, q).values);
          }
        }
      }
      const rows = tokenRows(stack, 10);
      expectSameBits(rowMap(rows, -1, allHeads(heads), 'max', goldenGrid).values, queryRow(stack, -1, allHeads(heads), 'max', 10, goldenGrid).values);
    }
  });

  it('rollout of reduced identity attention is the identity', () => {
    const n = 5;
    const id = new Float32Array(n * n);
    for (let i = 0; i < n; i++) id[i * n + i] = 1;
    for (const fusion of FUSIONS) expect(rolloutMatrix(reduceStack(identityStack(3, 2, n)).fused, { fusion })).toEqual(id);
  });
});

describe('reduceStack: ViT-B/16 shapes (12 layers, 12 heads, 197 tokens)', () => {
  const b16 = randomStack(12, 12, 197, 16);
  const b16Grid = { width: 14, height: 14 };
  const r = reduceStack(b16);

  it(`keeps ${reducedAttentionBytes(12, 12, 197).toLocaleString('en')} bytes instead of 12·12·197²·4 = 22,353,984; ≤ 8 MB`, () => {
    const full = b16.data.byteLength;
    const kept = reducedBytes(r);
    console.log(`B/16 attention per image: full stack ${full} B, reduced ${kept} B (${(kept / 1e6).toFixed(2)} MB), one query patch's rows ${tokenRowsBytes(12, 12, 197)} B`);
    expect(full).toBe(22_353_984);
    expect(kept).toBe(reducedAttentionBytes(12, 12, 197));
    expect(kept).toBe(7_564_800);
    expect(kept).toBeLessThanOrEqual(8e6);
    expect(tokenRows(b16, 1).data.byteLength).toBe(tokenRowsBytes(12, 12, 197));
  });

  it('gives the same CLS maps, rollout maps and query maps', () => {
    for (const fusion of FUSIONS) {
      for (const l of [0, 5, 11]) {
        expectSameBits(rowMap(r.cls, l, allHeads(12), fusion, b16Grid).values, clsRow(b16, l, allHeads(12), fusion, b16Grid).values);
        expectSameBits(rowMap(r.cls, l, soloHead(12, 7), fusion, b16Grid).values, clsRow(b16, l, soloHead(12, 7), fusion, b16Grid).values);
      }
      for (const discardRatio of [0, 0.9]) {
        for (const q of [0, 100]) {
          const opts = { fusion, discardRatio };
          expectSameBits(rolloutMap(r.fused, b16Grid, opts, q).values, rolloutMap(b16, b16Grid, opts, q).values);
        }
      }
    }
    const rows = tokenRows(b16, 150);
    expectSameBits(rowMap(rows, 3, allHeads(12), 'mean', b16Grid).values, queryRow(b16, 3, allHeads(12), 'mean', 150, b16Grid).values);
  });
});

describe('reduceLayers and tokenRowsOfLayers', () => {
  const layersOf = (s: AttentionStack) => {
    const size = s.heads * s.seq * s.seq;
    return Array.from({ length: s.layers }, (_, l) => s.data.slice(l * size, (l + 1) * size));
  };

  it('reduce per-layer arrays (as ORT returns them) like the stack, into separate transferable buffers', () => {
    const r = reduceLayers(layersOf(small), small.heads, small.seq);
    expectSameBits(r.cls.data, reduced.cls.data);
    expectSameBits(r.fused.max, reduced.fused.max);
    expectSameBits(r.fused.min, reduced.fused.min);
    expect(Array.from(r.fused.mean)).toEqual(Array.from(reduced.fused.mean));
    const buffers = new Set([r.cls.data.buffer, r.fused.mean.buffer, r.fused.max.buffer, r.fused.min.buffer]);
    expect(buffers.size).toBe(4);
    expect(reducedBytes(r)).toBe(reducedAttentionBytes(small.layers, small.heads, small.seq));
  });

  it('token rows are the stack rows, in (layer, head, key) order', () => {
    const rows = tokenRowsOfLayers(layersOf(small), small.heads, small.seq, 7);
    for (let l = 0; l < small.layers; l++) {
      for (let h = 0; h < small.heads; h++) {
        for (let k = 0; k < seq; k++) {
          expect(rows.data[(l * small.heads + h) * seq + k]).toBe(small.data[((l * small.heads + h) * seq + 7) * seq + k]);
        }
      }
    }
  });

  it('say what to fix on bad input', () => {
    expect(() => reduceLayers([], 3, seq)).toThrow(/no layers/);
    expect(() => reduceLayers([new Float32Array(10)], 3, seq)).toThrow(/layer 0 has 10 values, expected .* heads×seq×seq = 3×13×13 = 507/);
    expect(() => tokenRows(small, seq)).toThrow(/query token 13 is out of range for seq=13/);
    expect(() => rowMap({ ...reduced.cls, data: new Float32Array(3) }, 0, allHeads(3), 'mean', grid)).toThrow(/layers×heads×seq/);
    expect(() => rowMap(reduced.cls, 0, allHeads(3), 'mean', { width: 2, height: 2 })).toThrow(/1 \+ 4 = 5/);
  });

  it('rollout of reduced attention refuses a head subset (it fused all heads)', () => {
    expect(() => rolloutMap(reduced.fused, grid, { heads: [true, false, true] })).toThrow(/subset of heads needs the full attention stack/);
    expectSameBits(rolloutMap(reduced.fused, grid, { heads: allHeads(3) }).values, rolloutMap(small, grid).values);
    expect(() => rolloutMap({ ...reduced.fused, mean: new Float64Array(2) }, grid)).toThrow(/build it with reduceStack/);
  });
});
