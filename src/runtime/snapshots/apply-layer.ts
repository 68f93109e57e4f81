import { constants, createReadStream } from 'node:fs';
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, readdir, rm, symlink, utimes, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { tarEntries, type TarReadEntry } from '../tar/reader.js';
import { StreamSource } from '../tar/stream-source.js';
import { runChecked } from '../util/exec.js';
import { invalid, isNodeError, unsafe } from '../util/errors.js';
import { archivePathParts, assertNoSymlinkInPath, symlinkStaysInside } from './safe-path.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * overlay: the target is one layer directory used as an overlay lowerdir; whiteouts become
 *   0/0 character devices and opaque directories get trusted.overlay.opaque=y.
 * flatten: the target is a full rootfs that earlier layers were applied to; whiteouts delete.
 */
export type ApplyMode = 'overlay' | 'flatten';

export async function makeOverlayWhiteout(path: string): Promise<void> {
  await runChecked('mknod', [path, 'c', '0', '0']);
}

export async function setOverlayOpaque(dir: string): Promise<void> {
  await runChecked('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', dir]);
}

async function removeExisting(path: string, keepDir: boolean): Promise<void> {
  try {
    const st = await lstat(path);
    if (st.isDirectory()) {
      if (!keepDir) await rm(path, { recursive: true, force: true });
    } else await rm(path, { force: true });
  } catch (e) {
    if (!isNodeError(e, 'ENOENT')) throw e;
  }
}

/** Applies an uncompressed layer tar file to `root` (see applyTar). */
export async function applyLayer(tarPath: string, root: string, mode: ApplyMode): Promise<number> {
  const src = new StreamSource(createReadStream(tarPath, { highWaterMark: 1 << 20 }));
  try {
    return await applyTar(src, root, mode);
  } finally {
    await src.close();
  }
}

/**
 * Applies an uncompressed layer tar, read in order from `src` up to its end marker, to `root`,
 * refusing anything that could touch the host: absolute or ".." names, writes through symlinks,
 * symlinks climbing out, hardlinks to outside files, and device nodes. Returns the number of
 * entries applied.
 */
export async function applyTar(src: StreamSource, root: string, mode: ApplyMode): Promise<number> {
  const written = new Set<string>();
  const dirTimes: Array<[string, number]> = [];
  let count = 0;
  for await (const entry of tarEntries(src)) {
    await applyEntry(src, entry, root, mode, written, dirTimes);
    count++;
  }
  for (const [p, mtime] of dirTimes.reverse()) await utimes(p, mtime, mtime).catch(() => undefined);
  return count;
}

/** Writes an entry's data from the stream to `dst`, a MiB per writev, each write in flight while the next MiB is read. */
async function copyData(src: StreamSource, entry: TarReadEntry, dst: FileHandle): Promise<void> {
  let left = entry.size;
  let batch: Buffer[] = [];
  let batched = 0;
  let at = 0;
  let writing: Promise<void> = Promise.resolve();
  try {
    while (left > 0) {
      const c = await src.chunk(left);
      if (c.length === 0) throw invalid(`tar: truncated data for "${entry.name}"`);
      left -= c.length;
      batch.push(c);
      batched += c.length;
      if (batched >= 1 << 20 || left === 0) {
        await writing;
        const n = batched;
        writing = dst.writev(batch, at).then(({ bytesWritten }) => {
          if (bytesWritten !== n) throw new Error(`short write of "${entry.name}" (${bytesWritten} of ${n} bytes)`);
        });
        at += n;
        batch = [];
        batched = 0;
      }
    }
    await writing;
  } finally {
    // nothing may still write to `dst` once this returns (the caller closes it)
    await writing.catch(() => undefined);
  }
}

async function applyEntry(
  src: StreamSource,
  entry: TarReadEntry,
  root: string,
  mode: ApplyMode,
  written: Set<string>,
  dirTimes: Array<[string, number]>,
): Promise<void> {
  const what = `layer entry "${entry.name}"`;
  const parts = archivePathParts(entry.name, 'layer entry');
  if (parts.length === 0) return; // the root directory itself
  const base = parts[parts.length - 1] as string;
  const parentParts = parts.slice(0, -1);
  const parent = await assertNoSymlinkInPath(root, parentParts, what);
  await mkdir(parent, { recursive: true });

  if (base.startsWith(WHITEOUT_PREFIX)) {
    if (base === OPAQUE_MARKER) {
      if (mode === 'overlay') await setOverlayOpaque(parent);
      else {
        for (const child of await readdir(parent)) {
          if (!written.has([...parentParts, child].join('/'))) await rm(posix.join(parent, child), { recursive: true, force: true });
        }
      }
      return;
    }
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    archivePathParts(hidden, 'whiteout target');
    const target = posix.join(parent, hidden);
    await removeExisting(target, false);
    if (mode === 'overlay') await makeOverlayWhiteout(target);
    return;
  }

  const path = posix.join(parent, base);
  const rel = parts.join('/');
  written.add(rel);
  switch (entry.type) {
    case 'char':
    case 'block':
      throw unsafe(`${what}: device nodes are not allowed in layers`);
    case 'dir': {
      await removeExisting(path, true);
      await mkdir(path, { recursive: true });
      await chown(path, entry.uid, entry.gid);
      await chmod(path, entry.mode);
      dirTimes.push([path, entry.mtime]);
      return;
    }
    case 'symlink': {
      if (!symlinkStaysInside(parts, entry.linkname)) throw unsafe(`${what}: symlink target "${entry.linkname}" escapes the root`);
      await removeExisting(path, false);
      await symlink(entry.linkname, path);
      await lchown(path, entry.uid, entry.gid);
      await lutimes(path, entry.mtime, entry.mtime);
      return;
    }
    case 'hardlink': {
      const targetParts = archivePathParts(entry.linkname.replace(/^\/+/, ''), `hardlink target of "${entry.name}"`);
      const target = await assertNoSymlinkInPath(root, targetParts, `hardlink target of "${entry.name}"`);
      let st;
      try {
        st = await lstat(target);
      } catch (e) {
        if (isNodeError(e, 'ENOENT')) throw unsafe(`${what}: hardlink target "${entry.linkname}" does not exist inside the layer`);
        throw e;
      }
      if (st.isDirectory()) throw unsafe(`${what}: hardlink to a directory`);
      if (st.isCharacterDevice() || st.isBlockDevice()) throw unsafe(`${what}: hardlink to a device node`);
      await removeExisting(path, false);
      await link(target, path);
      return;
    }
    case 'fifo': {
      await removeExisting(path, false);
      await runChecked('mkfifo', ['-m', (entry.mode & 0o777).toString(8), path]);
      await lchown(path, entry.uid, entry.gid);
      await lutimes(path, entry.mtime, entry.mtime);
      return;
    }
    case 'file': {
      await removeExisting(path, false);
      const dst = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        await copyData(src, entry, dst);
        await dst.chown(entry.uid, entry.gid);
        await dst.chmod(entry.mode); // after chown, which clears setuid bits
      } finally {
        await dst.close();
      }
      await utimes(path, entry.mtime, entry.mtime);
      return;
    }
  }
}
