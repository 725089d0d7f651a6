/**
 * Why a model file cannot be used. The UI shows `message` as is (it says what to do); `reason`
 * lets code branch (e.g. offer to clear the cache after `truncated`).
 *
 * - `not-onnx`: the bytes are not an ONNX ModelProto (an HTML error page, JSON, another format).
 * - `truncated`: an ONNX file that ends early (interrupted download or a bad cache entry).
 * - `fused-attention`: attention is one fused operator; its probabilities are not a tensor in the graph.
 * - `no-attention`: no self-attention Softmax could be identified.
 * - `layer-count`: the number of attention Softmax nodes differs from the config's layer count.
 * - `attention-shape`: a returned attention tensor does not have the shape of attention probabilities.
 * - `external-data`: a weight lives in a separate file (ONNX external data), which we do not fetch.
 */
export type UnsupportedModelReason =
  | 'not-onnx'
  | 'truncated'
  | 'fused-attention'
  | 'no-attention'
  | 'layer-count'
  | 'attention-shape'
  | 'external-data';

/** A model file that this app cannot use, with a message a person can act on. */
export class UnsupportedModelError extends Error {
  /** Machine-readable cause; see {@link UnsupportedModelReason}. */
  readonly reason: UnsupportedModelReason;
  /** Encoder layer (0-based) the problem concerns, when it concerns one. */
  readonly layer: number | undefined;

  constructor(reason: UnsupportedModelReason, message: string, options: { cause?: unknown; layer?: number } = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'UnsupportedModelError';
    this.reason = reason;
    this.layer = options.layer;
  }
}
