import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NameIndex } from '../../../src/runtime/containers/names.js';

describe('NameIndex', () => {
  let root: string;
  const live = new Set<string>();
  const index = (scan: Array<{ name: string; id: string }> = []): NameIndex =>
    new NameIndex(join(root, 'names'), async (id) => live.has(id), async () => scan);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-names-'));
    live.clear();
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('gives a name to one container only, and frees it on release', async () => {
    const n = index();
    live.add('a').add('b');
    await n.reserve('web', 'a');
    await expect(n.reserve('web', 'b')).rejects.toThrow(/name "web" is already in use/);
    expect(await n.lookup('web')).toBe('a');
    await n.release('web', 'b'); // not the holder: nothing happens
    expect(await n.lookup('web')).toBe('a');
    await n.release('web', 'a');
    expect(await n.lookup('web')).toBeUndefined();
    await n.reserve('web', 'b');
    expect(await n.lookup('web')).toBe('b');
  });

  it('takes over a name whose container is gone (a create that died half-way)', async () => {
    const n = index();
    live.add('dead');
    await n.reserve('job', 'dead');
    live.delete('dead');
    live.add('new');
    expect(await n.lookup('job')).toBeUndefined();
    await n.reserve('job', 'new');
    expect(await n.lookup('job')).toBe('new');
  });

  it('concurrent reservations of one name: exactly one wins', async () => {
    const n = index();
    const ids = Array.from({ length: 8 }, (_, i) => `id${i}`);
    for (const id of ids) live.add(id);
    const results = await Promise.allSettled(ids.map((id) => n.reserve('same', id)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('is built from the records of a root that predates it', async () => {
    live.add('x').add('y');
    await mkdir(root, { recursive: true });
    const n = index([{ name: 'one', id: 'x' }, { name: 'two', id: 'y' }]);
    expect(await n.lookup('two')).toBe('y');
    await expect(n.reserve('one', 'z')).rejects.toThrow(/already in use/);
    expect((await readdir(join(root, 'names'))).sort()).toEqual(['one', 'two']);
  });
});

describe('NameIndex build', () => {
  it('builds once when many first calls race (one process, one build)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-names-race-'));
    let scans = 0;
    const n = new NameIndex(join(root, 'names'), async () => true, async () => {
      scans++;
      return [{ name: 'old', id: 'x' }];
    });
    const ids = Array.from({ length: 10 }, (_, i) => `id${i}`);
    await Promise.all(ids.map((id) => n.reserve(`n-${id}`, id)));
    expect(scans).toBe(1);
    expect((await readdir(join(root, 'names'))).sort()).toEqual(['n-id0', 'n-id1', 'n-id2', 'n-id3', 'n-id4', 'n-id5', 'n-id6', 'n-id7', 'n-id8', 'n-id9', 'old']);
    await rm(root, { recursive: true, force: true });
  });
});
