import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../../src/runtime/index.js';
import type { LogLine } from '../../../src/runtime/containers/logs.js';
import { busyboxTarball, cgroupsUnder, makeTempRoot, mountsUnder, removeRuntimeTestRoot, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping runtime container tests: ${skip}`);

const CGROUP_PARENT = `berth-test-${process.pid}`;

async function collect(it: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

describe.skipIf(skip !== undefined)('containers on conmon + runc', () => {
  let root: string;
  let rt: Runtime;
  let tarball: string;

  beforeAll(async () => {
    root = await makeTempRoot('containers');
    rt = new Runtime({ root, cgroupParent: CGROUP_PARENT });
    tarball = await busyboxTarball(root, async (r) => {
      await mkdir(join(r, 'seed'), { recursive: true });
      await writeFile(join(r, 'seed', 'from-image.txt'), 'seeded\n');
    });
    await rt.importImage(tarball, { ref: 'test/busybox', changes: { Cmd: ['sh', '-c', 'echo default-cmd'], Env: ['FROM_IMAGE=yes'] } });
  });

  afterAll(async () => {
    await removeRuntimeTestRoot(rt, root, CGROUP_PARENT);
  });

  it('runs a container to completion with its exit code and separate log streams', async () => {
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sh', '-c', 'echo to-out; echo to-err >&2; echo "$FROM_IMAGE $EXTRA"; exit 3'], env: ['EXTRA=1'] });
    expect((await rt.tasks.state(c.id)).status).toBe('created');
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(3);
    const st = await rt.tasks.state(c.id);
    expect(st).toMatchObject({ status: 'exited', exitCode: 3, oomKilled: false });
    const lines = await collect(rt.tasks.logs(c.id));
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['to-out', 'yes 1']);
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(['to-err']);
    expect(lines[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await collect(rt.tasks.logs(c.id, { tail: 1, stderr: false }))).map((l) => l.line)).toEqual(['yes 1']);
    await rt.containers.remove(c.id);
    await expect(rt.tasks.state(c.id)).rejects.toThrow(/not found/);
  });

  it('uses the image CMD by default and Docker entrypoint/cmd rules', async () => {
    const c = await rt.containers.create({ image: 'test/busybox' });
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(0);
    expect((await collect(rt.tasks.logs(c.id))).map((l) => l.line)).toEqual(['default-cmd']);
    await rt.containers.remove(c.id);
  });

  it('stops, restarts, execs, pauses (really frozen) and refuses to remove a running container', async () => {
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sleep', '1000'], user: 'app', hostname: 'box1', stopTimeoutSeconds: 1 });
    const started = await rt.tasks.start(c.id);
    expect(started.status).toBe('running');
    const ex = await rt.tasks.exec(c.id, { cmd: ['sh', '-c', 'id -u; hostname; echo oops >&2; exit 5'] });
    expect(ex).toEqual({ exitCode: 5, stdout: '1000\nbox1\n', stderr: 'oops\n', truncated: false });
    const top = await rt.tasks.top(c.id);
    expect(top.map((p) => p.command)).toContain('sleep 1000');
    const stats = await rt.tasks.stats(c.id);
    expect(stats.pids).toBeGreaterThanOrEqual(1);
    expect(stats.memoryUsageBytes).toBeGreaterThan(0);

    await rt.tasks.pause(c.id);
    expect((await rt.tasks.state(c.id)).status).toBe('paused');
    expect(await rt.tasks.cgroup(c).freezerState()).toBe('FROZEN');
    const pid = (await rt.tasks.state(c.id)).pid;
    // a frozen task is parked in the freezer: the kernel reports it as stopped in "D" (frozen) state
    const frozen = await readFile(`/proc/${pid}/status`, 'utf8');
    expect(frozen).toMatch(/State:\s+D/);
    await rt.tasks.unpause(c.id);
    expect(await rt.tasks.cgroup(c).freezerState()).toBe('THAWED');
    expect(await readFile(`/proc/${pid}/status`, 'utf8')).toMatch(/State:\s+S/);

    await expect(rt.containers.remove(c.id)).rejects.toThrow(/running/);
    const stopped = await rt.tasks.stop(c.id);
    expect(stopped.status).toBe('exited');
    expect(stopped.exitCode).toBe(137); // sleep as pid 1 ignores SIGTERM, so the grace period ends in SIGKILL
    const restarted = await rt.tasks.restart(c.id, 1);
    expect(restarted).toMatchObject({ status: 'running', restartCount: 1 });
    await rt.tasks.kill(c.id, 'KILL');
    expect(await rt.tasks.wait(c.id)).toBe(137);
    await rt.containers.remove(c.id);
  });

  it('reports an OOM kill as OOMKilled with exit 137', async () => {
    const c = await rt.containers.create({
      image: 'test/busybox',
      command: ['sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=200; tail /dev/zero'],
      resources: { memoryBytes: 16 * 1024 * 1024 },
    });
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(137);
    expect(await rt.tasks.state(c.id)).toMatchObject({ oomKilled: true, exitCode: 137 });
    expect((await rt.containers.inspect(c.id)).State).toMatchObject({ OOMKilled: true });
    await rt.containers.remove(c.id);
  });

  it('keeps volume data across containers, fills an empty volume from the image, honours read-only mounts', async () => {
    const hostDir = join(root, 'bind-src');
    await mkdir(hostDir, { recursive: true });
    await writeFile(join(hostDir, 'host.txt'), 'from-host\n');
    const a = await rt.containers.create({
      image: 'test/busybox',
      command: ['sh', '-c', 'cat /seed/from-image.txt; echo kept > /seed/new.txt; cat /ro/host.txt; touch /ro/x 2>/dev/null && echo writable || echo read-only'],
      mounts: [{ type: 'volume', source: 'vol1', target: '/seed' }, { type: 'bind', source: hostDir, target: '/ro', readOnly: true }],
    });
    await rt.tasks.start(a.id);
    expect(await rt.tasks.wait(a.id)).toBe(0);
    expect((await collect(rt.tasks.logs(a.id))).map((l) => l.line)).toEqual(['seeded', 'from-host', 'read-only']);
    expect(await readdir(hostDir)).toEqual(['host.txt']);
    await expect(rt.volumes.remove('vol1')).rejects.toThrow(/in use/);
    await rt.containers.remove(a.id);
    const b = await rt.containers.create({ image: 'test/busybox', command: ['cat', '/other/new.txt'], mounts: [{ type: 'volume', source: 'vol1', target: '/other' }] });
    await rt.tasks.start(b.id);
    expect(await rt.tasks.wait(b.id)).toBe(0);
    expect((await collect(rt.tasks.logs(b.id))).map((l) => l.line)).toEqual(['kept']);
    // volumes-from, read-only
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sh', '-c', 'cat /other/new.txt; echo x > /other/y || exit 9'], volumesFrom: [{ container: b.id, readOnly: true }] });
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(9);
    await rt.containers.remove(b.id);
    await rt.containers.remove(c.id);
    await rt.volumes.remove('vol1');
    expect(await rt.volumes.find('vol1')).toBeUndefined();
  });

  it('read-only rootfs rejects writes; anonymous volumes come from image VOLUME', async () => {
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sh', '-c', 'touch /x || exit 4'], readOnlyRootfs: true });
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(4);
    await rt.containers.remove(c.id);

    await rt.importImage(tarball, { ref: 'test/withvolume', changes: { Volumes: ['/data'] } });
    const v = await rt.containers.create({ image: 'test/withvolume', command: ['sh', '-c', 'echo x > /data/f'], readOnlyRootfs: true });
    const anon = v.mounts.find((m) => m.target === '/data');
    expect(anon).toMatchObject({ type: 'volume', anonymous: true, readOnly: false });
    await rt.tasks.start(v.id);
    expect(await rt.tasks.wait(v.id)).toBe(0);
    expect(await readFile(join(anon?.source as string, 'f'), 'utf8')).toBe('x\n');
    await rt.containers.remove(v.id, { volumes: true });
    expect(await rt.volumes.find(anon?.name as string)).toBeUndefined();
    await rt.images.remove('test/withvolume');
  });

  it('shares layer directories between containers of one image (no copy) and gives each its own upper dir', async () => {
    const a = await rt.containers.create({ image: 'test/busybox', command: ['true'] });
    const b = await rt.containers.create({ image: 'test/busybox', command: ['true'] });
    const ga = (await rt.containers.inspect(a.id)).GraphDriver as { Name: string; Data: Record<string, string> };
    const gb = (await rt.containers.inspect(b.id)).GraphDriver as { Name: string; Data: Record<string, string> };
    expect(ga.Name).toBe('overlay2');
    expect(ga.Data.LowerDir).toBe(gb.Data.LowerDir);
    expect(ga.Data.UpperDir).not.toBe(gb.Data.UpperDir);
    const info = await rt.images.inspect('test/busybox');
    expect(ga.Data.LowerDir).toBe(rt.snapshots.layerDir(info.RootFS.Layers[0] as string));
    // the busybox binary exists once on disk: same inode through both containers' rootfs
    const inode = (p: string): string => execFileSync('stat', ['-c', '%d:%i', '-L', p]).toString();
    expect(inode(join(ga.Data.LowerDir as string, 'bin/busybox'))).toBe(inode(join(gb.Data.LowerDir as string, 'bin/busybox')));
    expect(execFileSync('du', ['-s', '-B1', ga.Data.UpperDir as string]).toString().split('\t')[0]).not.toBe(execFileSync('du', ['-s', '-B1', ga.Data.LowerDir as string]).toString().split('\t')[0]);
    await rt.containers.remove(a.id);
    await rt.containers.remove(b.id);
  });

  it('diffs, commits, exports, copies files in and out, and reports sizes', async () => {
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sh', '-c', 'echo hello > /tmp/new.txt; rm /etc/group; echo changed >> /etc/passwd; mkdir -p /home/app/d'] });
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(0);
    const diff = await rt.changes.diff(c.id);
    expect(diff).toEqual(expect.arrayContaining([
      { kind: 'A', path: '/tmp/new.txt' }, { kind: 'C', path: '/tmp' }, { kind: 'D', path: '/etc/group' }, { kind: 'C', path: '/etc/passwd' }, { kind: 'A', path: '/home/app/d' },
    ]));
    const size = await rt.containers.size(c.id);
    expect(size.sizeRw).toBeGreaterThan(0);
    expect(size.sizeRootFs).toBeGreaterThan(size.sizeRw + 1_000_000);
    const ps = await rt.containers.list({ all: true, size: true });
    expect(ps.find((p) => p.id === c.id)).toMatchObject({ status: 'exited', exitCode: 0, sizeRw: size.sizeRw });

    const id = await rt.changes.commit(c.id, { ref: 'test/committed:v1', author: 'tester', message: 'added new.txt', changes: { Cmd: ['cat', '/tmp/new.txt'] } });
    const hist = await rt.images.history(id);
    expect(hist[0]).toMatchObject({ id, author: 'tester', comment: 'added new.txt' });
    expect(hist).toHaveLength(2);
    const d = await rt.containers.create({ image: 'test/committed:v1', command: ['sh', '-c', 'cat /tmp/new.txt; test -e /etc/group && echo group-present || echo group-gone'] });
    await rt.tasks.start(d.id);
    expect(await rt.tasks.wait(d.id)).toBe(0);
    expect((await collect(rt.tasks.logs(d.id))).map((l) => l.line)).toEqual(['hello', 'group-gone']);
    await expect(rt.images.remove('test/committed:v1')).rejects.toThrow(/being used/);

    const out = join(root, 'export.tar');
    await rt.changes.export(d.id, out);
    const listing = execFileSync('tar', ['-tf', out]).toString().split('\n');
    expect(listing).toContain('tmp/new.txt');
    expect(listing).toContain('bin/busybox');
    expect(listing).not.toContain('etc/group');

    // cp: a symlink inside the container pointing at / must resolve inside the container root
    await writeFile(join(root, 'cp-in.txt'), 'copied in');
    await rt.changes.copyTo(d.id, join(root, 'cp-in.txt'), '/tmp');
    const snapRoot = ((await rt.containers.inspect(d.id)).GraphDriver as { Data: { MergedDir: string } }).Data.MergedDir;
    execFileSync('ln', ['-s', '/', join(snapRoot, 'tmp', 'escape')]);
    await rt.changes.copyTo(d.id, join(root, 'cp-in.txt'), '/tmp/escape/etc/');
    expect(await readFile(join(snapRoot, 'etc', 'cp-in.txt'), 'utf8')).toBe('copied in');
    expect(existsSync('/etc/cp-in.txt')).toBe(false);
    await rt.changes.copyFrom(d.id, '/tmp/escape/tmp/new.txt', join(root, 'out.txt'));
    expect(await readFile(join(root, 'out.txt'), 'utf8')).toBe('hello\n');

    const df = await rt.systemDf();
    expect(df.images.total).toBeGreaterThanOrEqual(2);
    // the base layer is shared by both images and counted once
    const base = await rt.images.size('test/busybox');
    const committed = await rt.images.size('test/committed:v1');
    expect(df.images.size).toBeLessThan(base + committed);
    await rt.containers.remove(c.id);
    await rt.containers.remove(d.id);
    await rt.images.remove('test/committed:v1');
  });

  it('follows logs until the container exits', async () => {
    const c = await rt.containers.create({ image: 'test/busybox', command: ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.2; done'] });
    await rt.tasks.start(c.id);
    const lines = await collect(rt.tasks.logs(c.id, { follow: true }));
    expect(lines.map((l) => l.line)).toEqual(['line1', 'line2', 'line3']);
    await rt.containers.remove(c.id);
  });

  it('keeps names unique, resolves by name, and frees a name on a failed create and on remove', async () => {
    await expect(rt.containers.create({ image: 'test/busybox', name: 'named', command: ['true'], user: 'nosuchuser' })).rejects.toThrow(/nosuchuser/);
    const a = await rt.containers.create({ image: 'test/busybox', name: 'named', command: ['sleep', '60'] });
    await expect(rt.containers.create({ image: 'test/busybox', name: 'named', command: ['true'] })).rejects.toThrow(/name "named" is already in use/);
    expect((await rt.containers.resolve('named')).id).toBe(a.id);
    expect((await rt.containers.resolve('/named')).id).toBe(a.id);
    await rt.tasks.start('named');
    expect((await rt.tasks.state('named')).status).toBe('running');
    await rt.containers.remove('named', { force: true });
    await expect(rt.containers.resolve('named')).rejects.toThrow(/not found/);
    const b = await rt.containers.create({ image: 'test/busybox', name: 'named', command: ['true'] });
    expect((await rt.containers.resolve('named')).id).toBe(b.id);
    await rt.containers.remove(b.id);
  });

  it('leaves nothing behind after a failed create or a failed start', async () => {
    const before = await readdir(join(root, 'containers'));
    const activeBefore = await rt.snapshots.listActive();
    await expect(rt.containers.create({ image: 'test/busybox', command: ['true'], user: 'nosuchuser' })).rejects.toThrow(/unable to find user nosuchuser/);
    await expect(rt.containers.create({ image: 'no/such-image', command: ['true'] })).rejects.toThrow(/not found/);
    expect(await readdir(join(root, 'containers'))).toEqual(before);
    expect(await rt.snapshots.listActive()).toEqual(activeBefore);
    const c = await rt.containers.create({ image: 'test/busybox', command: ['/no/such/binary'] });
    await expect(rt.tasks.start(c.id)).rejects.toThrow();
    expect(await rt.tasks.runc.state(c.id)).toBeUndefined();
    expect(await cgroupsUnder(CGROUP_PARENT)).toEqual([]);
    expect(execFileSync('ps', ['-eo', 'args']).toString()).not.toContain(`-c ${c.id}`);
    const st = await rt.tasks.state(c.id);
    expect(st.status).toBe('created');
    expect(st.error).toMatch(/no such file|not found/i);
    await rt.containers.remove(c.id);
    expect(mountsUnder(root)).toEqual([]);
    expect(await readdir(join(root, 'containers'))).toEqual(before);
  });
});
