/** Image objects with spec.source.build: the agent builds from a directory or a git repository. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GV, imageManifest, phaseOf, runtimeSkipReason, startTestNode, statusOf, type TestNode } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping agent build tests: ${skip}`);

type ImageStatus = { id?: string; sourceRevision?: string; buildLog?: string[]; conditions?: { type: string; reason?: string; message?: string }[] };

describe.skipIf(!!skip)('agent builds Images', () => {
  let t: TestNode;
  const POLL = { timeout: 60_000, interval: 250 };
  const image = async (name: string) => t.client.get('images', 'default', name);
  const gitIn = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args]).toString().trim();

  beforeAll(async () => {
    t = await startTestNode();
    await t.apply(imageManifest(t.tarball));
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('builds from a directory on the node and keeps the log tail', async () => {
    await expect.poll(async () => phaseOf(await image('busybox')), POLL).toBe('Ready');
    const ctx = join(t.dir, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'msg.txt'), 'from a directory\n');
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY msg.txt /msg.txt\nCMD ["cat", "/msg.txt"]\n');
    await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'app-dir', namespace: 'default' }, spec: { ref: 'app:dir', source: { build: { context: { dir: ctx } } } } });
    await expect.poll(async () => phaseOf(await image('app-dir')), POLL).toBe('Ready');
    const st = statusOf(await image('app-dir')) as ImageStatus;
    expect(st.id).toMatch(/^sha256:/);
    expect(st.buildLog?.join('\n')).toContain('COPY msg.txt /msg.txt');
    expect(await t.node.runtime!.images.exists('app:dir')).toBe(true);
  });

  it('builds from git, and a new commit gives a new image on the next pass', async () => {
    const repo = join(t.dir, 'repo');
    await mkdir(join(repo, 'app'), { recursive: true });
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    await writeFile(join(repo, 'app', 'Dockerfile'), 'FROM busybox:latest\nCOPY v.txt /v.txt\n');
    await writeFile(join(repo, 'app', 'v.txt'), 'one\n');
    gitIn(repo, 'add', '.');
    gitIn(repo, 'commit', '-q', '-m', 'one');
    const first = gitIn(repo, 'rev-parse', 'HEAD');
    await t.apply({
      apiVersion: GV,
      kind: 'Image',
      metadata: { name: 'app-git', namespace: 'default' },
      spec: { ref: 'app:git', source: { build: { context: { git: { url: `file://${repo}`, ref: 'main', path: 'app' } } } } },
    });
    await expect.poll(async () => (statusOf(await image('app-git')) as ImageStatus).sourceRevision, POLL).toBe(first);
    const firstId = (statusOf(await image('app-git')) as ImageStatus).id;

    await writeFile(join(repo, 'app', 'v.txt'), 'two\n');
    gitIn(repo, 'commit', '-q', '-am', 'two');
    const second = gitIn(repo, 'rev-parse', 'HEAD');
    // Any pass looks at the source again; touching the object makes the next pass come now.
    await t.client.patch('images', 'default', 'app-git', { metadata: { annotations: { poke: '1' } } });
    await expect.poll(async () => (statusOf(await image('app-git')) as ImageStatus).sourceRevision, POLL).toBe(second);
    expect((statusOf(await image('app-git')) as ImageStatus).id).not.toBe(firstId);
  });

  it('reports a failing step as a BuildFailed condition with the log, and leaves no image', async () => {
    const ctx = join(t.dir, 'bad');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN echo about to fail && exit 3\n');
    await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'app-bad', namespace: 'default' }, spec: { ref: 'app:bad', source: { build: { context: { dir: ctx } } } } });
    await expect.poll(async () => (statusOf(await image('app-bad')) as ImageStatus).conditions?.find((c) => c.type === 'Ready')?.reason, POLL).toBe('BuildFailed');
    const st = statusOf(await image('app-bad')) as ImageStatus;
    expect(st.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(/Dockerfile:2/);
    expect(st.buildLog?.join('\n')).toContain('about to fail');
    expect(await t.node.runtime!.images.exists('app:bad')).toBe(false);
  });
});
