import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';

interface MountAddon {
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
}

let addon: MountAddon | null | undefined;

/**
 * mount(2) through the berth-mount addon (native/mount), or undefined where it did not build: callers
 * then spawn mount(8), which costs a fork of this process and more than the mount itself.
 */
export function mountSyscall(): ((source: string, target: string, fstype: string, data: string) => void) | undefined {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('berth-mount') as MountAddon;
    } catch {
      addon = null;
    }
  }
  const a = addon;
  if (!a) return undefined;
  return (source, target, fstype, data) => {
    try {
      a.mount(source, target, fstype, 0, data);
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      const code = errno === undefined ? 'EUNKNOWN' : getSystemErrorName(-errno);
      throw Object.assign(new Error(`mount -t ${fstype} ${source} ${target}: ${code} (${(e as Error).message})`), { code });
    }
  };
}
