import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildCache, chainKey } from '../../../src/runtime/build/cache.js';
import { BuildContext, cleanContextPath } from '../../../src/runtime/build/context.js';
import { ContextHashCache } from '../../../src/runtime/build/hash-cache.js';

describe('build context', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-ctx-'));
    await mkdir(join(dir, 'src', 'deep'), { recursive: true });
    await writeFile(join(dir, 'src', 'a.ts'), 'a');
    await writeFile(join(dir, 'src', 'deep', 'b.ts'), 'b');
    await writeFile(join(dir, 'src', 'notes.md'), 'n');
    await writeFile(join(dir, 'top.ts'), 't');
    await writeFile(join(dir, 'secret.key'), 's');
    await symlink('top.ts', join(dir, 'link'));
    await writeFile(join(dir, 'Dockerfile.dockerignore'), '*.key\n');
    await writeFile(join(dir, '.dockerignore'), 'src/notes.md\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prefers <Dockerfile>.dockerignore over .dockerignore', async () => {
    const byName = await BuildContext.open(dir, 'Dockerfile');
    expect((await byName.list()).has('secret.key')).toBe(false);
    expect((await byName.list()).has('src/notes.md')).toBe(true);
    const plain = await BuildContext.open(dir, 'other.Dockerfile');
    expect((await plain.list()).has('secret.key')).toBe(true);
    expect((await plain.list()).has('src/notes.md')).toBe(false);
    const given = await BuildContext.open(dir, 'Dockerfile', undefined, '*.ts\n');
    expect((await given.list()).has('top.ts')).toBe(false);
    expect((await given.list()).has('secret.key')).toBe(true);
  });

  it('matches exact paths and globs over the whole relative path, and refuses paths outside', async () => {
    const ctx = await BuildContext.open(dir);
    expect(await ctx.match('./src/')).toEqual(['src']);
    expect(await ctx.match('*.ts')).toEqual(['top.ts']);
    expect(await ctx.match('src/*.ts')).toEqual(['src/a.ts']);
    await expect(ctx.match('../x')).rejects.toThrow('forbidden path outside the build context: ../x');
    await expect(ctx.match('secret.key')).rejects.toThrow(/excluded by .dockerignore/);
    expect(cleanContextPath('a/../../b')).toBeUndefined();
    expect(cleanContextPath('/a/./b/')).toBe('a/b');
  });

  it('checksums content, not timestamps, and changes when a file inside a directory changes', async () => {
    const sum1 = await (await BuildContext.open(dir)).checksum('src');
    await writeFile(join(dir, 'src', 'deep', 'b.ts'), 'b');
    expect(await (await BuildContext.open(dir)).checksum('src')).toBe(sum1);
    await writeFile(join(dir, 'src', 'deep', 'b.ts'), 'B');
    expect(await (await BuildContext.open(dir)).checksum('src')).not.toBe(sum1);
    const ctx = await BuildContext.open(dir);
    expect(await ctx.checksum('link')).not.toBe(await ctx.checksum('top.ts'));
  });

  it('keeps the cache index as files keyed by the chain', async () => {
    const cache = new BuildCache(dir);
    const k = chainKey(chainKey('image:sha256:x', 'ENV A=1'), 'RUN x');
    expect(await cache.get(k)).toBeUndefined();
    await cache.put(k, { created: '2024-01-01T00:00:00Z', emptyLayer: true });
    expect(await cache.get(k)).toEqual({ created: '2024-01-01T00:00:00Z', emptyLayer: true });
    expect(chainKey('a', 'b')).not.toBe(chainKey('a', 'c'));
  });

  it('remembers file hashes across builds while the file identity is unchanged, never for just-written files', async () => {
    const id = { dev: 1, ino: 2, size: 3, mtimeMs: 1000, ctimeMs: 1000 };
    const a = new ContextHashCache(dir);
    await a.set('/ctx/f', id, 'h1', 10_000);
    await a.set('/ctx/racy', { ...id, mtimeMs: 9_500 }, 'h2', 10_000);
    await a.save();
    const b = new ContextHashCache(dir);
    expect(await b.get('/ctx/f', id)).toBe('h1');
    expect(await b.get('/ctx/f', { ...id, ctimeMs: 1001 })).toBeUndefined();
    expect(await b.get('/ctx/racy', { ...id, mtimeMs: 9_500 })).toBeUndefined();
  });
});
