import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replaceFile } from '../../../src/util/atomic-write.js';
import { ParsedFileCache } from '../../../src/runtime/util/parsed-file-cache.js';

describe('ParsedFileCache', () => {
  let dir: string;
  let parses = 0;
  const cache = (): ParsedFileCache<{ v: number }> =>
    new ParsedFileCache((raw) => {
      parses++;
      const v = (raw as { v?: unknown }).v;
      if (typeof v !== 'number') throw new Error('v must be a number');
      return { v };
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-pfc-'));
    parses = 0;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses a file once while it stays the same, and again once it is replaced', async () => {
    const c = cache();
    const f = join(dir, 'a.json');
    await replaceFile(f, JSON.stringify({ v: 1 }));
    expect(await c.read(f)).toEqual({ v: 1 });
    expect(await c.read(f)).toEqual({ v: 1 });
    expect(parses).toBe(1);
    // same size, written at once: the new inode tells them apart
    await replaceFile(f, JSON.stringify({ v: 2 }));
    expect(await c.read(f)).toEqual({ v: 2 });
    expect(parses).toBe(2);
  });

  it('sees a rewrite in place of the same length, and a file that goes away', async () => {
    const c = cache();
    const f = join(dir, 'b.json');
    await writeFile(f, JSON.stringify({ v: 3 }));
    expect(await c.read(f)).toEqual({ v: 3 });
    await new Promise((r) => setTimeout(r, 20)); // past the filesystem's timestamp granularity
    await writeFile(f, JSON.stringify({ v: 4 }));
    expect(await c.read(f)).toEqual({ v: 4 });
    await rm(f);
    expect(await c.read(f)).toBeUndefined();
  });

  it('re-reads after forget(), and keeps nothing when the parse fails', async () => {
    const c = cache();
    const f = join(dir, 'c.json');
    await replaceFile(f, JSON.stringify({ v: 5 }));
    await c.read(f);
    c.forget(f);
    await c.read(f);
    expect(parses).toBe(2);
    await replaceFile(f, JSON.stringify({ v: 'x' }));
    await expect(c.read(f)).rejects.toThrow(/v must be a number/);
    await expect(c.read(f)).rejects.toThrow(/v must be a number/);
  });
});
