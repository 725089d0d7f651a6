/**
 * The fast weight-product gradient (./linear.ts) gives tfjs's own gradient, on the CPU backend
 * and on WASM (where it is faster), and lets no gradient reach the weight.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { maxAbsDiff } from '../../testing/golden';
import { timesTransposed, weightMatMul } from './linear';

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(['cpu', 'wasm'] as const)('weightMatMul on %s', (backend) => {
  it('has the value and the input gradient of tf.matMul', async () => {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    expect(await tf.setBackend(backend)).toBe(true);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([7, 12], 0, 1, 'float32', 1);
      const w = tf.randomNormal([12, 5], 0, 1, 'float32', 2);
      const r = tf.randomNormal([7, 5], 0, 1, 'float32', 3); // a non-uniform upstream gradient
      const loss = (f: (a: tf.Tensor) => tf.Tensor) => (a: tf.Tensor) => tf.sum(tf.mul(tf.sin(f(a)), r));
      const ours = tf.valueAndGrad(loss((a) => weightMatMul(a, w)))(x);
      const theirs = tf.valueAndGrad(loss((a) => tf.matMul(a, w)))(x);
      expect(Math.abs(ours.value.dataSync()[0]! - theirs.value.dataSync()[0]!)).toBeLessThan(1e-5);
      expect(maxAbsDiff(ours.grad.dataSync(), theirs.grad.dataSync())).toBeLessThan(1e-5);
      expect(maxAbsDiff(timesTransposed(r, w).dataSync(), tf.matMul(r, w, false, true).dataSync())).toBeLessThan(1e-5);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('passes no gradient to the weight (it is a constant)', () => {
    const [gw] = tf.tidy(() => {
      const x = tf.ones([2, 3]);
      // Only the second term reaches w: its gradient is all ones.
      return tf.grads((w: tf.Tensor) => tf.add(tf.sum(weightMatMul(x, w)), tf.sum(w)))([tf.ones([3, 4])]);
    });
    expect(gw?.dataSync().every((v) => v === 1)).toBe(true);
    gw?.dispose();
  });
});
