/**
 * docker cp, both ways, with every path resolved by the kernel inside the container's root (or the
 * volume the path is on) at the moment it is used (util/in-root.ts): a container that swaps a
 * directory for a symlink to / while Berth copies finds that the copy never follows it. Out: a walk
 * by descriptors yields the entries (directories, regular files read through the descriptor that was
 * checked, symlinks as links, hardlinks; devices, FIFOs and sockets are left out: they are never
 * opened and never reach the caller). In: each entry's parent is opened below the destination with
 * no symlink allowed, and the entry is created there with O_EXCL|O_NOFOLLOW.
 */
import { fstatSync, fchmodSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmdirSync, symlinkSync, unlinkSync, write, type Stats } from 'node:fs';
import { chmod, chown, link, lstat, mkdir, open, readdir, readlink, symlink, utimes } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { archivePathParts } from '../snapshots/safe-path.js';
import { invalid, isNodeError, notFound, unsafe } from '../util/errors.js';
import { closeQuietly, fdPath, openEntry, openInRoot, openRootDir, O_PATH, withFd } from '../util/in-root.js';

const writeFd = promisify(write);

export interface ArchiveEntry {
  /** Path in the archive: the copied item's base name, then its children below it. */
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  linkname: string;
  /** A file's bytes (read once, before the next entry is asked for). */
  data?: () => AsyncIterable<Buffer>;
}

/** Where a container path lives on the host: inside a mount's source if under one, else in the rootfs. */
export function hostBase(rootfs: string, mounts: ReadonlyArray<{ target: string; source: string }>, path: string): { base: string; rel: string } {
  const norm = `/${path.split('/').filter(Boolean).join('/')}`;
  const m = [...mounts]
    .sort((a, b) => b.target.length - a.target.length)
    .find((x) => norm === x.target || norm.startsWith(`${x.target.replace(/\/$/, '')}/`));
  return m ? { base: m.source, rel: norm.slice(m.target.length) || '/' } : { base: rootfs, rel: norm };
}

async function* noData(): AsyncGenerator<Buffer> {}

const meta = (st: Stats) => ({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) });

/** A regular file's bytes through the descriptor checked (the /proc magic link is that very file). */
async function* readThrough(pathFd: number): AsyncGenerator<Buffer> {
  const fh = await open(fdPath(pathFd), fsc.O_RDONLY | fsc.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      yield Buffer.from(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}

/**
 * The entries of `rel` inside `base`, resolved as the container sees it (symlinks in the parent
 * followed inside the root; a symlink as the last component is copied as a link, as docker cp does).
 * Throws NotFound before yielding anything when there is nothing there.
 */
export async function openArchiveSource(base: string, rel: string): Promise<{ name: string; entries: () => AsyncGenerator<ArchiveEntry> }> {
  const rootFd = openRootDir(base);
  // ".." is taken lexically, as docker cp cleans the path; symlinks are the kernel's, inside the root
  const parts = posix.resolve('/', rel).split('/').filter((p) => p !== '');
  const top = parts.length === 0 ? '.' : (parts[parts.length - 1] as string);
  let parentFd: number;
  try {
    parentFd = parts.length === 0 ? openInRoot(rootFd, '/', { flags: fsc.O_RDONLY | fsc.O_DIRECTORY }) : openInRoot(rootFd, parts.slice(0, -1).join('/'), { flags: fsc.O_RDONLY | fsc.O_DIRECTORY });
    if (top !== '.') lstatSync(fdPath(parentFd, top));
  } catch (e) {
    closeQuietly(rootFd);
    if (isNodeError(e, 'ENOENT') || isNodeError(e, 'ENOTDIR')) throw notFound(`path "${rel}" does not exist in the container`);
    throw e;
  }
  closeQuietly(rootFd);
  const inodes = new Map<string, string>();
  async function* walk(dirFd: number, name: string, archiveName: string): AsyncGenerator<ArchiveEntry> {
    let st: Stats;
    try {
      st = lstatSync(fdPath(dirFd, name));
    } catch (e) {
      if (isNodeError(e, 'ENOENT')) return; // removed meanwhile
      throw e;
    }
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = readlinkSync(fdPath(dirFd, name));
      } catch (e) {
        if (isNodeError(e, 'EINVAL') || isNodeError(e, 'ENOENT')) return; // swapped for something else meanwhile
        throw e;
      }
      yield { name: archiveName, type: 'symlink', ...meta(st), size: 0, linkname: target };
      return;
    }
    if (st.isDirectory()) {
      let fd: number;
      try {
        fd = openEntry(dirFd, name, fsc.O_RDONLY | fsc.O_DIRECTORY);
      } catch (e) {
        // swapped for a symlink or a file between the lstat and the open: nothing is followed
        if (isNodeError(e, 'ELOOP') || isNodeError(e, 'ENOTDIR') || isNodeError(e, 'ENOENT')) return;
        throw e;
      }
      try {
        yield { name: archiveName, type: 'dir', ...meta(fstatSync(fd)), size: 0, linkname: '' };
        for (const child of readdirSync(fdPath(fd)).sort()) yield* walk(fd, child, `${archiveName}/${child}`);
      } finally {
        closeQuietly(fd);
      }
      return;
    }
    if (!st.isFile()) return; // devices, FIFOs and sockets are never opened nor copied
    let fd: number;
    try {
      fd = openEntry(dirFd, name, O_PATH());
    } catch (e) {
      if (isNodeError(e, 'ELOOP') || isNodeError(e, 'ENOENT')) return;
      throw e;
    }
    try {
      const fst = fstatSync(fd);
      if (!fst.isFile()) return;
      const key = `${fst.dev}:${fst.ino}`;
      const first = fst.nlink > 1 ? inodes.get(key) : undefined;
      if (first !== undefined) {
        yield { name: archiveName, type: 'hardlink', ...meta(fst), size: 0, linkname: first };
        return;
      }
      if (fst.nlink > 1) inodes.set(key, archiveName);
      yield { name: archiveName, type: 'file', ...meta(fst), size: fst.size, linkname: '', data: () => readThrough(fd) };
    } finally {
      closeQuietly(fd);
    }
  }
  return {
    name: top,
    entries: async function* () {
      let any = false;
      try {
        if (top === '.') {
          const st = fstatSync(parentFd);
          yield { name: '.', type: 'dir', ...meta(st), size: 0, linkname: '' };
          for (const child of readdirSync(fdPath(parentFd)).sort()) yield* walk(parentFd, child, child);
        } else {
          for await (const e of walk(parentFd, top, top)) {
            any = true;
            yield e;
          }
          // gone (or swapped for something not copied) since it was found
          if (!any) throw notFound(`path "${rel}" does not exist in the container`);
        }
      } finally {
        closeQuietly(parentFd);
      }
    },
  };
}

/** Removes an entry of an open directory and, for a directory, everything in it, never following a symlink. */
function removeAt(dirFd: number, name: string): void {
  let st: Stats;
  try {
    st = lstatSync(fdPath(dirFd, name));
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) return;
    throw e;
  }
  if (!st.isDirectory()) {
    unlinkSync(fdPath(dirFd, name));
    return;
  }
  let fd: number;
  try {
    fd = openEntry(dirFd, name, fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (e) {
    if (isNodeError(e, 'ELOOP') || isNodeError(e, 'ENOTDIR')) return unlinkSync(fdPath(dirFd, name));
    throw e;
  }
  try {
    for (const child of readdirSync(fdPath(fd))) removeAt(fd, child);
  } finally {
    closeQuietly(fd);
  }
  rmdirSync(fdPath(dirFd, name));
}

/**
 * Writes `entries` at `rel` inside `base`: into it when it is a directory (as the container sees
 * the path), else as it (the top entry renamed, as docker cp does), when its parent exists.
 */
export async function extractIntoRoot(base: string, rel: string, entries: AsyncIterable<ArchiveEntry>): Promise<void> {
  const rootFd = openRootDir(base);
  let destFd: number;
  let rename: string | undefined;
  try {
    try {
      destFd = openInRoot(rootFd, posix.resolve('/', rel), { flags: fsc.O_RDONLY | fsc.O_DIRECTORY });
    } catch (e) {
      if (!isNodeError(e, 'ENOENT') && !isNodeError(e, 'ENOTDIR')) throw e;
      const parts = posix.resolve('/', rel).split('/').filter((p) => p !== '');
      if (parts.length === 0) throw e;
      try {
        destFd = openInRoot(rootFd, parts.slice(0, -1).join('/'), { flags: fsc.O_RDONLY | fsc.O_DIRECTORY });
      } catch (e2) {
        if (isNodeError(e2, 'ENOENT') || isNodeError(e2, 'ENOTDIR')) throw invalid(`destination "${rel}": parent directory does not exist in the container`);
        throw e2;
      }
      rename = parts[parts.length - 1];
    }
  } finally {
    closeQuietly(rootFd);
  }
  /** Open directories below the destination by their path in the archive. */
  const dirs = new Map<string, number>([['', destFd]]);
  const dirFor = (parts: readonly string[]): number => {
    let cur = destFd;
    for (let i = 0; i < parts.length; i++) {
      const key = parts.slice(0, i + 1).join('/');
      const known = dirs.get(key);
      if (known !== undefined) {
        cur = known;
        continue;
      }
      const name = parts[i] as string;
      try {
        mkdirSync(fdPath(cur, name), 0o755);
      } catch (e) {
        if (!isNodeError(e, 'EEXIST')) throw e;
      }
      try {
        cur = openEntry(cur, name, fsc.O_RDONLY | fsc.O_DIRECTORY);
      } catch (e) {
        if (isNodeError(e, 'ELOOP') || isNodeError(e, 'ENOTDIR')) throw unsafe(`"${key}" is not a directory in the container (a symlink or a file is there)`);
        throw e;
      }
      dirs.set(key, cur);
    }
    return cur;
  };
  try {
    for await (const e of entries) {
      const parts = e.name === '.' || e.name === '' ? [] : archivePathParts(e.name, 'archive entry');
      if (rename !== undefined) {
        if (parts.length === 0) throw invalid(`destination "${rel}": copying a whole root needs an existing directory`);
        parts[0] = rename;
      }
      if (parts.length === 0) continue; // "." is the destination itself
      const name = parts[parts.length - 1] as string;
      const parent = dirFor(parts.slice(0, -1));
      const existing = (() => {
        try {
          return lstatSync(fdPath(parent, name));
        } catch (err) {
          if (isNodeError(err, 'ENOENT')) return undefined;
          throw err;
        }
      })();
      if (e.type === 'dir') {
        if (existing && !existing.isDirectory()) removeAt(parent, name);
        const fd = dirFor(parts);
        fchmodSync(fd, e.mode & 0o7777);
        continue;
      }
      if (existing) removeAt(parent, name);
      if (e.type === 'symlink') {
        symlinkSync(e.linkname, fdPath(parent, name));
      } else if (e.type === 'hardlink') {
        const target = archivePathParts(e.linkname, 'hardlink target');
        if (rename !== undefined && target.length > 0) target[0] = rename;
        const tparent = dirFor(target.slice(0, -1));
        linkSync(fdPath(tparent, target[target.length - 1] as string), fdPath(parent, name));
      } else {
        const fd = openEntry(parent, name, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, e.mode & 0o777);
        await withFd(fd, async () => {
          for await (const c of e.data?.() ?? noData()) {
            let off = 0;
            while (off < c.length) off += (await writeFd(fd, c, off, c.length - off)).bytesWritten;
          }
          fchmodSync(fd, e.mode & 0o7777);
        });
      }
    }
  } finally {
    for (const fd of dirs.values()) closeQuietly(fd);
  }
}

/** The entries of a host path (trusted: the caller's own files) for extractIntoRoot. */
export async function* hostEntries(path: string, name = basename(path)): AsyncGenerator<ArchiveEntry> {
  const st = await lstat(path);
  const m = meta(st);
  if (st.isSymbolicLink()) yield { name, type: 'symlink', ...m, size: 0, linkname: await readlink(path) };
  else if (st.isDirectory()) {
    yield { name, type: 'dir', ...m, size: 0, linkname: '' };
    for (const child of (await readdir(path)).sort()) yield* hostEntries(join(path, child), `${name}/${child}`);
  } else if (st.isFile()) {
    yield {
      name,
      type: 'file',
      ...m,
      size: st.size,
      linkname: '',
      data: async function* () {
        const fh = await open(path, 'r');
        try {
          for await (const c of fh.createReadStream({ autoClose: false })) yield c as Buffer;
        } finally {
          await fh.close();
        }
      },
    };
  }
}

/**
 * Writes entries copied out of a container below a host path (the caller's side of docker cp when
 * the runtime is local): as `dest` when it does not exist, into it when it is a directory. Files
 * lose setuid, setgid and sticky bits and belong to this process unless `archive` (docker cp -a).
 */
export async function writeHostEntries(entries: AsyncIterable<ArchiveEntry>, top: string, dest: string, o: { archive?: boolean } = {}): Promise<void> {
  let root = dest;
  const st = await lstat(dest).catch((e: unknown) => {
    if (isNodeError(e, 'ENOENT')) return undefined;
    throw e;
  });
  if (st?.isDirectory()) root = join(dest, top === '.' ? basename(dest) : top);
  else if (!(await lstat(dirname(dest)).then((s) => s.isDirectory(), () => false))) throw invalid(`destination "${dest}": parent directory does not exist`);
  const mode = (m: number): number => (o.archive ? m : m & 0o777);
  const dirs: Array<{ p: string; e: ArchiveEntry }> = [];
  for await (const e of entries) {
    const rest = e.name === top ? '' : e.name.slice(top.length + 1);
    const p = rest ? join(root, ...archivePathParts(rest, 'entry')) : root;
    if (e.type === 'dir') {
      await mkdir(p, { recursive: true, mode: 0o700 });
      dirs.push({ p, e });
      continue;
    }
    if (e.type === 'symlink') await symlink(e.linkname, p);
    else if (e.type === 'hardlink') await link(join(root, ...archivePathParts(e.linkname.slice(top.length + 1) || '.', 'hardlink')), p);
    else {
      const fh = await open(p, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      try {
        for await (const c of e.data?.() ?? noData()) await fh.write(c);
        if (o.archive) await fh.chown(e.uid, e.gid);
        await fh.chmod(mode(e.mode));
      } finally {
        await fh.close();
      }
      await utimes(p, e.mtime, e.mtime);
    }
  }
  for (const { p, e } of dirs.reverse()) {
    await chmod(p, mode(e.mode));
    if (o.archive) await chown(p, e.uid, e.gid);
    await utimes(p, e.mtime, e.mtime);
  }
}

