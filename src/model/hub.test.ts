import { describe, expect, test } from 'vitest';
import {
  addressVariant, choiceFromAddress, hubBaseUrl, hubFileUrl, parseHubFileUrl, parseRepoInput, parseStoredChoice, PUBLIC_HUB_HOST, resolveHubHost, sameChoice,
} from './hub';
import { modelFolderFiles } from './folder';
import { catalogVariants, formatApproxBytes, formatBytes } from './catalog';

const ref = { host: 'https://huggingface.co', repo: 'Xenova/clip-vit-base-patch32', revision: 'main' };

describe('Hub URLs', () => {
  test('a file resolves at {host}/{repo}/resolve/{revision}/{file}', () => {
    expect(hubFileUrl(ref, 'onnx/vision_model.onnx')).toBe('https://huggingface.co/Xenova/clip-vit-base-patch32/resolve/main/onnx/vision_model.onnx');
    expect(hubFileUrl(ref, 'config.json')).toBe('https://huggingface.co/Xenova/clip-vit-base-patch32/resolve/main/config.json');
    expect(hubBaseUrl(ref)).toBe('https://huggingface.co/Xenova/clip-vit-base-patch32/resolve/main/');
  });

  test('a local mirror with a port, a trailing slash or a path prefix', () => {
    expect(hubFileUrl({ ...ref, host: 'http://127.0.0.1:8123/' }, 'config.json')).toBe('http://127.0.0.1:8123/Xenova/clip-vit-base-patch32/resolve/main/config.json');
    expect(hubFileUrl({ ...ref, host: 'https://mirror.example/hf' }, 'config.json')).toBe('https://mirror.example/hf/Xenova/clip-vit-base-patch32/resolve/main/config.json');
  });

  test('revisions with slashes are encoded as one path segment', () => {
    expect(hubFileUrl({ ...ref, revision: 'refs/pr/1' }, 'config.json')).toBe('https://huggingface.co/Xenova/clip-vit-base-patch32/resolve/refs%2Fpr%2F1/config.json');
  });

  test('parseHubFileUrl inverts hubFileUrl', () => {
    for (const r of [ref, { ...ref, revision: 'refs/pr/1' }, { ...ref, host: 'http://127.0.0.1:8123' }, { ...ref, host: 'https://mirror.example/hf' }]) {
      expect(parseHubFileUrl(hubFileUrl(r, 'onnx/text_model_fp16.onnx'))).toEqual({ ...r, file: 'onnx/text_model_fp16.onnx' });
    }
    expect(parseHubFileUrl('https://huggingface.co/Xenova/clip')).toBeNull();
    expect(parseHubFileUrl('not a url')).toBeNull();
  });
});

describe('parseRepoInput', () => {
  test('repo ids, with an optional @revision', () => {
    expect(parseRepoInput(' Xenova/clip-vit-base-patch16 ')).toEqual({ repo: 'Xenova/clip-vit-base-patch16', revision: 'main' });
    expect(parseRepoInput('me/my.model_v2@v1.0')).toEqual({ repo: 'me/my.model_v2', revision: 'v1.0' });
  });

  test('Hub page and file addresses', () => {
    expect(parseRepoInput('https://huggingface.co/Xenova/clip-vit-large-patch14')).toEqual({ repo: 'Xenova/clip-vit-large-patch14', revision: 'main' });
    expect(parseRepoInput('https://huggingface.co/Xenova/clip-vit-large-patch14/tree/dev')).toEqual({ repo: 'Xenova/clip-vit-large-patch14', revision: 'dev' });
    expect(parseRepoInput('https://huggingface.co/Xenova/x/resolve/main/config.json')).toEqual({ repo: 'Xenova/x', revision: 'main' });
  });

  test('what is not a repo id gets a message showing one', () => {
    for (const bad of ['', 'clip', 'a/b/c', 'a b/c', 'owner/', '-x/y', 'x/y@']) {
      const r = parseRepoInput(bad);
      expect('error' in r, bad).toBe(true);
    }
    const r = parseRepoInput('a/b/c');
    expect('error' in r && r.error).toMatch(/owner\/name/);
  });
});

describe('hub host', () => {
  test('the page parameter wins, then the build default, then the public Hub', () => {
    expect(resolveHubHost('http://127.0.0.1:9000/', 'https://mirror.example')).toBe('http://127.0.0.1:9000');
    expect(resolveHubHost(null, 'https://mirror.example/hf/')).toBe('https://mirror.example/hf');
    expect(resolveHubHost(null, undefined)).toBe(PUBLIC_HUB_HOST);
    expect(resolveHubHost('javascript:alert(1)', undefined)).toBe(PUBLIC_HUB_HOST);
    expect(resolveHubHost('not a url', '')).toBe(PUBLIC_HUB_HOST);
  });
});

describe('choices', () => {
  test('same model and weights', () => {
    expect(sameChoice({ kind: 'bundled', variant: 'fp32' }, { kind: 'bundled', variant: 'fp32' })).toBe(true);
    expect(sameChoice({ kind: 'bundled', variant: 'fp32' }, { kind: 'bundled', variant: 'q8' })).toBe(false);
    expect(sameChoice({ kind: 'hub', repo: 'a/b', revision: 'main', variant: 'fp16' }, { kind: 'hub', repo: 'a/b', revision: 'main', variant: 'fp16' })).toBe(true);
    expect(sameChoice({ kind: 'hub', repo: 'a/b', revision: 'main', variant: 'fp16' }, { kind: 'hub', repo: 'a/c', revision: 'main', variant: 'fp16' })).toBe(false);
    expect(sameChoice(null, { kind: 'bundled', variant: 'fp32' })).toBe(false);
  });
});

describe('choices from the address and from storage', () => {
  test('?model= and ?variant=', () => {
    expect(choiceFromAddress('?backend=wasm')).toBeNull();
    expect(choiceFromAddress('?model=bundled')).toEqual({ kind: 'bundled', variant: 'fp32' });
    expect(choiceFromAddress('?model=Xenova/clip-vit-base-patch16&variant=q8')).toEqual({ kind: 'hub', repo: 'Xenova/clip-vit-base-patch16', revision: 'main', variant: 'q8' });
    expect(choiceFromAddress('?model=a/b@dev&variant=nonsense')).toEqual({ kind: 'hub', repo: 'a/b', revision: 'dev', variant: 'fp32' });
    expect(choiceFromAddress('?model=not%20a%20repo')).toHaveProperty('error');
    // Every transformers.js variant can be named; the bundled model has three of them.
    expect(choiceFromAddress('?model=a/b&variant=q4f16')).toEqual({ kind: 'hub', repo: 'a/b', revision: 'main', variant: 'q4f16' });
    expect(choiceFromAddress('?model=bundled&variant=bnb4')).toEqual({ kind: 'bundled', variant: 'fp32' });
  });

  test('whether the address names a variant (else the backend default applies)', () => {
    expect(addressVariant('?model=a/b')).toBeNull();
    expect(addressVariant('?model=a/b&variant=nonsense')).toBeNull();
    expect(addressVariant('?model=a/b&variant=uint8')).toBe('uint8');
  });

  test('a remembered choice is used only when well formed', () => {
    const hub = { kind: 'hub', repo: 'Xenova/clip-vit-base-patch32', revision: 'main', variant: 'fp16' } as const;
    expect(parseStoredChoice(JSON.stringify(hub))).toEqual(hub);
    expect(parseStoredChoice(JSON.stringify({ kind: 'bundled', variant: 'q8' }))).toEqual({ kind: 'bundled', variant: 'q8' });
    for (const bad of [null, '', '{', '42', JSON.stringify({ kind: 'hub', repo: '../x', variant: 'fp32' }), JSON.stringify({ kind: 'folder', name: 'x', variant: 'fp32' }), JSON.stringify({ kind: 'bundled', variant: 'int4' })]) {
      expect(parseStoredChoice(bad), String(bad)).toBeNull();
    }
  });
});

describe('catalog sizes', () => {
  test('B/32 fp32 is about 352 MB + 254 MB; unknown repos have no size', () => {
    expect(catalogVariants('Xenova/clip-vit-base-patch32')?.find((v) => v.variant === 'fp32')).toEqual({ variant: 'fp32', bytes: 606e6, approximate: true });
    expect(catalogVariants('someone/else')).toBeNull();
    expect(formatApproxBytes(606e6)).toBe('≈ 606 MB');
    expect(formatBytes(1_707_000_000)).toBe('1.7 GB');
    expect(formatBytes(10_900_000)).toBe('10.9 MB');
  });
});

describe('modelFolderFiles', () => {
  const blob = new Blob(['x']);
  const tree = (root: string) => ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json',
    'onnx/vision_model.onnx', 'onnx/text_model.onnx', 'onnx/vision_model_quantized.onnx', 'onnx/text_model_quantized.onnx', 'README.md']
    .map((p) => ({ path: root + p, blob }));

  test('a picked folder: its own name is stripped from the paths', () => {
    const f = modelFolderFiles(tree('clip-vit-base-patch32/'));
    expect(f.name).toBe('clip-vit-base-patch32');
    expect(Object.keys(f.files)).toContain('onnx/vision_model.onnx');
    expect(f.variants).toEqual(['fp32', 'q8']);
    expect(f.missing).toEqual([]);
  });

  test('a parent folder: the model is where config.json is', () => {
    const f = modelFolderFiles([...tree('models/clip/'), { path: 'models/other.txt', blob }]);
    expect(f.name).toBe('clip');
    expect(f.files['config.json']).toBe(blob);
    expect(f.files['other.txt']).toBeUndefined();
  });

  test('loose files (no folder structure) land in the layout', () => {
    const f = modelFolderFiles(['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'vision_model_fp16.onnx', 'text_model_fp16.onnx']
      .map((path) => ({ path, blob })));
    expect(f.variants).toEqual(['fp16']);
    expect(f.files['onnx/text_model_fp16.onnx']).toBe(blob);
  });

  test('a folder without a model says what is missing', () => {
    const f = modelFolderFiles([{ path: 'photos/a.jpg', blob }]);
    expect(f.variants).toEqual([]);
    expect(f.missing[0]).toBe('config.json');
    expect(f.missing.at(-1)).toMatch(/vision_model\.onnx/);
  });
});
