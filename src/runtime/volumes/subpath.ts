/**
 * Volume subPath mounts, as kubelet makes them safe: the subPath is opened below the volume one
 * component at a time with no symlink allowed (a symlink the container planted in the volume is
 * refused by name, it can never lead to the host directory it points to), missing directories are
 * created the same way, and the directory reached is bind-mounted through its descriptor
 * (/proc/PID/fd/N: the very directory that was opened, not a path resolved again) onto a staging
 * point under the container's directory. runc then mounts the staging point: a swap made after the
 * check changes nothing.
 */
import { constants as fsc, fstatSync, lstatSync, mkdirSync } from 'node:fs';
import { mkdir, open, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isMountPoint, unmount } from '../snapshots/overlay.js';
import { runChecked } from '../util/exec.js';
import { invalid, isNodeError, unsafe } from '../util/errors.js';
import { closeQuietly, fdPath, O_PATH, openEntry, openRootDir } from '../util/in-root.js';
import { syscallError, syscalls } from '../util/syscalls.js';

const MS_BIND = 4096;

function isSymlinkAt(dirFd: number, name: string): boolean {
  try {
    return lstatSync(fdPath(dirFd, name)).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Opens `subPath` below the directory `base` (an O_PATH descriptor), refusing symlinks and "..", creating missing directories. */
export function openSubPath(base: string, subPath: string, field: string): number {
  const parts = subPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid(`${field}: "${subPath}" must not contain ".."`);
  let cur = openRootDir(base);
  try {
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      let next: number;
      try {
        next = openEntry(cur, part, last ? O_PATH() : fsc.O_RDONLY | fsc.O_DIRECTORY);
      } catch (e) {
        if (isNodeError(e, 'ENOENT')) {
          mkdirSync(fdPath(cur, part), 0o755);
          next = openEntry(cur, part, last ? O_PATH() : fsc.O_RDONLY | fsc.O_DIRECTORY);
        } else if (isNodeError(e, 'ELOOP') || (isNodeError(e, 'ENOTDIR') && isSymlinkAt(cur, part))) {
          throw unsafe(`${field}: "${parts.slice(0, i + 1).join('/')}" is a symlink; a subPath must not go through one`);
        } else if (isNodeError(e, 'ENOTDIR')) {
          throw invalid(`${field}: "${parts.slice(0, i + 1).join('/')}" is not a directory`);
        } else throw e;
      }
      closeQuietly(cur);
      cur = next;
      // O_PATH|O_NOFOLLOW opens a trailing symlink itself: refused like one on the way
      if (last && fstatSync(cur).isSymbolicLink()) throw unsafe(`${field}: "${parts.join('/')}" is a symlink; a subPath must not go through one`);
    }
    return cur;
  } catch (e) {
    closeQuietly(cur);
    throw e;
  }
}

/** Checks a subPath at create time (the same walk the staging does), so that a bad one fails the create naming the field. */
export function checkSubPath(base: string, subPath: string, field: string): void {
  closeQuietly(openSubPath(base, subPath, field));
}

/** Bind-mounts `subPath` of `base` on `staging` unless something is mounted there already. */
export async function stageSubPath(base: string, subPath: string, staging: string, field: string): Promise<void> {
  if (await isMountPoint(staging)) return;
  const fd = openSubPath(base, subPath, field);
  try {
    const isDir = fstatSync(fd).isDirectory();
    if (isDir) await mkdir(staging, { recursive: true });
    else {
      await mkdir(join(staging, '..'), { recursive: true });
      await (await open(staging, 'a')).close();
    }
    // /proc/PID rather than /proc/self: mount(8), the fallback, is another process
    const source = `/proc/${process.pid}/fd/${fd}`;
    const sys = syscalls();
    if (sys) {
      try {
        sys.mount(source, staging, '', MS_BIND, '');
      } catch (e) {
        throw syscallError(e, `mount --bind ${field}`);
      }
    } else await runChecked('mount', ['--bind', source, staging]);
  } finally {
    closeQuietly(fd);
  }
}

/** Stages every subPath mount of a container (at create, and at start when a reboot took them). */
export async function stageSubPathMounts(mounts: ReadonlyArray<{ source: string; subPathOf?: { base: string; path: string } | undefined }>): Promise<void> {
  for (const [i, m] of mounts.entries()) if (m.subPathOf) await stageSubPath(m.subPathOf.base, m.subPathOf.path, m.source, `mounts[${i}].subPath`);
}

/** Unmounts and removes every staging point in `dir` (a container's subpaths directory). */
export async function unstageSubPaths(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (isNodeError(e, 'ENOENT')) return;
    throw e;
  }
  for (const n of names) {
    const p = join(dir, n);
    await unmount(p);
    await rmdir(p).catch(() => rm(p, { force: true }));
  }
  await rmdir(dir).catch(() => undefined);
}
