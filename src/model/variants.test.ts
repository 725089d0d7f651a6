import { describe, expect, it } from 'vitest';
import { defaultVariant, listRepoVariants, parseTreeListing, treeUrl, variantsOfFiles } from './variants';

const REF = { host: 'https://huggingface.co', repo: 'Xenova/clip-vit-base-patch32', revision: 'main' };

/** A tree API entry as the Hub writes it for an LFS file. */
const lfsEntry = (path: string, size: number) => ({ type: 'file', oid: 'abc', size, path, lfs: { oid: 'def', size, pointerSize: 134 } });

describe('the Hub listing of a repo', () => {
  it('asks the tree API for onnx/, with the revision encoded', () => {
    expect(treeUrl(REF)).toBe('https://huggingface.co/api/models/Xenova/clip-vit-base-patch32/tree/main/onnx');
    expect(treeUrl({ ...REF, host: 'http://127.0.0.1:9/', revision: 'refs/pr/1' })).toBe(
      'http://127.0.0.1:9/api/models/Xenova/clip-vit-base-patch32/tree/refs%2Fpr%2F1/onnx');
  });

  it('offers a variant only when both encoder files are listed, with their summed size', () => {
    const files = parseTreeListing([
      lfsEntry('onnx/vision_model.onnx', 352), lfsEntry('onnx/text_model.onnx', 254),
      lfsEntry('onnx/vision_model_q4.onnx', 60), lfsEntry('onnx/text_model_q4.onnx', 40),
      lfsEntry('onnx/vision_model_bnb4.onnx', 55), // no text file: not loadable
      { type: 'directory', oid: 'x', size: 0, path: 'onnx/extra' },
    ]);
    expect(files).not.toBeNull();
    expect(variantsOfFiles(files ?? [])).toEqual([
      { variant: 'fp32', bytes: 606, files: { 'onnx/vision_model.onnx': 352, 'onnx/text_model.onnx': 254 } },
      { variant: 'q4', bytes: 100, files: { 'onnx/vision_model_q4.onnx': 60, 'onnx/text_model_q4.onnx': 40 } },
    ]);
  });

  it('takes the LFS size over the entry size, and refuses what is not a listing', () => {
    expect(parseTreeListing([{ type: 'file', path: 'onnx/a.onnx', size: 134, lfs: { size: 9000 } }])).toEqual([{ path: 'onnx/a.onnx', size: 9000 }]);
    expect(parseTreeListing({ error: 'Repository not found' })).toBeNull();
    expect(parseTreeListing([{ size: 3 }])).toBeNull();
  });

  it('probes each encoder file with HEAD where the API is missing, reading X-Linked-Size or Content-Length', async () => {
    const asked: string[] = [];
    const have: Record<string, Record<string, string>> = {
      'onnx/vision_model_quantized.onnx': { 'X-Linked-Size': '89000000', 'Content-Length': '1300' },
      'onnx/text_model_quantized.onnx': { 'Content-Length': '65000000' },
      'onnx/vision_model_fp16.onnx': { 'Content-Length': '176000000' },
    };
    const fake = (url: string, init: RequestInit) => {
      asked.push(`${init.method ?? 'GET'} ${url}`);
      if (url.includes('/api/')) return Promise.resolve(new Response('Not found', { status: 404 }));
      const file = url.split('/resolve/main/')[1] ?? '';
      const headers = have[file];
      return Promise.resolve(headers ? new Response(null, { status: 200, headers }) : new Response(null, { status: 404 }));
    };
    expect(await listRepoVariants(REF, { fetch: fake })).toEqual([{
      variant: 'q8', bytes: 154e6, files: { 'onnx/vision_model_quantized.onnx': 89e6, 'onnx/text_model_quantized.onnx': 65e6 },
    }]);
    expect(asked.filter((a) => a.startsWith('HEAD'))).toHaveLength(16); // 8 variants × 2 encoders
  });

  it('is unknown (null) when nothing answers, so the usual variants are offered', async () => {
    const offline = () => Promise.reject(new TypeError('Failed to fetch'));
    expect(await listRepoVariants(REF, { fetch: offline })).toBeNull();
  });
});

describe('the default variant', () => {
  it('is q8 on WASM and fp32 on WebGPU, as transformers.js picks', () => {
    expect(defaultVariant('wasm', null, null)).toBe('q8');
    expect(defaultVariant('webgpu', null, null)).toBe('fp32');
  });

  it('follows what the repo has: the backend order among its variants', () => {
    expect(defaultVariant('wasm', ['fp32', 'fp16'], null)).toBe('fp32');
    expect(defaultVariant('wasm', ['fp16', 'q4'], null)).toBe('q4');
    expect(defaultVariant('webgpu', ['q8', 'fp16'], null)).toBe('fp16');
  });

  it('stays the person’s choice where the repo has it', () => {
    expect(defaultVariant('wasm', ['fp32', 'q8', 'bnb4'], 'bnb4')).toBe('bnb4');
    expect(defaultVariant('wasm', null, 'fp16')).toBe('fp16');
    expect(defaultVariant('wasm', ['fp32', 'q8'], 'bnb4')).toBe('q8');
  });
});
