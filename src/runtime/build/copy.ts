import { chmod, copyFile, lchown, lstat, mkdir, readdir, readlink, rm, symlink, utimes } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { resolveInRoot } from '../snapshots/safe-path.js';
import { isNodeError } from '../util/errors.js';
import type { BuildContext } from './context.js';

export interface SourceStat {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  mtimeMs: number;
}

/** Where COPY reads from: the build context (honouring .dockerignore) or another stage's root filesystem. */
export interface SourceTree {
  abs(rel: string): string;
  stat(rel: string): Promise<SourceStat | undefined>;
  children(rel: string): Promise<string[]>;
}

export function contextTree(ctx: BuildContext): SourceTree {
  return {
    abs: (rel) => (rel ? join(ctx.dir, rel) : ctx.dir),
    stat: (rel) => ctx.get(rel),
    children: (rel) => ctx.childrenOf(rel),
  };
}

/** A mounted root filesystem (COPY --from): every path, no ignore rules. */
export function rootfsTree(root: string): SourceTree {
  const abs = (rel: string): string => (rel ? join(root, rel) : root);
  return {
    abs,
    async stat(rel) {
      try {
        const st = await lstat(abs(rel));
        return { type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other', mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
      } catch (e) {
        if (isNodeError(e, 'ENOENT') || isNodeError(e, 'ENOTDIR')) return undefined;
        throw e;
      }
    },
    async children(rel) {
      return (await readdir(abs(rel))).sort().map((n) => (rel ? `${rel}/${n}` : n));
    },
  };
}

export interface Owner {
  uid: number;
  gid: number;
}

export interface CopyOptions {
  owner?: Owner;
  chmod?: number;
}

async function replaceable(dst: string, wantDir: boolean): Promise<boolean> {
  try {
    const st = await lstat(dst);
    if (wantDir && st.isDirectory()) return true;
    await rm(dst, { recursive: true, force: true });
  } catch (e) {
    if (!isNodeError(e, 'ENOENT')) throw e;
  }
  return false;
}

/**
 * Copies one source entry to `dst` (a host path already resolved inside the target root).
 * Whatever is at `dst` is replaced, never followed; directories are merged.
 */
export async function copyEntry(src: SourceTree, rel: string, dst: string, o: CopyOptions): Promise<void> {
  const st = await src.stat(rel);
  if (!st) return;
  const uid = o.owner?.uid ?? 0;
  const gid = o.owner?.gid ?? 0;
  if (st.type === 'dir') {
    const existed = await replaceable(dst, true);
    if (!existed) await mkdir(dst);
    await lchown(dst, uid, gid);
    await chmod(dst, o.chmod ?? st.mode);
    for (const child of await src.children(rel)) await copyEntry(src, child, join(dst, posix.basename(child)), o);
    const t = st.mtimeMs / 1000;
    await utimes(dst, t, t);
    return;
  }
  await replaceable(dst, false);
  if (st.type === 'symlink') {
    await symlink(await readlink(src.abs(rel)), dst);
    await lchown(dst, uid, gid);
    return;
  }
  if (st.type !== 'file') return; // sockets, fifos and devices are not copied
  await copyFile(src.abs(rel), dst);
  await lchown(dst, uid, gid);
  await chmod(dst, o.chmod ?? st.mode);
  const t = st.mtimeMs / 1000;
  await utimes(dst, t, t);
}

/** mkdir -p of a path inside a root, symlinks resolved inside it; returns the host path. */
export async function mkdirInRoot(root: string, path: string, owner?: Owner): Promise<string> {
  const resolved = await resolveInRoot(root, path);
  const created = await mkdir(resolved, { recursive: true, mode: 0o755 });
  if (created && owner) {
    // chown only the directories this call created
    let p = resolved;
    while (p.length >= created.length) {
      await lchown(p, owner.uid, owner.gid);
      p = posix.dirname(p);
    }
  }
  return resolved;
}

/**
 * Docker's COPY placement: a directory source copies its contents into dest; a file goes to
 * dest/basename when dest is a directory (ends with "/", several sources, or exists as one),
 * else to dest itself.
 */
export async function copySources(root: string, src: SourceTree, sources: readonly string[], dest: string, destIsDir: boolean, o: CopyOptions): Promise<void> {
  for (const rel of sources) {
    const st = await src.stat(rel);
    if (!st) continue;
    if (st.type === 'dir') {
      const target = await mkdirInRoot(root, dest, o.owner);
      for (const child of await src.children(rel)) await copyEntry(src, child, join(target, posix.basename(child)), o);
      continue;
    }
    if (destIsDir) {
      const dir = await mkdirInRoot(root, dest, o.owner);
      await copyEntry(src, rel, join(dir, basename(rel)), o);
    } else {
      await mkdirInRoot(root, posix.dirname(dest), o.owner);
      await copyEntry(src, rel, await resolveInRoot(root, dest), o);
    }
  }
}
