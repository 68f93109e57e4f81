import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';

interface SyscallsAddon {
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  spawnDetached(file: string, argv: string[], envp: string[], cwd: string): { pid: number; stderrFd: number; syncFd: number };
  reap(pid: number): number;
  /** Connects to a SOCK_SEQPACKET unix socket; answers the fd of a stream socket bridged to it (attach.c). Older builds lack it. */
  attachBridge?(path: string): number;
}

let addon: SyscallsAddon | null | undefined;

/**
 * The berth-syscalls addon (native/syscalls: mount(2), posix_spawn(3)), or undefined where it did not
 * build; callers then fall back to mount(8) and child_process.spawn, which forks this whole process.
 */
export function syscalls(): SyscallsAddon | undefined {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('berth-syscalls') as SyscallsAddon;
    } catch {
      addon = null;
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
