/** Summaries of repeated measurements: the median and the spread, never a mean alone. */

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** Quartiles and 95th percentile, linear interpolation between order statistics. */
  p25: number;
  p75: number;
  p95: number;
}

/** Quantile `q` in [0, 1] of ascending-sorted `sorted`. */
function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const a = sorted[lo] ?? NaN;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] ?? NaN;
  return a + (b - a) * (at - lo);
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
    p25: quantile(s, 0.25),
    p75: quantile(s, 0.75),
    p95: quantile(s, 0.95),
  };
}
