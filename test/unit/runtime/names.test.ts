import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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

  it('100 rounds of 8 concurrent reservations of one name (two indexes on one directory, every fourth name stale): exactly one winner each', async () => {
    const a = index();
    const b = index();
    await a.names(); // the directory exists: stale names can be laid in it
    for (let r = 0; r < 100; r += 4) await writeFile(join(root, 'names', `r${r}`), `dead-${r}`);
    for (let r = 0; r < 100; r++) {
      const ids = Array.from({ length: 8 }, (_, k) => `id-${r}-${k}`);
      for (const id of ids) live.add(id);
      const results = await Promise.allSettled(ids.map((id, k) => (k % 2 ? a : b).reserve(`r${r}`, id)));
      const winners = ids.filter((_, k) => results[k]?.status === 'fulfilled');
      expect(winners, `round ${r}`).toHaveLength(1);
      for (const res of results) if (res.status === 'rejected') expect(String(res.reason)).toMatch(/already in use/);
      expect(await a.lookup(`r${r}`)).toBe(winners[0]);
    }
    expect((await readdir(join(root, 'names'))).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('100 rounds of 8 concurrent reservations in each of 4 processes on one directory (every fourth name stale): exactly one winner each', async () => {
    const dir = join(root, 'names');
    await mkdir(dir, { recursive: true });
    for (let r = 0; r < 100; r += 4) await writeFile(join(dir, `r${r}`), `dead-${r}`);
    const script = join(import.meta.dirname, 'fixtures', 'reserve-names.ts');
    const children = Array.from({ length: 4 }, (_, i) => spawn(process.execPath, ['--import', 'tsx', script, dir, `p${i}`, '100'], { stdio: ['pipe', 'pipe', 'inherit'] }));
    let ready = 0;
    let allReady!: () => void;
    const readies = new Promise<void>((r) => (allReady = r));
    const outputs = children.map(
      (c) =>
        new Promise<Array<{ round: number; id: string }>>((resolve, reject) => {
          let out = '';
          c.stdout.on('data', (d: Buffer) => {
            const before = out;
            out += d.toString();
            if (!before.startsWith('ready\n') && out.startsWith('ready\n') && ++ready === children.length) allReady();
          });
          c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.slice(6)) as Array<{ round: number; id: string }>) : reject(new Error(`child exited ${code}`))));
        }),
    );
    // every child has loaded before any starts, so that the rounds overlap across processes
    await readies;
    for (const c of children) c.stdin.end('go\n');
    const won = (await Promise.all(outputs)).flat();
    for (let r = 0; r < 100; r++) {
      const winners = won.filter((w) => w.round === r);
      expect(winners, `round ${r}`).toHaveLength(1);
      expect((await readFile(join(dir, `r${r}`), 'utf8')).trim()).toBe(winners[0]?.id);
    }
  }, 60_000);

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
