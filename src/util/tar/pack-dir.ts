import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TarWriter } from './writer.js';

export interface PackOptions {
  /** Called for each path (relative, no leading slash); return false to skip it (and its children). */
  filter?: (rel: string) => boolean;
}

/**
 * Adds one entry (not its children) as `rel`; `inodes` maps already packed multi-link files
 * (dev:ino) to their names, so a second name of one becomes a hardlink entry.
 */
export async function packEntry(tar: TarWriter, root: string, rel: string, st: Stats, inodes: Map<string, string>): Promise<void> {
  const p = join(root, rel);
  const base = { name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
  if (st.isDirectory()) {
    await tar.addEntry({ ...base, type: 'dir' });
  } else if (st.isSymbolicLink()) {
    await tar.addEntry({ ...base, type: 'symlink', linkname: await readlink(p) });
  } else if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? inodes.get(key) : undefined;
    if (first !== undefined) {
      await tar.addEntry({ ...base, type: 'hardlink', linkname: first });
    } else {
      if (st.nlink > 1) inodes.set(key, rel);
      await tar.addFile(base, p, st.size);
    }
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const rdev = Number(st.rdev);
    const devmajor = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & 0xfffff000);
    const devminor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
    await tar.addEntry({ ...base, type: st.isCharacterDevice() ? 'char' : 'block', devmajor, devminor });
  } else if (st.isFIFO()) {
    await tar.addEntry({ ...base, type: 'fifo' });
  }
  // sockets are skipped, as tar(1) does
}

/** Adds a directory tree to a tar archive, entries sorted by name, hardlinks preserved, device files included. */
export async function packDirectory(tar: TarWriter, root: string, opts: PackOptions = {}): Promise<void> {
  const inodes = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(rel ? join(root, rel) : root)).sort();
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      if (opts.filter && !opts.filter(childRel)) continue;
      const st = await lstat(join(root, childRel));
      await packEntry(tar, root, childRel, st, inodes);
      if (st.isDirectory()) await walk(childRel);
    }
  };
  await walk('');
}
