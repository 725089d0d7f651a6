import { describe, expect, it } from 'vitest';
import { missingOperator, sessionErrorMessage } from './ortErrors';

describe('ONNX Runtime refusals', () => {
  it('reads the operator of a node ORT has no kernel for', () => {
    const msg = "Could not find an implementation for ConvInteger(10) node with name '/embeddings/patch_embedding/Conv_quant'";
    expect(missingOperator(msg)).toEqual({ op: 'ConvInteger', domain: '', version: 10 });
    const text = sessionErrorMessage(msg, 'onnx/vision_model_int8.onnx');
    expect(text).toContain('onnx/vision_model_int8.onnx');
    expect(text).toContain('ConvInteger');
    expect(text).toMatch(/pick the q8 or uint8 weights/);
  });

  it('reads an operator ORT does not know, with its domain', () => {
    const msg = 'Fatal error: com.microsoft:MatMulBnb4(-1) is not a registered function/op';
    expect(missingOperator(msg)).toEqual({ op: 'MatMulBnb4', domain: 'com.microsoft', version: null });
    expect(sessionErrorMessage(msg, 'onnx/text_model_bnb4.onnx')).toMatch(/com\.microsoft::MatMulBnb4 .*pick the q4 weights/);
  });

  it('keeps ORT’s own words when it names no operator', () => {
    expect(missingOperator('protobuf parsing failed')).toBeNull();
    expect(sessionErrorMessage('protobuf parsing failed', 'onnx/vision_model.onnx')).toBe(
      'ONNX Runtime could not open onnx/vision_model.onnx: protobuf parsing failed');
  });
});
