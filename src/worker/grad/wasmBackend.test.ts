import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { standaloneFactorySource } from './wasmBackend';

const PUBLISHED = readFileSync('node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js', 'utf8');

describe('standaloneFactorySource', () => {
  it('finds the factory expression in the published threaded build', () => {
    const expression = standaloneFactorySource(PUBLISHED);
    expect(expression).not.toBeNull();
    expect(expression!.length).toBeGreaterThan(PUBLISHED.length * 0.9);
    expect(expression).not.toContain('module.exports');
  });

  it('evaluates with nothing around it to the factory (what a pthread worker runs)', () => {
    const expression = standaloneFactorySource(PUBLISHED)!;
    // A fresh global scope, as in the Blob worker: no bundler wrapper, no module, no exports.
    const factory: unknown = runInNewContext(`var WasmBackendModuleThreadedSimd = ${expression}; WasmBackendModuleThreadedSimd`, {});
    expect(typeof factory).toBe('function');
    expect((factory as (m: object) => unknown).length).toBe(1);
  });

  it('refuses files of another layout', () => {
    expect(standaloneFactorySource('')).toBeNull();
    expect(standaloneFactorySource('var WasmBackendModuleThreadedSimd = function () {};')).toBeNull();
    expect(standaloneFactorySource('export default function factory() {}')).toBeNull();
  });
});
