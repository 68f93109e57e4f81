import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';

export interface SyscallsAddon {
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  /** umount2(2); absent from an addon built before it was added. */
  umount?(target: string, flags: number): void;
  spawnDetached(file: string, argv: string[], envp: string[], cwd: string): { pid: number; stderrFd: number; syncFd: number };
  /** A child with its stdio on pipes (stdin's write end, stdout's and stderr's read ends). */
  spawnPiped(file: string, argv: string[], envp: string[], cwd: string): { pid: number; stdinFd: number; stdoutFd: number; stderrFd: number };
  /** waitpid(WNOHANG) of a child either spawn made: null while it runs, else its exit code or the signal that ended it. */
  reapStatus(pid: number): { code: number | null; signal: number | null } | null;
  /** Connects to a SOCK_SEQPACKET unix socket; answers the fd of a stream socket bridged to it (attach.c). Older builds lack it. */
  attachBridge?(path: string): number;
  /** openat2(2); absent from an addon built before it was added (scripts/setup rebuilds it). */
  openat2?(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /**
   * Signals `pid` through a pidfd if it is a live child of `parentPid` (signal.c): "gone" when it has ended,
   * "other" when the pid belongs to another parent. Absent from an addon built before it was added.
   */
  signalChild?(pid: number, parentPid: number, signal: number): 'sent' | 'gone' | 'other';
  constants?: OpenAt2Constants;
}

export interface OpenAt2Constants {
  O_PATH: number;
  O_TMPFILE: number;
  RESOLVE_NO_XDEV: number;
  RESOLVE_NO_MAGICLINKS: number;
  RESOLVE_NO_SYMLINKS: number;
  RESOLVE_BENEATH: number;
  RESOLVE_IN_ROOT: number;
}

let addon: SyscallsAddon | null | undefined;

/**
 * The berth-syscalls addon (native/syscalls: mount(2), posix_spawn(3), openat2(2), pidfd signals), or undefined where it did not
 * build; callers then fall back to mount(8) and child_process.spawn, which forks this whole process.
 */
export function syscalls(): SyscallsAddon | undefined {
  if (addon === undefined) {
    const require = createRequire(import.meta.url);
    // this checkout's own build first (src/ and dist/ are both three levels down), then the package
    for (const id of [fileURLToPath(new URL('../../../native/syscalls/build/Release/berth_syscalls.node', import.meta.url)), 'berth-syscalls']) {
      try {
        addon = require(id) as SyscallsAddon;
        break;
      } catch {
        addon = null;
      }
    }
  }
  return addon ?? undefined;
}

/** An addon error as a Node-style error: `code` (ENOENT, ...) from its errno. */
export function syscallError(e: unknown, what: string): Error {
  const errno = (e as { errno?: number }).errno;
  const code = errno === undefined ? 'EUNKNOWN' : getSystemErrorName(-errno);
  return Object.assign(new Error(`${what}: ${code} (${(e as Error).message})`), { code });
}
