import { describe, expect, it } from 'vitest';
import { parseWorkerError } from '../protocol';
import { guardCalls, wasmThreads } from './workerClient';

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

describe('guardCalls', () => {
  it('passes answers through while the worker lives, and rejects calls in flight and new ones with worker-lost once it dies', async () => {
    let die: (e: Error) => void = () => undefined;
    const lost = new Promise<never>((_, reject) => (die = reject));
    let answer: (v: number) => void = () => undefined;
    const remote = {
      now: (x: number) => Promise.resolve(x * 2),
      later: () => new Promise<number>((resolve) => (answer = resolve)),
    };
    const api = guardCalls(remote, lost);
    expect(await api.now(21)).toBe(42);
    const waiting = api.later();
    die(new Error('[worker-lost] gone'));
    await expect(waiting).rejects.toThrow('[worker-lost]');
    answer(1); // an answer after the loss changes nothing
    const next = api.later().catch((e: unknown) => parseWorkerError(e).code);
    expect(await next).toBe('worker-lost');
  });

  it('is not a thenable, so awaiting the handle does not call the worker', async () => {
    const remote: Record<string, unknown> = { then: () => { throw new Error('called'); } };
    const api = guardCalls(remote, new Promise<never>(() => undefined));
    expect(api['then']).toBeUndefined();
    expect(await Promise.resolve(api)).toBe(api);
  });
});
