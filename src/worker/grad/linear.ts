/**
 * Products with a constant weight matrix, with a gradient for the activations only, computed in
 * the form tfjs runs fast on every backend.
 *
 * Why: tfjs's own MatMul gradient is dA = dy·Wᵀ, a product with a transposed operand. tfjs-wasm
 * (the backend this app gets without a hardware GPU) sends only untransposed products to
 * XNNPACK and computes the others in a plain loop: ~6× slower (ViT-B/32 MLP weight, 50 tokens:
 * 86 ms instead of 13 ms, measured in Node). The same numbers come from (W·dyᵀ)ᵀ, two cheap
 * transposes of activation-sized tensors around an untransposed product. Each entry is the same
 * sum of products Σ_n dy[m,n]·W[k,n]; only the kernel's summation order may differ.
 *
 * A weight that is not constant (computed from the input) must not go through here: its
 * gradient is not computed.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * dy·Wᵀ for dy `(M, N)` and W `(K, N)`: `(M, K)`, as (W·dyᵀ)ᵀ.
 */
export function timesTransposed(dy: tf.Tensor, w: tf.Tensor): tf.Tensor {
  return tf.transpose(tf.matMul(w, tf.transpose(dy)));
}

/**
 * x·W for activations x `(M, K)` and a constant weight W `(K, N)`: `(M, N)`, differentiable with
 * respect to x only (dx = dy·Wᵀ via {@link timesTransposed}).
 */
export function weightMatMul(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return { value: tf.matMul(input, w), gradFunc: (dy: tf.Tensor) => timesTransposed(dy, w) };
  });
  return op(x);
}
