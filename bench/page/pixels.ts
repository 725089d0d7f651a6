/**
 * Deterministic input values, so that every encoder under test runs on identical input.
 *
 * @returns `n` float32 values in about [-1.8, 2.1] (the range of CLIP-normalised pixels), fixed seed.
 */
export function benchValues(n: number): Float32Array {
  let s = 0x2545f491;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // mulberry32
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 3.9 - 1.8;
  }
  return out;
}

/** Pixels of one image, `(1, 3, size, size)` row-major. */
export function benchPixels(size: number): Float32Array {
  return benchValues(3 * size * size);
}
