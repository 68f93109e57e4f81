import { cp, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../util/exec.js';
import { lstatIfExists } from '../util/fs.js';

export async function isOpaqueDir(path: string): Promise<boolean> {
  const r = await runCommand('getfattr', ['--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', path]);
  return r.code === 0 && r.stdout.trim() === 'y';
}

export const isWhiteoutDevice = (st: { isCharacterDevice(): boolean; rdev: number }): boolean => st.isCharacterDevice() && st.rdev === 0;

/** Copies one overlay-format layer directory onto a flattened rootfs (the copy fallback), honouring whiteouts. */
export async function mergeLayerDir(layer: string, rootfs: string): Promise<void> {
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(layer, rel))) {
      const r = join(rel, name);
      const src = join(layer, r);
      const dst = join(rootfs, r);
      const st = await lstat(src);
      if (isWhiteoutDevice(st)) {
        await rm(dst, { recursive: true, force: true });
        continue;
      }
      const existing = await lstatIfExists(dst);
      if (st.isDirectory()) {
        if (existing && (!existing.isDirectory() || (await isOpaqueDir(src)))) await rm(dst, { recursive: true, force: true });
        await mkdir(dst, { recursive: true, mode: st.mode & 0o7777 });
        await walk(r);
      } else {
        if (existing) await rm(dst, { recursive: true, force: true });
        await cp(src, dst, { preserveTimestamps: true, verbatimSymlinks: true });
      }
    }
  };
  await walk('');
}
