/**
 * Block inputs found by structure: on every bundled file (names are never used to find them,
 * only to check the answer is the tensor a person would point at), and on small graphs that
 * are shaped differently. The values ORT gives there are checked in ../grad/blockStart.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { modelFile } from '../../testing/golden';
import { attentionSoftmaxOf } from './attention';
import { fixtureModel, fusedAttentionModel, unfusedAttentionModel, type FixtureNode } from './fixtures';
import { DataType, summarizeModel, type ModelSummary } from './graph';
import { findBlockInputs, GraphIndex, startsExactly } from './structure';

const FILES = ['', '_fp16', '_quantized'].flatMap((v) => [`onnx/vision_model${v}.onnx`, `onnx/text_model${v}.onnx`]);

describe('findBlockInputs on the bundled files', () => {
  it.each(FILES)('%s: one residual stream per block, read by its first LayerNorm and its residual Add', (file) => {
    const model = summarizeModel(modelFile(file));
    const attention = attentionSoftmaxOf(model);
    const found = findBlockInputs(model, attention);
    if (!found) throw new Error('no block inputs');
    expect(found.inputs.length).toBe(attention.layers.length);
    const g = new GraphIndex(model);
    found.inputs.forEach((input, l) => {
      if (!input) throw new Error(`block ${l}: no input`);
      // Read by a LayerNorm (exported as ReduceMean → Sub …) and by the residual Add.
      const readers = (g.consumers.get(input) ?? []).map((n) => n.opType).sort();
      expect(readers).toEqual(expect.arrayContaining(['Add', 'ReduceMean', 'Sub']));
      // Upstream of its block's Softmax, downstream of the previous one.
      expect(g.downstream([input]).has(attention.softmaxOutputs[l] as string)).toBe(true);
      if (l > 0) expect(g.downstream([attention.softmaxOutputs[l - 1] as string]).has(input)).toBe(true);
    });
    // The exporter's names agree (a check of the answer, not how it was found).
    const text = file.includes('text');
    expect(found.inputs[0]).toBe(text ? '/text_model/Add_output_0' : '/vision_model/pre_layrnorm/Add_1_output_0');
    expect(found.inputs[1]).toBe(`/${text ? 'text' : 'vision'}_model/encoder/layers.0/Add_1_output_0`);
    // The text encoder pools at ArgMax(input_ids): a pass from a block input still reads the ids.
    expect(found.readsInput.every((r) => r === text)).toBe(true);
  });

  it('starting there is exact for fp32 and fp16 graphs, not for dynamically quantized ones', () => {
    expect(FILES.map((f) => startsExactly(summarizeModel(modelFile(f))))).toEqual([true, true, true, true, false, false]);
  });
});

/**
 * Pre-LayerNorm blocks with an out-projection, in the exporters' node vocabulary:
 * x → LN → q, k, v → softmax(q·kᵀ)·v → ·Wo → + x → (MLP) → + …; `skip` makes the head also read
 * block 0's MLP output, so later blocks cannot start without block 0.
 */
function blocksModel(layers: number, options: { skip?: boolean } = {}): ModelSummary {
  const nodes: FixtureNode[] = [];
  let x = 'input';
  const weights: string[] = [];
  const w = (name: string) => {
    weights.push(name);
    return name;
  };
  for (let l = 0; l < layers; l++) {
    const t = (s: string): string => `b${l}_${s}`;
    nodes.push(
      { opType: 'ReduceMean', inputs: [x], outputs: [t('mean')] },
      { opType: 'Sub', inputs: [x, t('mean')], outputs: [t('ln')] },
      { opType: 'MatMul', inputs: [t('ln'), w(t('wq'))], outputs: [t('q')] },
      { opType: 'MatMul', inputs: [t('ln'), w(t('wk'))], outputs: [t('k')] },
      { opType: 'MatMul', inputs: [t('ln'), w(t('wv'))], outputs: [t('v')] },
      { opType: 'Transpose', inputs: [t('k')], outputs: [t('kT')] },
      { opType: 'MatMul', inputs: [t('q'), t('kT')], outputs: [t('scores')] },
      { opType: 'Softmax', inputs: [t('scores')], outputs: [t('p')] },
      { opType: 'MatMul', inputs: [t('p'), t('v')], outputs: [t('ctx')] },
      { opType: 'MatMul', inputs: [t('ctx'), w(t('wo'))], outputs: [t('o')] },
      { opType: 'Add', inputs: [x, t('o')], outputs: [t('h')] },
      { opType: 'MatMul', inputs: [t('h'), w(t('w1'))], outputs: [t('m')] },
      { opType: 'Add', inputs: [t('h'), t('m')], outputs: [t('out')] },
    );
    x = t('out');
  }
  if (options.skip) nodes.push({ opType: 'Add', inputs: [x, 'b0_m'], outputs: ['mixed'] });
  nodes.push({ opType: 'MatMul', inputs: [options.skip ? 'mixed' : x, w('proj')], outputs: ['embeds'] });
  return summarizeModel(fixtureModel({
    nodes,
    inputs: ['input'],
    outputs: ['embeds'],
    initializers: weights.map((name) => ({ name, dims: [4, 4], dataType: DataType.FLOAT, raw: new Uint8Array(64) })),
  }));
}

describe('findBlockInputs on other graphs', () => {
  it('finds the graph input for block 0 and each block output after it', () => {
    expect(findBlockInputs(blocksModel(3))).toEqual({ inputs: ['input', 'b0_out', 'b1_out'], readsInput: [false, false, false] });
  });

  it('refuses blocks whose continuation reads an earlier block', () => {
    expect(findBlockInputs(blocksModel(3, { skip: true }))).toEqual({ inputs: ['input', undefined, undefined], readsInput: [false, false, false] });
  });

  it('gives up (undefined) without the structure: no out-projection, fused or no attention', () => {
    expect(findBlockInputs(summarizeModel(unfusedAttentionModel()))).toBeUndefined();
    expect(findBlockInputs(summarizeModel(fusedAttentionModel()))).toBeUndefined();
    expect(findBlockInputs(blocksModel(0))).toBeUndefined();
  });
});
