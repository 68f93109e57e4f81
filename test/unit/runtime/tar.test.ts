import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, writeFile, mkdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packDirectory } from '../../../src/util/tar/pack-dir.js';
import { readEntryData, readTarEntries } from '../../../src/runtime/tar/reader.js';
import { TarWriter } from '../../../src/util/tar/writer.js';
import { ContentStore } from '../../../src/runtime/content/store.js';
import { sha256Of } from '../../../src/runtime/util/digest.js';

describe('tar reader and writer', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-tar-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips long names, symlinks and hardlinks, and GNU tar agrees', async () => {
    const src = join(dir, 'src');
    const long = 'd'.repeat(120);
    await mkdir(join(src, long), { recursive: true });
    await writeFile(join(src, long, 'f.txt'), 'payload');
    await symlink('../x', join(src, 'link'));
    execFileSync('ln', [join(src, long, 'f.txt'), join(src, 'hard')]);
    const out = join(dir, 'a.tar');
    const w = await TarWriter.create(out);
    await packDirectory(w, src);
    await w.close();
    const gnu = execFileSync('tar', ['-tvf', out]).toString();
    expect(gnu).toContain(`${long}/f.txt`);
    expect(gnu).toContain('link -> ../x');
    const fh = await open(out, 'r');
    const entries = [];
    for await (const e of readTarEntries(fh)) entries.push(e);
    const file = entries.find((e) => e.name === `${long}/f.txt`);
    expect(file?.type).toBe('file');
    expect((await readEntryData(fh, file!)).toString()).toBe('payload');
    expect(entries.find((e) => e.name === 'link')).toMatchObject({ type: 'symlink', linkname: '../x' });
    const hard = entries.filter((e) => e.type === 'hardlink');
    expect(hard).toHaveLength(1);
    await fh.close();
  });

  it('rejects garbage with a clear error', async () => {
    const p = join(dir, 'bad.tar');
    await writeFile(p, Buffer.alloc(1024, 7));
    const fh = await open(p, 'r');
    await expect((async () => {
      for await (const _ of readTarEntries(fh)) void _;
    })()).rejects.toThrow(/bad header checksum|bad octal/);
    await fh.close();
  });

  it('content store verifies digests on ingest and garbage-collects', async () => {
    const cs = new ContentStore(join(dir, 'cs'));
    const d = await cs.putBuffer(Buffer.from('hello'));
    expect(d).toBe(sha256Of('hello'));
    await expect(cs.putBuffer(Buffer.from('other'), d)).rejects.toThrow(/digest mismatch/);
    expect(await cs.list()).toEqual([d]);
    expect((await cs.gc(new Set())).removed).toEqual([d]);
    expect(await cs.has(d)).toBe(false);
  });
});
