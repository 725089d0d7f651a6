import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { modelFile } from '../../testing/golden';
import { looksLikeHtml, VerifyError, verifyFile } from './verify';

function problem(fn: () => void): VerifyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VerifyError) return e;
    throw e;
  }
  throw new Error('expected a VerifyError');
}

const vision = modelFile('onnx/vision_model.onnx');
const text = (s: string) => new TextEncoder().encode(s);

describe('verifyFile', () => {
  test('accepts a complete ONNX model and valid JSON', () => {
    expect(() => verifyFile('onnx/vision_model.onnx', vision, vision.length)).not.toThrow();
    expect(() => verifyFile('config.json', text('{"a":1}'), 7)).not.toThrow();
    expect(() => verifyFile('onnx/vision_model.onnx', vision, null)).not.toThrow();
  });

  test('a body shorter than announced is refused as incomplete', () => {
    const e = problem(() => verifyFile('onnx/vision_model.onnx', vision.subarray(0, 1000), vision.length));
    expect(e.problem).toBe('size');
    expect(e.message).toMatch(/incomplete: 1000 of \d+ bytes/);
  });

  test('a body longer than announced is accepted (a decoded compressed transfer), still format-checked', () => {
    expect(() => verifyFile('config.json', text('{"a":1}'), 3)).not.toThrow();
    expect(problem(() => verifyFile('config.json', text('{"a":'), 3)).problem).toBe('json');
  });

  test('an ONNX file cut short (with an honest size) is refused as damaged', () => {
    const cut = vision.subarray(0, Math.floor(vision.length / 2));
    const e = problem(() => verifyFile('onnx/vision_model.onnx', cut, cut.length));
    expect(e.problem).toBe('truncated');
    expect(e.message).toMatch(/damaged or incomplete/);
  });

  test('bytes that are not ONNX are refused', () => {
    const e = problem(() => verifyFile('onnx/vision_model.onnx', text('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n'), null));
    expect(e.problem).toBe('not-onnx');
    expect(e.message).toMatch(/LFS/);
  });

  test('an HTML page is refused whatever the file type', () => {
    for (const f of ['onnx/vision_model.onnx', 'config.json', 'tokenizer.json']) {
      expect(problem(() => verifyFile(f, text('\n  <!DOCTYPE html><html><body>404</body></html>'), null)).problem).toBe('html');
    }
  });

  test('truncated JSON and empty files are refused', () => {
    expect(problem(() => verifyFile('tokenizer.json', text('{"model": {"vocab": {"a": 1'), null)).problem).toBe('json');
    expect(problem(() => verifyFile('config.json', new Uint8Array(0), null)).problem).toBe('empty');
  });

  test('gzip-compressed bytes (a .gz served as the file, no Content-Encoding) are named as such', () => {
    const gz = gzipSync(vision);
    const e = problem(() => verifyFile('onnx/vision_model.onnx', new Uint8Array(gz), gz.length));
    expect(e.problem).toBe('gzip');
    expect(e.message).toMatch(/arrived as gzip-compressed bytes/);
  });
});

describe('looksLikeHtml', () => {
  test('recognises pages, not JSON or binary', () => {
    expect(looksLikeHtml(text('<html><head>'))).toBe(true);
    expect(looksLikeHtml(text('\ufeff<!doctype HTML>'))).toBe(true);
    expect(looksLikeHtml(text('{"<html>": 1}'))).toBe(false);
    expect(looksLikeHtml(vision)).toBe(false);
  });
});
