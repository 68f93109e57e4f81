import { constants, type Stats } from 'node:fs';
import { chmod, copyFile, lchown, link, lstat, lutimes, mkdir, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked, runCommand } from '../util/exec.js';
import { lstatIfExists } from '../util/fs.js';

export async function isOpaqueDir(path: string): Promise<boolean> {
  const r = await runCommand('getfattr', ['--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', path]);
  return r.code === 0 && r.stdout.trim() === 'y';
}

export const isWhiteoutDevice = (st: { isCharacterDevice(): boolean; rdev: number }): boolean => st.isCharacterDevice() && st.rdev === 0;

/** Owner, then mode (chown clears setuid bits), then times: the copy keeps what the layer says. */
async function copyMetadata(path: string, st: Stats): Promise<void> {
  await lchown(path, st.uid, st.gid);
  if (!st.isSymbolicLink()) await chmod(path, st.mode & 0o7777);
  await lutimes(path, st.atimeMs / 1000, st.mtimeMs / 1000);
}

/**
 * Copies one overlay-format layer directory onto a flattened rootfs (the copy fallback), honouring
 * whiteouts and the layer's opaque directories (relative paths). The copy is faithful — owner,
 * mode, times and hardlinks within the layer — because copy-mode diff compares it with the layers.
 */
export async function mergeLayerDir(layer: string, rootfs: string, opaque: ReadonlySet<string>): Promise<void> {
  const inodes = new Map<number, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(layer, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const src = join(layer, r);
      const dst = join(rootfs, r);
      const st = await lstat(src);
      const existing = await lstatIfExists(dst);
      if (st.isDirectory()) {
        if (existing && (!existing.isDirectory() || opaque.has(r))) await rm(dst, { recursive: true, force: true });
        if (!existing?.isDirectory() || opaque.has(r)) await mkdir(dst);
        await walk(r);
        await copyMetadata(dst, st); // after the children, whose creation moves the directory's mtime
        continue;
      }
      if (existing) await rm(dst, { recursive: true, force: true });
      if (isWhiteoutDevice(st)) continue;
      const first = st.nlink > 1 ? inodes.get(st.ino) : undefined;
      if (first !== undefined) {
        await link(first, dst);
        continue;
      }
      if (st.isSymbolicLink()) await symlink(await readlink(src), dst);
      else if (st.isFIFO()) await runChecked('mkfifo', [dst]);
      else if (st.isFile()) await copyFile(src, dst, constants.COPYFILE_FICLONE);
      else continue; // sockets are not layer content
      await copyMetadata(dst, st);
      if (st.nlink > 1) inodes.set(st.ino, dst);
    }
  };
  await walk('');
}
