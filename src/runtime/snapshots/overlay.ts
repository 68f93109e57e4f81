import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runChecked, runCommand } from '../util/exec.js';
import { randomHexId } from '../util/digest.js';
import { syscallError, syscalls } from '../util/syscalls.js';

export async function overlayMount(lowerdirs: readonly string[], upper: string, work: string, target: string): Promise<void> {
  const opts = `lowerdir=${lowerdirs.join(':')},upperdir=${upper},workdir=${work}`;
  if (opts.length > 4000) throw new Error(`overlay mount options too long (${lowerdirs.length} layers)`);
  const sys = syscalls();
  if (!sys) {
    await runChecked('mount', ['-t', 'overlay', 'overlay', '-o', opts, target]);
    return;
  }
  try {
    sys.mount('overlay', target, 'overlay', 0, opts);
  } catch (e) {
    throw syscallError(e, `mount -t overlay overlay ${target}`);
  }
}

export async function isMountPoint(path: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[4] === path);
}

/**
 * Whether an overlay is mounted on `path`: an overlay has a device of its own, so two stats answer
 * without reading /proc/self/mountinfo (which grows with every running container).
 */
export async function isOverlayMounted(path: string): Promise<boolean> {
  const [self, parent] = await Promise.all([stat(path), stat(dirname(path))]);
  return self.dev !== parent.dev;
}

const MNT_DETACH = 2;
const UMOUNT_NOFOLLOW = 8;

/** Unmounts `path` (lazily when busy); never what a symlink at `path` points to. */
export async function unmount(path: string): Promise<void> {
  if (!(await isMountPoint(path))) return;
  const sys = syscalls();
  if (sys?.umount) {
    try {
      sys.umount(path, UMOUNT_NOFOLLOW);
    } catch (e) {
      if ((e as { errno?: number }).errno === 22 /* EINVAL: not mounted (any more) */) return;
      try {
        sys.umount(path, UMOUNT_NOFOLLOW | MNT_DETACH);
      } catch (e2) {
        throw syscallError(e2, `umount ${path}`);
      }
    }
    return;
  }
  const r = await runCommand('umount', [path]);
  if (r.code !== 0) await runChecked('umount', ['-l', path]);
}

/** Tries a throwaway overlay mount under `scratch` to learn whether overlayfs works here. */
export async function overlaySupported(scratch: string): Promise<boolean> {
  const dir = join(scratch, `probe-${randomHexId().slice(0, 12)}`);
  const [l, u, w, m] = ['l', 'u', 'w', 'm'].map((n) => join(dir, n)) as [string, string, string, string];
  try {
    for (const d of [l, u, w, m]) await mkdir(d, { recursive: true });
    await overlayMount([l], u, w, m);
    await unmount(m);
    return true;
  } catch {
    return false;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
