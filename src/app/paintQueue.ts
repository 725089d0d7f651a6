/**
 * Canvas paints, batched to animation frames with a main-thread budget per frame. When a result
 * arrives, or a layer changes, many canvases want a repaint at once (the focus view, every image
 * card): each painting in its own requestAnimationFrame callback put them all into one frame,
 * which on the first result (code not yet optimised by the JIT) made it a long task. Here the
 * paints of a frame stop once the budget is spent — at least one always runs — and the rest move
 * to the next frame, most urgent first (lower `priority`), then in the order asked.
 */

export interface PaintQueue {
  /**
   * Runs `paint` in an upcoming animation frame. Returns a cancel function (a no-op once the
   * paint has run). `priority`: lower runs first (the focus view 0, cards 1).
   */
  schedule(paint: () => void, priority?: number): () => void;
  /** Paints waiting (for tests and the curious). */
  readonly pending: number;
}

export interface PaintQueueOptions {
  /** Main-thread time per frame for paints, ms. */
  budgetMs: number;
  requestFrame: (callback: () => void) => unknown;
  now: () => number;
}

interface Job {
  paint: () => void;
  priority: number;
  order: number;
  cancelled: boolean;
}

export function createPaintQueue(options: PaintQueueOptions): PaintQueue {
  let jobs: Job[] = [];
  let order = 0;
  let requested = false;

  const frame = () => {
    requested = false;
    // Stable: equal priorities keep the order they were asked in.
    const queue = jobs.filter((j) => !j.cancelled).sort((a, b) => a.priority - b.priority || a.order - b.order);
    jobs = [];
    const start = options.now();
    let done = 0;
    while (done < queue.length && (done === 0 || options.now() - start < options.budgetMs)) {
      const job = queue[done++] as Job;
      if (job.cancelled) continue;
      job.cancelled = true; // ran: a later cancel is a no-op
      try {
        job.paint();
      } catch (e) {
        // One canvas failing must not stop the others; the error still reaches the console.
        queueMicrotask(() => { throw e; });
      }
    }
    jobs = queue.slice(done).concat(jobs).filter((j) => !j.cancelled);
    if (jobs.length > 0) request();
  };

  const request = () => {
    if (requested) return;
    requested = true;
    options.requestFrame(frame);
  };

  return {
    schedule(paint, priority = 1) {
      const job: Job = { paint, priority, order: order++, cancelled: false };
      jobs.push(job);
      request();
      return () => {
        job.cancelled = true;
      };
    },
    get pending() {
      return jobs.filter((j) => !j.cancelled).length;
    },
  };
}

/**
 * The page's queue. 8 ms: half a 60 Hz frame, leaving the rest to React, layout and the
 * compositor; warm, the focus view and twenty cards repaint in ~5 ms and still share one frame.
 */
export const paintQueue: PaintQueue = createPaintQueue({
  budgetMs: 8,
  requestFrame: (callback) => requestAnimationFrame(() => callback()),
  now: () => performance.now(),
});
