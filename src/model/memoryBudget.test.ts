import { describe, expect, it } from 'vitest';
import { DEFAULT_DEVICE_MEMORY_GB, modelBudgetBytes, tooBig } from './memoryBudget';
import { BACKEND_PREFERENCE, type RepoVariant } from './variants';

const B32: RepoVariant[] = [
  { variant: 'fp32', bytes: 606e6 }, { variant: 'fp16', bytes: 303e6 }, { variant: 'q8', bytes: 154e6 }, { variant: 'q4', bytes: null },
];
const L14: RepoVariant[] = [{ variant: 'fp32', bytes: 1707e6 }, { variant: 'fp16', bytes: 854e6 }, { variant: 'q8', bytes: 432e6 }];

describe('the memory budget of a model', () => {
  it('is a quarter of the device memory, 4 GB assumed where the browser does not say', () => {
    expect(modelBudgetBytes(8)).toBe(2e9);
    expect(modelBudgetBytes(0.5)).toBe(125e6);
    expect(modelBudgetBytes(undefined)).toBe(DEFAULT_DEVICE_MEMORY_GB * 0.25e9);
    expect(modelBudgetBytes(Number.NaN)).toBe(1e9);
  });

  it('lets what fits (or has no known size) through', () => {
    expect(tooBig(B32, 'fp32', modelBudgetBytes(4), BACKEND_PREFERENCE.wasm)).toBeNull();
    expect(tooBig(B32, 'q4', 1, BACKEND_PREFERENCE.wasm)).toBeNull();
    expect(tooBig(B32, 'int8', 1, BACKEND_PREFERENCE.wasm)).toBeNull();
  });

  it('refuses what does not, offering the backend’s preferred variant that fits', () => {
    expect(tooBig(L14, 'fp32', modelBudgetBytes(4), BACKEND_PREFERENCE.wasm)).toEqual({ bytes: 1707e6, budget: 1e9, smaller: L14[2] });
    // WebGPU prefers fp16 to q8 when both fit.
    expect(tooBig(L14, 'fp32', modelBudgetBytes(4), BACKEND_PREFERENCE.webgpu)?.smaller?.variant).toBe('fp16');
    // A 2 GB phone: only q8 of ViT-L/14 is left... and not even that on 1 GB.
    expect(tooBig(L14, 'fp16', modelBudgetBytes(2), BACKEND_PREFERENCE.webgpu)?.smaller?.variant).toBe('q8');
    expect(tooBig(L14, 'fp32', modelBudgetBytes(1), BACKEND_PREFERENCE.wasm)?.smaller).toBeNull();
  });

  it('a file claiming 50 GB is refused on any device', () => {
    const huge: RepoVariant[] = [{ variant: 'fp32', bytes: 50e9 + 1e6 }, { variant: 'q8', bytes: 1e6 }];
    expect(tooBig(huge, 'fp32', modelBudgetBytes(8), BACKEND_PREFERENCE.wasm)?.smaller?.variant).toBe('q8');
  });
});
