/** diff and commit on the copy snapshotter (the fallback without overlayfs), with real containers. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, link, lstat, mkdir, readdir, readFile, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../../src/runtime/index.js';
import { listOpaqueDirs } from '../../../src/runtime/snapshots/opaque-dirs.js';
import { busyboxTarball, makeTempRoot, removeRuntimeTestRoot, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping copy snapshotter tests: ${skip}`);

const CGROUP_PARENT = `berth-test-copy-${process.pid}`;
const EXTRA_APPLETS = ['find', 'sort', 'md5sum', 'cut', 'chmod', 'chown', 'ln', 'readlink', 'mkfifo'];
/** A fixed, whole-second mtime for the image's files, so a changed mtime stands out. */
const IMAGE_TIME = 1_600_000_000;

/** The image: files and directories for every kind of change, plus what must survive the copy unchanged. */
async function imageContent(r: string): Promise<void> {
  for (const a of EXTRA_APPLETS) await symlink('busybox', join(r, 'bin', a));
  const file = async (rel: string, content: string, mode = 0o644): Promise<void> => {
    await mkdir(join(r, rel, '..'), { recursive: true });
    await writeFile(join(r, rel), content, { mode });
  };
  for (const [rel, content] of Object.entries({
    'data/keep.txt': 'keep\n', 'data/edit.txt': 'old\n', 'data/same-size.txt': 'aaaa\n', 'data/rewrite-same.txt': 'same\n',
    'data/chmod.txt': 'm\n', 'data/chown.txt': 'o\n', 'data/touch.txt': 't\n', 'data/gone.txt': 'g\n',
    'data/gone-dir/a': 'a\n', 'data/gone-dir/b': 'b\n', 'data/replaced-dir/x': 'x\n', 'data/replaced-dir/y': 'y\n',
    'data/partly/stay': 's\n', 'data/partly/go': 'go\n', 'data/file-to-dir': 'f\n', 'data/dir-to-file/child': 'c\n',
    'data/hard1': 'h\n', 'untouched/deep/file': 'u\n',
  })) await file(rel, content);
  await link(join(r, 'data/hard1'), join(r, 'data/hard2'));
  await symlink('keep.txt', join(r, 'data/link'));
  execFileSync('mkfifo', [join(r, 'data/fifo')]);
  await mkdir(join(r, 'owned'));
  await file('owned/mine', 'mine\n', 0o600);
  await chown(join(r, 'owned/mine'), 1000, 1000);
  await chown(join(r, 'owned'), 1000, 1000);
  await chmod(join(r, 'owned'), 0o750);
  await chmod(join(r, 'tmp'), 0o1777);
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(r, rel))) {
      const p = join(r, rel, name);
      if ((await lstat(p)).isDirectory()) await walk(join(rel, name));
      if (!(await lstat(p)).isSymbolicLink()) await utimes(p, IMAGE_TIME, IMAGE_TIME);
    }
  };
  await walk('');
}

const CHANGES = [
  'set -e',
  'cd /data',
  'echo new >> edit.txt',
  // same size, mtime set back: only the content tells
  'cp -p same-size.txt /tmp/ref && echo bbbb > same-size.txt && touch -r /tmp/ref same-size.txt && rm /tmp/ref',
  'echo same > rewrite-same.txt',
  'chmod 600 chmod.txt',
  'chown 1000:1000 chown.txt',
  'touch touch.txt',
  'cat keep.txt hard1 > /dev/null',
  'rm gone.txt',
  'rm -r gone-dir',
  'rm -r replaced-dir && mkdir replaced-dir && echo z > replaced-dir/z',
  'rm partly/go',
  'rm file-to-dir && mkdir file-to-dir && echo i > file-to-dir/inner',
  'rm -r dir-to-file && echo now-a-file > dir-to-file',
  'ln -sfn edit.txt link',
  'echo new > new.txt',
  'mkdir -p /new-dir/sub && echo deep > /new-dir/sub/file',
].join('\n');

/** The filesystem as the container sees it, printed from inside (directories without size and mtime). */
const LISTING = `find /data /new-dir /owned /untouched /tmp | sort | while read -r f; do
  if [ -L "$f" ]; then echo "$f link $(readlink "$f") $(stat -c '%u %g %Y' "$f")"
  elif [ -d "$f" ]; then stat -c '%n dir %a %u %g' "$f"
  elif [ -p "$f" ]; then stat -c '%n fifo %a %u %g %Y' "$f"
  else echo "$(stat -c '%n file %a %u %g %s %Y %h' "$f") $(md5sum < "$f" | cut -c1-32)"; fi
done`;

/** The same, read from the host: every entry of a rootfs but the runtime's mount points. */
async function hostListing(rootfs: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(rootfs, rel))).sort()) {
      const r = `${rel}/${name}`;
      if (['/etc/hostname', '/etc/hosts', '/etc/resolv.conf'].includes(r)) continue;
      const p = join(rootfs, r);
      const st = await lstat(p);
      const meta = `${r} ${(st.mode & 0o177777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        out.push(meta);
        await walk(r);
      } else {
        const what = st.isSymbolicLink() ? await readlink(p) : st.isFile() ? createHash('sha256').update(await readFile(p)).digest('hex') : '';
        out.push(`${meta} ${st.size} ${Math.floor(st.mtimeMs / 1000)} ${st.nlink} ${what}`);
      }
    }
  };
  await walk('');
  return out;
}

describe.skipIf(skip !== undefined)('diff and commit on the copy snapshotter', () => {
  let root: string;
  let rt: Runtime;

  const rootfsOf = async (id: string): Promise<string> => {
    const snap = await rt.snapshots.get(id);
    expect(snap?.mode).toBe('copy');
    return snap!.rootfs;
  };
  const run = async (image: string, script: string): Promise<{ id: string; out: string[] }> => {
    const c = await rt.containers.create({ image, command: ['sh', '-c', script] });
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(0);
    const out: string[] = [];
    for await (const l of rt.tasks.logs(c.id)) out.push(l.line);
    return { id: c.id, out };
  };

  beforeAll(async () => {
    root = await makeTempRoot('copy-snapshots');
    rt = new Runtime({ root, cgroupParent: CGROUP_PARENT, forceCopySnapshots: true });
    await rt.importImage(await busyboxTarball(root, imageContent), { ref: 'copy/base' });
  });

  afterAll(async () => {
    await removeRuntimeTestRoot(rt, root, CGROUP_PARENT);
  });

  it('copies the image faithfully: a new container has no changes, owners, modes, fifos and hardlinks kept', async () => {
    const c = await rt.containers.create({ image: 'copy/base', command: ['true'] });
    expect(await rt.changes.diff(c.id)).toEqual([]);
    const rootfs = await rootfsOf(c.id);
    expect(await lstat(join(rootfs, 'owned'))).toMatchObject({ uid: 1000, gid: 1000, mode: 0o40750 });
    expect(await lstat(join(rootfs, 'owned/mine'))).toMatchObject({ uid: 1000, mode: 0o100600 });
    expect((await lstat(join(rootfs, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect((await lstat(join(rootfs, 'data/fifo'))).isFIFO()).toBe(true);
    expect((await lstat(join(rootfs, 'data/hard2'))).ino).toBe((await lstat(join(rootfs, 'data/hard1'))).ino);
    expect((await lstat(join(rootfs, 'data/keep.txt'))).mtimeMs).toBe(IMAGE_TIME * 1000);
    await rt.containers.remove(c.id);
  });

  it('diffs A/C/D like docker diff, commits only the changes, and the new image shows the same filesystem', async () => {
    const c = await run('copy/base', `${CHANGES}\n${LISTING}`);
    expect(await rt.changes.diff(c.id)).toEqual([
      { kind: 'C', path: '/data' },
      { kind: 'C', path: '/data/chmod.txt' },
      { kind: 'C', path: '/data/chown.txt' },
      { kind: 'C', path: '/data/dir-to-file' },
      { kind: 'C', path: '/data/edit.txt' },
      { kind: 'C', path: '/data/file-to-dir' },
      { kind: 'A', path: '/data/file-to-dir/inner' },
      { kind: 'D', path: '/data/gone-dir' },
      { kind: 'D', path: '/data/gone.txt' },
      { kind: 'C', path: '/data/link' },
      { kind: 'A', path: '/data/new.txt' },
      { kind: 'C', path: '/data/partly' },
      { kind: 'D', path: '/data/partly/go' },
      { kind: 'C', path: '/data/replaced-dir' },
      { kind: 'D', path: '/data/replaced-dir/x' },
      { kind: 'D', path: '/data/replaced-dir/y' },
      { kind: 'A', path: '/data/replaced-dir/z' },
      { kind: 'C', path: '/data/rewrite-same.txt' },
      { kind: 'C', path: '/data/same-size.txt' },
      { kind: 'C', path: '/data/touch.txt' },
      { kind: 'A', path: '/new-dir' },
      { kind: 'A', path: '/new-dir/sub' },
      { kind: 'A', path: '/new-dir/sub/file' },
    ]);
    // the writable size is what changed, not the whole copy
    const size = await rt.containers.size(c.id);
    expect(size.sizeRw).toBeGreaterThan(0);
    expect(size.sizeRw).toBeLessThan(200);

    const id = await rt.changes.commit(c.id, { ref: 'copy/committed', message: 'changes on the copy snapshotter' });
    const manifest = await rt.images.manifest(id);
    expect(manifest.layers).toHaveLength(2);
    const layer = rt.content.path(manifest.layers[1]!.digest);
    expect(execFileSync('tar', ['-tf', layer]).toString().trim().split('\n').sort()).toEqual([
      'data/', 'data/.wh.gone-dir', 'data/.wh.gone.txt', 'data/chmod.txt', 'data/chown.txt', 'data/dir-to-file', 'data/edit.txt',
      'data/file-to-dir/', 'data/file-to-dir/inner', 'data/link', 'data/new.txt', 'data/partly/', 'data/partly/.wh.go',
      'data/replaced-dir/', 'data/replaced-dir/.wh..wh..opq', 'data/replaced-dir/z', 'data/rewrite-same.txt', 'data/same-size.txt',
      'data/touch.txt', 'new-dir/', 'new-dir/sub/', 'new-dir/sub/file',
    ]);

    // unpacked on top of the base, the committed layer gives the container's filesystem back
    const fresh = await rt.containers.create({ image: 'copy/committed', command: ['true'] });
    expect(await rt.changes.diff(fresh.id)).toEqual([]);
    expect(await hostListing(await rootfsOf(fresh.id))).toEqual(await hostListing(await rootfsOf(c.id)));
    await rt.containers.remove(fresh.id);
    const again = await run('copy/committed', LISTING);
    expect(again.out).toEqual(c.out);
    expect(again.out).toContainEqual(expect.stringMatching(new RegExp(`^/data/replaced-dir/z file 644 0 0 2 \\d+ 1 ${createHash('md5').update('z\n').digest('hex')}$`)));
    expect(again.out.some((l) => l.startsWith('/data/replaced-dir/x') || l.startsWith('/data/gone'))).toBe(false);
    expect(again.out).toContain('/data/same-size.txt file 644 0 0 5 1600000000 1 ' + createHash('md5').update('bbbb\n').digest('hex'));
    await rt.containers.remove(again.id);
    await rt.containers.remove(c.id);
  });

  it('diffs against several layers with whiteouts and opaque directories', async () => {
    // copy/committed: its top layer deleted gone.txt and replaced replaced-dir
    const c = await run('copy/committed', 'echo back > /data/gone.txt; echo again > /data/replaced-dir/z; rm /data/keep.txt; ls /data/replaced-dir');
    expect(c.out).toEqual(['z']);
    expect(await rt.changes.diff(c.id)).toEqual([
      { kind: 'C', path: '/data' },
      { kind: 'A', path: '/data/gone.txt' },
      { kind: 'D', path: '/data/keep.txt' },
      { kind: 'C', path: '/data/replaced-dir' },
      { kind: 'C', path: '/data/replaced-dir/z' },
    ]);
    const id = await rt.changes.commit(c.id, { ref: 'copy/third' });
    const d = await run(id, 'cat /data/gone.txt /data/replaced-dir/z; test -e /data/keep.txt || echo keep-gone');
    expect(d.out).toEqual(['back', 'again', 'keep-gone']);
    await rt.containers.remove(d.id);
    await rt.containers.remove(c.id);
  });

  it('finds opaque directories whatever their names (getfattr escapes some bytes)', async () => {
    const layer = join(root, 'opaque-names');
    const names = ['plain', 'with space', 'new\nline', 'back\\slash', 'é', 'nested/deeper'];
    for (const n of [...names, 'not-opaque']) await mkdir(join(layer, n), { recursive: true });
    for (const n of names) execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(layer, n)]);
    expect([...(await listOpaqueDirs(layer))].sort()).toEqual([...names].sort());
    await rm(layer, { recursive: true });
  });

  it('commits a running container (paused meanwhile)', async () => {
    const c = await rt.containers.create({ image: 'copy/base', command: ['sh', '-c', 'echo live > /live.txt; exec sleep 1000'] });
    await rt.tasks.start(c.id);
    for (let i = 0; i < 100 && !(await rt.changes.diff(c.id)).length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await rt.changes.diff(c.id)).toEqual([{ kind: 'A', path: '/live.txt' }]);
    const id = await rt.changes.commit(c.id);
    expect((await rt.tasks.state(c.id)).status).toBe('running');
    const d = await run(id, 'cat /live.txt');
    expect(d.out).toEqual(['live']);
    await rt.containers.remove(d.id);
    await rt.containers.remove(c.id, { force: true });
  });
});
