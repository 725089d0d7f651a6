import { describe, expect, it } from 'vitest';
import { wasmThreads } from './workerClient';

describe('wasmThreads', () => {
  it('uses one thread per core, at most 4, when the page is isolated', () => {
    expect(wasmThreads(null, true, 2)).toBe(2);
    expect(wasmThreads(null, true, 12)).toBe(4);
    expect(wasmThreads(null, true, 0)).toBe(1);
  });

  it('follows ?threads=N, capped at 16', () => {
    expect(wasmThreads('1', true, 8)).toBe(1);
    expect(wasmThreads('6', true, 2)).toBe(6);
    expect(wasmThreads('64', true, 2)).toBe(16);
  });

  it('ignores a malformed ?threads and falls back to the cores', () => {
    for (const bad of ['', '0', '-2', '1.5', 'two']) expect(wasmThreads(bad, true, 3)).toBe(3);
  });

  it('is single-threaded without cross-origin isolation, whatever is asked', () => {
    expect(wasmThreads('4', false, 8)).toBe(1);
    expect(wasmThreads(null, false, 8)).toBe(1);
  });
});
