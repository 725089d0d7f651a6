/**
 * What the gradient tests build from an encoder file: the interpreter with the file's input,
 * output and attention Softmax outputs, found as the worker finds them.
 */
import { findAttentionSoftmax } from '../worker/onnx/attention';
import type { EncoderSpec } from '../worker/grad/gradients';
import { OnnxInterpreter } from '../worker/grad/interpreter';

/** The interpreter and interface of one encoder file (`name` is its path, for messages). */
export function encoderSpec(bytes: Uint8Array, name: string, heads: number): EncoderSpec {
  const found = findAttentionSoftmax(bytes);
  return {
    interpreter: OnnxInterpreter.load(bytes, { name }),
    input: found.inputs[0] as string,
    output: found.outputs[0] as string,
    attention: found.softmaxOutputs,
    heads,
  };
}
