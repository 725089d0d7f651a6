/**
 * Checks a downloaded file before it may enter the cache, so that a broken download never
 * poisons it: the size matches what the server announced, the bytes are neither a web page nor
 * gzip-compressed, an `.onnx` file walks as a complete ONNX `ModelProto`, a `.json` file parses.
 */
import { UnsupportedModelError } from '../onnx/errors';
import { summarizeModel } from '../onnx/graph';

/** Why a file was refused; `message` is for people. */
export type VerifyProblem = 'size' | 'html' | 'gzip' | 'not-onnx' | 'truncated' | 'json' | 'empty';

export class VerifyError extends Error {
  constructor(readonly problem: VerifyProblem, message: string) {
    super(message);
    this.name = 'VerifyError';
  }
}

/** True when the bytes start (after whitespace or a BOM) like an HTML or XML document. */
export function looksLikeHtml(bytes: Uint8Array): boolean {
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  if (bytes[i] !== 0x3c /* < */) return false;
  const head = new TextDecoder().decode(bytes.subarray(i, i + 64)).toLowerCase();
  return /^<(!doctype\s+html|html|head|body|\?xml|!--|title|meta)/.test(head);
}

/**
 * Throws a {@link VerifyError} when `bytes` cannot be the complete file `file`.
 *
 * @param file path inside the model folder (`onnx/vision_model.onnx`, `config.json`): its
 *   extension decides the format check.
 * @param expectedSize the size the server announced, or null when it did not say. A body longer
 *   than announced is accepted: the browser has then decoded a compressed transfer (the
 *   Content-Encoding header is not always readable cross-origin); the format check still applies.
 */
export function verifyFile(file: string, bytes: Uint8Array, expectedSize: number | null): void {
  if (expectedSize !== null && bytes.byteLength < expectedSize) {
    throw new VerifyError('size', `${file} is incomplete: ${bytes.byteLength} of ${expectedSize} bytes arrived. Retry the download.`);
  }
  if (bytes.byteLength === 0) throw new VerifyError('empty', `${file} is empty: the server sent no data.`);
  if (looksLikeHtml(bytes)) {
    throw new VerifyError('html', `${file} is a web page (HTML), not the model file: check the repo id and the Hub address.`);
  }
  // gzip's magic number: a compressed file served as is (no Content-Encoding for the browser to
  // undo). Neither an ONNX file (field 1, a varint: 0x08) nor JSON starts with it.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new VerifyError('gzip', `${file} arrived as gzip-compressed bytes, not the model file: the server sends a compressed copy without saying so (no Content-Encoding: gzip). Check the Hub address or the mirror's setup.`);
  }
  if (file.endsWith('.onnx')) {
    try {
      summarizeModel(bytes);
    } catch (e) {
      if (e instanceof UnsupportedModelError && e.reason === 'truncated') {
        throw new VerifyError('truncated', `${file} is damaged or incomplete: it ends in the middle of the model. Retry the download.`);
      }
      if (e instanceof UnsupportedModelError) {
        throw new VerifyError('not-onnx', `${file} is not an ONNX model. ${e.message}`);
      }
      throw e;
    }
  } else if (file.endsWith('.json')) {
    try {
      JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      throw new VerifyError('json', `${file} is not valid JSON: the download is damaged or this is not a model repository. Retry the download.`);
    }
  }
}
