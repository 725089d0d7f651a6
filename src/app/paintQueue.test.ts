import { describe, expect, it } from 'vitest';
import { createPaintQueue } from './paintQueue';

/** A queue on a fake clock: each paint advances it by `cost` ms; frames run when asked. */
function harness(budgetMs: number) {
  let clock = 0;
  const frames: (() => void)[] = [];
  const queue = createPaintQueue({ budgetMs, requestFrame: (cb) => frames.push(cb), now: () => clock });
  const log: string[] = [];
  const paint = (name: string, cost: number) => () => {
    clock += cost;
    log.push(name);
  };
  const runFrame = () => {
    const cb = frames.shift();
    if (!cb) throw new Error('no frame requested');
    cb();
  };
  return { queue, log, paint, runFrame, frames };
}

describe('paintQueue', () => {
  it('paints in the next frame, not at once, and asks for one frame for many paints', () => {
    const h = harness(8);
    h.queue.schedule(h.paint('a', 1));
    h.queue.schedule(h.paint('b', 1));
    expect(h.log).toEqual([]);
    expect(h.frames).toHaveLength(1);
    h.runFrame();
    expect(h.log).toEqual(['a', 'b']);
    expect(h.frames).toHaveLength(0);
  });

  it('stops a frame once the budget is spent and paints the rest in the next ones', () => {
    const h = harness(8);
    for (const name of ['a', 'b', 'c', 'd', 'e']) h.queue.schedule(h.paint(name, 5));
    h.runFrame();
    expect(h.log).toEqual(['a', 'b']); // 5 ms, then 10 ms ≥ 8: stop
    expect(h.queue.pending).toBe(3);
    h.runFrame();
    expect(h.log).toEqual(['a', 'b', 'c', 'd']);
    h.runFrame();
    expect(h.log).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(h.frames).toHaveLength(0);
  });

  it('always runs one paint per frame, however long it takes', () => {
    const h = harness(8);
    h.queue.schedule(h.paint('slow', 100));
    h.queue.schedule(h.paint('next', 1));
    h.runFrame();
    expect(h.log).toEqual(['slow']);
    h.runFrame();
    expect(h.log).toEqual(['slow', 'next']);
  });

  it('runs lower priorities first, in the order asked within a priority', () => {
    const h = harness(100);
    h.queue.schedule(h.paint('card1', 1), 1);
    h.queue.schedule(h.paint('focus', 1), 0);
    h.queue.schedule(h.paint('card2', 1), 1);
    h.runFrame();
    expect(h.log).toEqual(['focus', 'card1', 'card2']);
  });

  it('keeps a deferred paint ahead of paints asked later with the same priority', () => {
    const h = harness(8);
    h.queue.schedule(h.paint('a', 10));
    h.queue.schedule(h.paint('b', 1));
    h.runFrame();
    h.queue.schedule(h.paint('c', 1));
    h.runFrame();
    expect(h.log).toEqual(['a', 'b', 'c']);
  });

  it('forgets a cancelled paint, before its frame or while it waits for a later one', () => {
    const h = harness(8);
    const cancelA = h.queue.schedule(h.paint('a', 1));
    cancelA();
    h.runFrame();
    expect(h.log).toEqual([]);
    h.queue.schedule(h.paint('b', 10));
    const cancelC = h.queue.schedule(h.paint('c', 1));
    h.runFrame();
    cancelC();
    expect(h.queue.pending).toBe(0);
    expect(h.frames).toHaveLength(1); // already asked for; it finds nothing to do
    h.runFrame();
    expect(h.log).toEqual(['b']);
  });

  it('a paint that throws does not stop the others', async () => {
    const h = harness(100);
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onError);
    try {
      h.queue.schedule(() => { throw new Error('broken canvas'); });
      h.queue.schedule(h.paint('after', 1));
      h.runFrame();
      expect(h.log).toEqual(['after']);
      await new Promise((r) => setTimeout(r, 0));
      expect(errors.map((e) => (e as Error).message)).toEqual(['broken canvas']);
    } finally {
      process.off('uncaughtException', onError);
    }
  });

  it('a paint may ask for another paint: it runs in a later frame', () => {
    const h = harness(100);
    h.queue.schedule(() => {
      h.log.push('first');
      h.queue.schedule(h.paint('second', 1));
    });
    h.runFrame();
    expect(h.log).toEqual(['first']);
    h.runFrame();
    expect(h.log).toEqual(['first', 'second']);
  });
});
