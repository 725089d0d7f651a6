/**
 * The messages ONNX Runtime Web gives when it will not open a file, read for the operator: each
 * case is a one-node model that ORT (the web build, in Node) really refuses.
 */
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { synthModel, type SynthModel } from './grad/synthetic';
import { isOutOfMemory, missingOperator, sessionErrorMessage } from './ortErrors';

/** ORT's message for a model it will not open. */
async function refusal(model: SynthModel): Promise<string> {
  try {
    const session = await ort.InferenceSession.create(synthModel(model));
    await session.release();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error('ONNX Runtime opened the model');
}

const unary = (op: string, type: 'float' | 'int64' | 'bool', domain?: string): SynthModel => ({
  nodes: [{ op, inputs: ['x'], outputs: ['y'], ...(domain ? { domain } : {}) }],
  inputs: [{ name: 'x', type, dims: [2, 2] }],
  outputs: [{ name: 'y', type }],
  ...(domain ? { opsets: { [domain]: 1 } } : {}),
});

describe('ONNX Runtime refusals name the operator', () => {
  it.each([
    ['no kernel for the type', unary('Relu', 'int64'), { op: 'Relu', domain: '', version: 14 }],
    ['an unknown operator', unary('NoSuchOp', 'float'), { op: 'NoSuchOp', domain: '', version: 17 }],
    ['an unknown operator of a custom domain', unary('NoSuchOp', 'float', 'com.microsoft'), { op: 'NoSuchOp', domain: 'com.microsoft', version: null }],
    ['a type the operator does not take', unary('ReduceMax', 'bool'), { op: 'ReduceMax', domain: '', version: null }],
    ['a kernel refusing its attributes (3-bit MatMulNBits)', {
      nodes: [{ op: 'MatMulNBits', domain: 'com.microsoft', inputs: ['x', 'b', 's'], outputs: ['y'], attrs: { K: 32, N: 2, bits: 3, block_size: 32 } }],
      inputs: [{ name: 'x', type: 'float', dims: [1, 32] }],
      outputs: [{ name: 'y', type: 'float' }],
      initializers: { b: { type: 'uint8', dims: [2, 1, 12], data: new Array<number>(24).fill(0) }, s: { type: 'float', dims: [2], data: [1, 1] } },
      opsets: { 'com.microsoft': 1 },
    } satisfies SynthModel, { op: 'MatMulNBits', domain: '', version: null }],
  ] as const)('%s', async (_, model, expected) => {
    const message = await refusal(model);
    expect(missingOperator(message), message).toEqual(expected);
    const text = sessionErrorMessage(message, 'onnx/vision_model_int8.onnx');
    expect(text).toMatch(new RegExp(`^onnx/vision_model_int8\\.onnx needs the operator \\S*${expected.op}\\b`));
    expect(text).toMatch(/pick (the \S+ (or \S+ )?weights instead|another weights variant)/);
  });

  it('suggests the variant of the same size for the operators weights variants bring in', () => {
    const kernel = (op: string) => `Could not find an implementation for ${op}(10) node with name 'n'`;
    expect(sessionErrorMessage(kernel('ConvInteger'), 'onnx/vision_model_int8.onnx')).toMatch(/pick the q8 or uint8 weights instead/);
    expect(sessionErrorMessage('Fatal error: com.microsoft:MatMulBnb4(-1) is not a registered function/op', 'onnx/text_model_bnb4.onnx'))
      .toMatch(/com\.microsoft::MatMulBnb4 .*pick the q4 weights instead/);
  });

  it('keeps ORT’s own words when it names no operator', async () => {
    const message = await ort.InferenceSession.create(new Uint8Array([1, 2, 3])).then(() => '', (e: unknown) => String((e as Error).message));
    expect(missingOperator(message)).toBeNull();
    expect(sessionErrorMessage(message, 'onnx/vision_model.onnx')).toBe(`ONNX Runtime could not open onnx/vision_model.onnx: ${message}`);
  });

  it('says the model does not fit when ORT or the browser ran out of memory', () => {
    for (const m of ['std::bad_alloc', 'RangeError: Array buffer allocation failed', 'Aborted(Cannot enlarge memory arrays)', 'failed to allocate a buffer of size 1207959552']) {
      expect(isOutOfMemory(m), m).toBe(true);
      expect(sessionErrorMessage(m, 'onnx/vision_model.onnx')).toMatch(/^There was not enough memory to open onnx\/vision_model\.onnx .*Pick smaller weights \(q8\) or a smaller model/);
    }
    expect(isOutOfMemory("Could not find an implementation for ConvInteger(10) node with name 'n'")).toBe(false);
  });
});
