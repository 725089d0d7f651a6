import { describe, expect, test } from 'vitest';
import { ProgressMeter } from './progressMeter';

describe('ProgressMeter', () => {
  test('sums files; the total is known once every file has one', () => {
    const m = new ProgressMeter();
    expect(m.update('a', 10, 100, 0)).toMatchObject({ file: 'a', loaded: 10, total: 100 });
    expect(m.update('b', 5, null, 10)).toMatchObject({ file: 'b', loaded: 15, total: null });
    expect(m.update('b', 50, 200, 20)).toMatchObject({ loaded: 60, total: 300 });
  });

  test('rate in bytes per second over the recent window, none before it is measurable', () => {
    const m = new ProgressMeter();
    expect(m.update('a', 0, 1e6, 0).rate).toBeNull();
    expect(m.update('a', 1000, 1e6, 100).rate).toBeNull();
    expect(m.update('a', 100_000, 1e6, 1000).rate).toBeCloseTo(100_000, -2);
    // Later, only the last few seconds count.
    m.update('a', 200_000, 1e6, 5000);
    expect(m.update('a', 400_000, 1e6, 6000).rate).toBeCloseTo(200_000, -3);
  });

  test('a restart never gives a negative rate', () => {
    const m = new ProgressMeter();
    m.update('a', 500, 1000, 0);
    expect(m.update('a', 0, 1000, 1000).rate).toBe(0);
  });
});
