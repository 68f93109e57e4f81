import { describe, expect, it } from 'vitest';
import { allEnded } from '../../../src/util/all-ended.js';

describe('allEnded', () => {
  it('gives the values in order, typed as a tuple', async () => {
    const [a, b] = await allEnded([Promise.resolve(1), Promise.resolve('x')] as const);
    expect([a, b]).toEqual([1, 'x']);
  });

  it('rejects with the first failure only once every step has ended', async () => {
    let slowEnded = false;
    const slow = new Promise<void>((r) => setTimeout(() => ((slowEnded = true), r()), 30));
    await expect(allEnded([Promise.reject(new Error('mount failed')), slow, Promise.reject(new Error('later'))] as const)).rejects.toThrow('mount failed');
    expect(slowEnded).toBe(true);
  });
});
