/**
 * Sums per-file download progress into one figure for the progress bar and measures the rate.
 * Pure (time is passed in), unit-tested in progressMeter.test.ts.
 */

/** What the progress bar shows. */
export interface ProgressReading {
  /** The file that moved last. */
  file: string;
  /** Bytes held so far, all files. */
  loaded: number;
  /** Sum of the files' sizes, or null while any size is unknown. */
  total: number | null;
  /** Bytes per second over the last few seconds, or null until there is enough to measure. */
  rate: number | null;
}

/** Rate window: long enough to smooth chunk bursts, short enough to follow a changing connection. */
const WINDOW_MS = 3000;
/** Below this span a rate is noise (one or two chunks). */
const MIN_SPAN_MS = 300;

export class ProgressMeter {
  private readonly files = new Map<string, { loaded: number; total: number | null }>();
  private samples: { t: number; loaded: number }[] = [];

  /** Records one progress event (`now` in ms, e.g. `performance.now()`) and returns the sum. */
  update(file: string, loaded: number, total: number | null, now: number): ProgressReading {
    this.files.set(file, { loaded, total });
    let sum = 0;
    let sumTotal: number | null = 0;
    for (const f of this.files.values()) {
      sum += f.loaded;
      sumTotal = sumTotal === null || f.total === null ? null : sumTotal + Math.max(f.total, f.loaded);
    }
    this.samples.push({ t: now, loaded: sum });
    while (this.samples.length > 2 && (this.samples[0]?.t ?? now) < now - WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const span = first ? now - first.t : 0;
    // A restart (the server ignored Range) makes `loaded` go back: no negative rates.
    const rate = first && span >= MIN_SPAN_MS ? Math.max(0, ((sum - first.loaded) / span) * 1000) : null;
    return { file, loaded: sum, total: sumTotal, rate };
  }
}
