/**
 * Issue 17, findings 2 and 3: docker cp both ways and volume subPath resolve every path inside the
 * container's root (or the volume) at the moment they use it. A container swapping a directory for a
 * symlink to / in a loop never makes cp read or write a host file; a subPath through a symlink
 * planted in the volume is refused.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../../src/runtime/index.js';
import { busyboxTarball, makeTempRoot, mountsUnder, removeRuntimeTestRoot, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
const CGROUP_PARENT = `berth-test-paths-${process.pid}`;
const ROUNDS = 1000;

describe.skipIf(skip !== undefined)('paths inside the container root', () => {
  let root: string;
  let rt: Runtime;
  /** A host directory whose path the container mirrors: what a cp that followed the swapped symlink would reach. */
  let hostDir: string;

  beforeAll(async () => {
    root = await makeTempRoot('paths');
    hostDir = await mkdtemp('/tmp/berth-race-host-');
    await writeFile(join(hostDir, 'secret'), 'HOST-SECRET\n');
    rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    await rt.importImage(await busyboxTarball(root, async (r) => symlink('busybox', join(r, 'bin', 'ln'))), { ref: 'test/busybox' });
  });

  afterAll(async () => {
    await removeRuntimeTestRoot(rt, root, CGROUP_PARENT);
    await rm(hostDir, { recursive: true, force: true });
  });

  it(`cp out and in while the container swaps a directory and a symlink to / (${ROUNDS} rounds each way): no host file is read or written`, async () => {
    // /w/x is a directory holding <hostDir>/secret, then a symlink to /: through it, the host's hostDir
    const script = `mkdir -p ${hostDir}; echo container-root > ${hostDir}/secret
      while :; do rm -rf /w/x; mkdir -p /w/x${hostDir}; echo container-dir > /w/x${hostDir}/secret; rm -rf /w/x; ln -s / /w/x; done`;
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sh', '-c', script] });
    await rt.tasks.start(c.id);
    const out = join(root, 'cp-out');
    const seen = new Map<string, number>();
    for (let i = 0; i < ROUNDS; i++) {
      await rm(out, { recursive: true, force: true });
      const got = await rt.changes.copyFrom(c.id, `/w/x${hostDir}/secret`, out).then(
        () => readFile(out, 'utf8').catch((e: Error) => `error: nothing written: ${e.message}`),
        (e: Error) => `error: ${e.message.replace(/[0-9a-f]{64}/g, 'ID')}`,
      );
      seen.set(got, (seen.get(got) ?? 0) + 1);
    }
    // what the container has at that path at some moment, or nothing: never the host's file
    for (const got of seen.keys()) expect(got).toMatch(/^(|container-root\n|container-dir\n|error: .*(does not exist|ENOENT|ENOTDIR|ELOOP).*)$/);
    expect([...seen.keys()].some((g) => g.startsWith('container'))).toBe(true);

    await writeFile(join(root, 'payload'), 'from-cp\n');
    for (let i = 0; i < ROUNDS; i++) {
      await rt.changes.copyTo(c.id, join(root, 'payload'), `/w/x${hostDir}/`).catch(() => undefined);
    }
    expect((await readdir(hostDir)).sort()).toEqual(['secret']);
    expect(await readFile(join(hostDir, 'secret'), 'utf8')).toBe('HOST-SECRET\n');
    await rt.containers.remove(c.id, { force: true });
  });

  it('the tar archive (berth cp through the agent) resolves the same way', async () => {
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sh', '-c', `mkdir -p /w; ln -s / /w/x; echo inside > /etc/hostname-copy; sleep 100`] });
    await rt.tasks.start(c.id);
    await expect.poll(async () => rt.changes.copyFrom(c.id, '/etc/hostname-copy', join(root, 'probe')).then(() => true, () => false)).toBe(true);
    // /w/x/etc/passwd is the container's /etc/passwd, never the host's
    const src = await rt.changes.archive(c.id, '/w/x/etc/passwd');
    const chunks: Buffer[] = [];
    const { PassThrough } = await import('node:stream');
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => chunks.push(d));
    await src.writeTo(sink);
    const tar = Buffer.concat(chunks).toString('latin1');
    expect(tar).toContain('root:x:0:0:root:/root:/bin/sh');
    expect(tar).not.toContain(await readFile('/etc/passwd', 'latin1').then((t) => t.split('\n').find((l) => !l.startsWith('root:')) ?? 'x'));
    await expect(rt.changes.archive(c.id, '/no/such/file')).rejects.toThrow(/does not exist in the container/);
    await rt.containers.remove(c.id, { force: true });
  });

  it('a subPath through a symlink planted in the volume is refused; a plain one mounts only that directory', async () => {
    const vol = await rt.volumes.create('paths-vol');
    await mkdir(join(vol.mountpoint, 'real', 'dir'), { recursive: true });
    await writeFile(join(vol.mountpoint, 'real', 'dir', 'f'), 'in-volume\n');
    await symlink('/etc', join(vol.mountpoint, 'link'));
    await symlink('/', join(vol.mountpoint, 'real', 'up'));
    for (const subPath of ['link', 'real/up/etc', 'link/']) {
      await expect(
        rt.containers.create({ image: 'test/busybox', command: ['ls', '/data'], mounts: [{ type: 'volume', source: 'paths-vol', target: '/data', subPath }] }),
      ).rejects.toThrow(/mounts\[0\]\.subPath: "(link|real\/up)" is a symlink/);
    }
    expect(await rt.containers.list({ all: true })).toEqual([]);
    const c = await rt.containers.create({
      image: 'test/busybox',
      command: ['sh', '-c', 'cat /data/f; ls /data; touch /data/new'],
      mounts: [{ type: 'volume', source: 'paths-vol', target: '/data', subPath: 'real/dir' }],
    });
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(0);
    const lines: string[] = [];
    for await (const l of rt.tasks.logs(c.id)) lines.push(l.line);
    expect(lines).toEqual(['in-volume', 'f']);
    expect(existsSync(join(vol.mountpoint, 'real', 'dir', 'new'))).toBe(true);
    // a missing subPath is made inside the volume, as kubelet does
    const d = await rt.containers.create({ image: 'test/busybox', command: ['true'], mounts: [{ type: 'volume', source: 'paths-vol', target: '/data', subPath: 'made/here' }] });
    expect(existsSync(join(vol.mountpoint, 'made', 'here'))).toBe(true);
    await rt.containers.remove(c.id);
    await rt.containers.remove(d.id);
    expect(mountsUnder(root).filter((m) => m.includes('subpaths'))).toEqual([]);
    expect(await readFile(join(vol.mountpoint, 'real', 'dir', 'f'), 'utf8')).toBe('in-volume\n');
  });
});
