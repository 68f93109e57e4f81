import { describe, expect, it } from 'vitest';
import { DeferredWrites } from '../../../src/agent/deferred-writes.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('DeferredWrites', () => {
  it('holds writes until flush, and writes added after a flush until the next one or settle', async () => {
    const done: string[] = [];
    const w = new DeferredWrites();
    w.add(() => done.push('finalizer'));
    w.add(() => done.push('Created'));
    await tick();
    expect(done).toEqual([]);
    w.flush();
    await tick();
    expect(done).toEqual(['finalizer', 'Created']);
    w.add(() => done.push('Started'));
    await tick();
    expect(done).toEqual(['finalizer', 'Created']);
    await w.settle();
    expect(done).toEqual(['finalizer', 'Created', 'Started']);
  });

  it('settle waits for every write and throws the first failure', async () => {
    const w = new DeferredWrites();
    let slowDone = false;
    w.add(() => new Promise<void>((r) => setTimeout(() => ((slowDone = true), r()), 20)));
    w.add(() => Promise.reject(new Error('409 Conflict')));
    w.add(() => Promise.reject(new Error('second')));
    w.flush(); // rejects before anyone awaits: must not count as an unhandled rejection
    await tick();
    await expect(w.settle()).rejects.toThrow('409 Conflict');
    expect(slowDone).toBe(true);
  });
});
