import { cp, lstat, mkdir, readdir, readlink, rm, stat, symlink, copyFile, chmod } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { resolveInRoot } from '../snapshots/safe-path.js';
import { invalid, isNodeError, notFound } from '../util/errors.js';
import { lstatIfExists } from '../util/fs.js';

/** Where a container path lives on the host: inside a mount's source if under one, else in the rootfs. */
export function hostBase(rootfs: string, mounts: ReadonlyArray<{ target: string; source: string }>, path: string): { base: string; rel: string } {
  const norm = `/${path.split('/').filter(Boolean).join('/')}`;
  const m = [...mounts]
    .sort((a, b) => b.target.length - a.target.length)
    .find((x) => norm === x.target || norm.startsWith(`${x.target.replace(/\/$/, '')}/`));
  return m ? { base: m.source, rel: norm.slice(m.target.length) || '/' } : { base: rootfs, rel: norm };
}

/** docker cp out: resolve inside the container root, then copy (symlinks inside are copied as links). */
export async function copyOut(base: string, rel: string, hostDest: string): Promise<void> {
  const src = await resolveInRoot(base, rel);
  try {
    await lstat(src);
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) throw notFound(`path "${rel}" does not exist in the container`);
    throw e;
  }
  let dest = hostDest;
  try {
    if ((await stat(hostDest)).isDirectory()) dest = join(hostDest, basename(src));
  } catch (e) {
    if (!isNodeError(e, 'ENOENT')) throw e;
  }
  await cp(src, dest, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
}

/** Writes `src` at `dst` (already resolved inside the root), replacing rather than following whatever is there. */
async function copyInto(src: string, dst: string): Promise<void> {
  const st = await lstat(src);
  const existing = await lstatIfExists(dst);
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) await rm(dst, { force: true });
    await mkdir(dst, { recursive: false, mode: st.mode & 0o7777 }).catch((e: unknown) => {
      if (!isNodeError(e, 'EEXIST')) throw e;
    });
    for (const name of await readdir(src)) await copyInto(join(src, name), join(dst, name));
    return;
  }
  if (existing) await rm(dst, { recursive: true, force: true });
  if (st.isSymbolicLink()) await symlink(await readlink(src), dst);
  else if (st.isFile()) {
    await copyFile(src, dst);
    await chmod(dst, st.mode & 0o7777);
  }
}

/** docker cp in: the destination is resolved inside the container root; symlinks there never lead out. */
export async function copyIn(hostSrc: string, base: string, rel: string): Promise<void> {
  try {
    await lstat(hostSrc);
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) throw notFound(`host path "${hostSrc}" does not exist`);
    throw e;
  }
  const resolved = await resolveInRoot(base, rel);
  let target = resolved;
  try {
    if ((await stat(resolved)).isDirectory() && (await lstat(resolved)).isDirectory()) target = join(resolved, basename(hostSrc));
  } catch (e) {
    if (!isNodeError(e, 'ENOENT')) throw e;
    const parent = await lstat(dirname(resolved)).catch(() => undefined);
    if (!parent?.isDirectory()) throw invalid(`destination "${rel}": parent directory does not exist in the container`);
  }
  await copyInto(hostSrc, target);
}
