import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { modelFile } from '../../testing/golden';
import { hubFileUrl } from '../../model/hub';
import { MODEL_CACHE } from '../../model/modelCache';
import { DEFAULT_RETRY } from './download';
import { readHubFile } from './hubFiles';

/** Enough of Cache Storage for these tests, in memory; `full` makes every put fail like a full disk. */
class MemoryCaches {
  readonly stores = new Map<string, Map<string, Response>>();
  full = false;
  async open(name: string) {
    const store = this.stores.get(name) ?? new Map<string, Response>();
    this.stores.set(name, store);
    return {
      match: async (url: string) => store.get(url)?.clone(),
      put: async (url: string, res: Response) => {
        if (this.full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        store.set(url, res);
      },
      delete: async (url: string) => store.delete(url),
    };
  }
  async has(name: string) { return this.stores.has(name); }
  async delete(name: string) { return this.stores.delete(name); }
}

const ref = { host: 'https://hub.test', repo: 'o/r', revision: 'main' };
const FILE = 'onnx/vision_model.onnx';
const URL_ = hubFileUrl(ref, FILE);
const vision = modelFile('onnx/vision_model.onnx');
let memory: MemoryCaches;
let requests: string[];

beforeEach(() => {
  memory = new MemoryCaches();
  requests = [];
  vi.stubGlobal('caches', memory);
});
afterEach(() => vi.unstubAllGlobals());

function serving(body: Uint8Array, headers: Record<string, string> = {}): typeof fetch {
  return (async (url: RequestInfo | URL) => {
    requests.push(String(url));
    return new Response(body.slice(), { headers: { 'Content-Length': String(body.length), 'Content-Type': 'application/octet-stream', ...headers } });
  }) as typeof fetch;
}

const read = (fetchFn: typeof fetch) =>
  readHubFile(ref, FILE, () => {}, new AbortController().signal, { fetch: fetchFn, policy: { ...DEFAULT_RETRY, baseDelayMs: 1 }, sleep: async () => undefined });

/** Byte equality without a deep-equal walk (slow on a MB of bytes). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error('expected a failure');
}

describe('readHubFile and the cache', () => {
  test('a verified download is stored; the next read comes from the cache without a request', async () => {
    const first = await read(serving(vision));
    expect(first.from).toBe('network');
    expect(first.stored).toBe('stored');
    expect(requests).toEqual([URL_]);
    const second = await read(serving(new Uint8Array(0)));
    expect(second.from).toBe('cache');
    expect(same(second.bytes, vision)).toBe(true);
    expect(requests).toEqual([URL_]);
  });

  test('an ONNX file cut short is refused and not stored', async () => {
    const message = await failure(read(serving(vision.subarray(0, 5000))));
    expect(message).toMatch(/^\[model-format\] .*damaged or incomplete/);
    expect(memory.stores.get(MODEL_CACHE)?.size ?? 0).toBe(0);
  });

  test('an HTML page served as octet-stream is refused and not stored', async () => {
    const message = await failure(read(serving(new TextEncoder().encode('<!DOCTYPE html><html>Sign in</html>'))));
    expect(message).toMatch(/^\[model-format\] .*web page/);
    expect(memory.stores.get(MODEL_CACHE)?.size ?? 0).toBe(0);
  });

  test('a full disk: the bytes are still returned, reported as not stored', async () => {
    memory.full = true;
    const got = await read(serving(vision));
    expect(got.stored).toBe('quota');
    expect(same(got.bytes, vision)).toBe(true);
  });

  test('a stored entry of the wrong size is dropped and downloaded again', async () => {
    const cache = await memory.open(MODEL_CACHE);
    await cache.put(URL_, new Response(vision.subarray(0, 10).slice(), { headers: { 'X-Clip-Lens-Size': String(vision.length) } }));
    const got = await read(serving(vision));
    expect(got.from).toBe('network');
    expect(same(got.bytes, vision)).toBe(true);
  });
});
