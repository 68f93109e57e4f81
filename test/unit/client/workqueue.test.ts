import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../../src/client/workqueue.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('WorkQueue', () => {
  it('queues a key once however often it is added', async () => {
    const q = new WorkQueue('t-dedupe');
    const seen: string[] = [];
    q.add('a');
    q.add('a');
    q.add('b');
    q.run(1, async (k) => {
      seen.push(k);
    });
    await expect.poll(() => seen.length).toBe(2);
    expect(seen).toEqual(['a', 'b']);
    await q.shutdown();
  });

  it('never runs one key on two workers; a re-add during processing runs it again after', async () => {
    const q = new WorkQueue('t-inflight');
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    let release: () => void = () => {};
    const firstStarted = new Promise<void>((started) => {
      q.run(4, async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        runs++;
        if (runs === 1) {
          started();
          await new Promise<void>((r) => (release = r));
        }
        inFlight--;
      });
    });
    q.add('k');
    await firstStarted;
    q.add('k');
    q.add('k');
    await tick();
    expect(runs).toBe(1);
    release();
    await expect.poll(() => runs).toBe(2);
    expect(maxInFlight).toBe(1);
    await q.shutdown();
  });

  it('retries failures with exponential backoff and forgets on success', async () => {
    const q = new WorkQueue('t-backoff', { baseMs: 1, maxMs: 8 });
    expect([0, 1, 2, 3, 4, 5].map((n) => q.nextDelay(n))).toEqual([1, 2, 4, 8, 8, 8]);
    let attempts = 0;
    q.run(1, async () => {
      attempts++;
      if (attempts < 4) throw new Error('not yet');
    });
    q.add('x');
    await expect.poll(() => attempts).toBe(4);
    await expect.poll(() => q.failuresOf('x')).toBe(0);
    await q.shutdown();
  });

  it('bounds concurrency across keys', async () => {
    const q = new WorkQueue('t-bound');
    let inFlight = 0;
    let max = 0;
    let done = 0;
    q.run(3, async () => {
      inFlight++;
      max = Math.max(max, inFlight);
      await tick();
      inFlight--;
      done++;
    });
    for (let i = 0; i < 12; i++) q.add(`k${i}`);
    await expect.poll(() => done).toBe(12);
    expect(max).toBe(3);
    await q.shutdown();
  });
});
