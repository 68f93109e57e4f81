/** The build context the client sends: .dockerignore applied, the Dockerfile always in, a stdin Dockerfile added. */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packContext } from '../../../src/client/build-context.js';

const list = (tar: string): string[] => execFileSync('tar', ['-tf', tar]).toString().trim().split('\n');

describe('packContext', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('leaves out what .dockerignore excludes (exceptions re-include), keeps the Dockerfile and .dockerignore, sorted', async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-ctx-'));
    const ctx = join(dir, 'ctx');
    await mkdir(join(ctx, 'logs'), { recursive: true });
    await mkdir(join(ctx, 'src'), { recursive: true });
    for (const f of ['Dockerfile', '.dockerignore', 'secret.txt', 'logs/a.log', 'logs/keep.log', 'src/main.c', 'b.txt']) await writeFile(join(ctx, f), f);
    const ignore = 'secret.txt\nlogs\n!logs/keep.log\nDockerfile\n';
    await packContext(ctx, join(dir, 'out.tar'), { ignoreText: ignore });
    // logs/ is walked for its exception; what stays excluded never leaves the client
    expect(list(join(dir, 'out.tar'))).toEqual(['.dockerignore', 'Dockerfile', 'b.txt', 'logs/', 'logs/keep.log', 'src/', 'src/main.c']);
    await packContext(ctx, join(dir, 'plain.tar'), { ignoreText: 'secret.txt\nlogs\n' });
    expect(list(join(dir, 'plain.tar'))).toEqual(['.dockerignore', 'Dockerfile', 'b.txt', 'src/', 'src/main.c']);
  });

  it('adds a Dockerfile read from stdin under its own name', async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-ctx-'));
    const ctx = join(dir, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'a.txt'), 'a');
    await writeFile(join(ctx, 'x'), 'the file named like the stdin Dockerfile is replaced by it');
    await packContext(ctx, join(dir, 'out.tar'), { dockerfile: 'x', dockerfileText: 'FROM scratch\n' });
    expect(list(join(dir, 'out.tar'))).toEqual(['a.txt', 'x']);
    expect(execFileSync('tar', ['-xOf', join(dir, 'out.tar'), 'x']).toString()).toBe('FROM scratch\n');
  });
});
