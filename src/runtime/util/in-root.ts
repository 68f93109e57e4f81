/**
 * Files inside a root a container controls (its rootfs, a volume), reached through descriptors so
 * that a path is resolved by the kernel inside the root at the moment it is used: openat2(2) with
 * RESOLVE_IN_ROOT for a path as the container sees it (symlinks followed, but "/" and ".." stop at
 * the root), RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS for one entry of a directory already open (never
 * a symlink). Node's fs has no *at() calls; what it does on an entry goes through
 * /proc/self/fd/DIRFD/NAME, where the kernel takes the directory from the descriptor (a "magic link"
 * to the open directory itself, not a path to resolve again) and NAME is one component that
 * mkdir, symlink, unlink, lstat and readlink never follow.
 *
 * A path-based check followed by a path-based use (what resolveInRoot in snapshots/safe-path.ts
 * gives) is open to a container that swaps a directory for a symlink in between; these are not.
 */
import { closeSync, fstatSync, openSync, type Stats } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { failed, isNodeError, unsafe } from './errors.js';
import { syscallError, syscalls, type OpenAt2Constants } from './syscalls.js';

interface OpenAt2 {
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  c: OpenAt2Constants;
}

let cached: OpenAt2 | undefined;

function native(): OpenAt2 {
  if (cached) return cached;
  const sys = syscalls();
  if (!sys?.openat2 || !sys.constants) throw failed('paths inside a container need the berth-syscalls addon with openat2 (run scripts/setup to build native/syscalls)');
  cached = { openat2: sys.openat2.bind(sys), c: sys.constants };
  return cached;
}

/** The descriptor's path for Node's fs: the open file itself, or one entry of an open directory. */
export function fdPath(fd: number, name?: string): string {
  if (name !== undefined && (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))) {
    throw unsafe(`"${name}" is not a single path component`);
  }
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

/** Opens a trusted host directory (a rootfs or volume directory the runtime made) as the root. */
export function openRootDir(path: string): number {
  return openSync(path, fsc.O_RDONLY | fsc.O_DIRECTORY);
}

function call(what: string, fn: () => number): number {
  try {
    return fn();
  } catch (e) {
    throw syscallError(e, what);
  }
}

/**
 * Opens `path` as the container would see it from `rootFd` (symlinks followed inside the root, "/"
 * and ".." clamped at it). `final: 'nofollow'` leaves a symlink in the last component unfollowed (as
 * lstat). With O_PATH (the default) nothing is read or written, so a FIFO or device never blocks or
 * acts: callers fstat first and reopen a regular file with reopen().
 */
export function openInRoot(rootFd: number, path: string, o: { flags?: number; final?: 'follow' | 'nofollow' } = {}): number {
  const { openat2, c } = native();
  const rel = path.split('/').filter((p) => p !== '' && p !== '.').join('/') || '.';
  const flags = (o.flags ?? c.O_PATH) | (o.final === 'nofollow' ? fsc.O_NOFOLLOW : 0);
  return call(`open ${path} in the root`, () => openat2(rootFd, rel, flags, 0, c.RESOLVE_IN_ROOT | c.RESOLVE_NO_MAGICLINKS));
}

/** Opens one entry of an open directory, refusing a symlink anywhere (ELOOP) and never leaving it. */
export function openEntry(dirFd: number, name: string, flags?: number, mode = 0): number {
  const { openat2, c } = native();
  fdPath(dirFd, name); // a single component
  const f = (flags ?? c.O_PATH) | fsc.O_NOFOLLOW;
  return call(`open ${name}`, () => openat2(dirFd, name, f, mode, c.RESOLVE_BENEATH | c.RESOLVE_NO_SYMLINKS | c.RESOLVE_NO_MAGICLINKS));
}

/** Opens a relative path below an open directory, every component a real directory or file (no symlink). */
export function openBeneath(dirFd: number, rel: string, flags?: number): number {
  const { openat2, c } = native();
  const clean = rel.split('/').filter((p) => p !== '' && p !== '.').join('/') || '.';
  if (clean.split('/').includes('..')) throw unsafe(`"${rel}": ".." leaves the directory`);
  return call(`open ${rel}`, () => openat2(dirFd, clean, (flags ?? c.O_PATH) | fsc.O_NOFOLLOW, 0, c.RESOLVE_BENEATH | c.RESOLVE_NO_SYMLINKS | c.RESOLVE_NO_MAGICLINKS));
}

export const O_PATH = (): number => native().c.O_PATH;

/** Opens a regular file held by an O_PATH descriptor for reading; refuses anything else (a FIFO, a device). */
export function reopenRegular(pathFd: number, st: Stats = fstatSync(pathFd)): number {
  if (!st.isFile()) throw unsafe('not a regular file');
  return openSync(fdPath(pathFd), fsc.O_RDONLY | fsc.O_NONBLOCK);
}

export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined || fd < 0) return;
  try {
    closeSync(fd);
  } catch (e) {
    if (!isNodeError(e, 'EBADF')) throw e;
  }
}

/** Runs fn with a descriptor that is closed afterwards whatever happens. */
export async function withFd<T>(fd: number, fn: (fd: number) => Promise<T> | T): Promise<T> {
  try {
    return await fn(fd);
  } finally {
    closeQuietly(fd);
  }
}
