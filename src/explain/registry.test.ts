import { describe, expect, it } from 'vitest';
import { allHeads, clsRow, queryRow, soloHead, textRow } from './attention';
import { randomStack } from '../testing/attention';
import { defaultOf, resolveOptions } from './method';
import { EXPLAIN_METHODS, getMethod } from './registry';
import { rolloutMap, rolloutRow } from './rollout';

const grid = { width: 3, height: 3 };
const vision = randomStack(4, 2, 10, 21);
const text = randomStack(3, 2, 6, 22, { causal: true });

describe('explanation registry', () => {
  it('has unique ids and documented entries whose defaults are valid', () => {
    const ids = EXPLAIN_METHODS.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['raw-attention', 'rollout']));
    for (const m of EXPLAIN_METHODS) {
      expect(m.label && m.description && m.citation).toBeTruthy();
      expect(m.needs.length).toBeGreaterThan(0);
      const defaults = resolveOptions(m.id, m.options);
      for (const [key, spec] of Object.entries(m.options)) expect(defaults[key]).toEqual(defaultOf(spec));
    }
  });

  it('returns null when a needed tensor is missing', () => {
    for (const m of EXPLAIN_METHODS) {
      expect(m.compute({ grid })).toBeNull();
      expect(m.tokens?.compute({ grid, vision })).toBeNull();
    }
  });

  it('raw attention: last layer, all heads, mean by default; options and clicked patch respected', () => {
    const m = getMethod('raw-attention');
    expect(m.compute({ grid, vision })).toEqual(clsRow(vision, 3, allHeads(2), 'mean', grid));
    expect(m.compute({ grid, vision }, { layer: 1, heads: [false, true], fusion: 'max' })).toEqual(
      clsRow(vision, 1, soloHead(2, 1), 'max', grid),
    );
    expect(m.compute({ grid, vision, queryPatch: 4 })).toEqual(queryRow(vision, -1, allHeads(2), 'mean', 5, grid));
    expect(m.tokens?.compute({ grid, text }, { textLayer: 0 })).toEqual(textRow(text, 0, allHeads(2), 'mean'));
  });

  it('rollout: all layers by default; layer range, discard and clicked patch respected', () => {
    const m = getMethod('rollout');
    expect(m.compute({ grid, vision })).toEqual(rolloutMap(vision, grid));
    const opts = { fusion: 'min', discardRatio: 0.5, startLayer: 1, endLayer: 2 } as const;
    expect(m.compute({ grid, vision, queryPatch: 2 }, opts)).toEqual(rolloutMap(vision, grid, opts, 3));
    expect(m.tokens?.compute({ grid, text })).toEqual(rolloutRow(text, 5));
  });

  it('rejects unknown methods and bad options, saying what is allowed', () => {
    expect(() => getMethod('gradcam')).toThrow(/known: raw-attention, rollout/);
    const m = getMethod('rollout');
    expect(() => m.compute({ grid, vision }, { lyaer: 1 })).toThrow(/no option "lyaer"; its options are: fusion, discardRatio/);
    expect(() => m.compute({ grid, vision }, { fusion: 'median' })).toThrow(/'mean', 'max', 'min'/);
    expect(() => m.compute({ grid, vision }, { discardRatio: 2 })).toThrow(/\[0, 0\.99\]/);
    expect(() => m.compute({ grid, vision }, { startLayer: 1.5 })).toThrow(/integer layer/);
    expect(() => m.compute({ grid, vision }, { heads: [true] })).toThrow(/2 heads/);
    expect(() => m.compute({ grid, vision, queryPatch: 9 })).toThrow(/use 0\.\.8, or omit it/);
  });
});
