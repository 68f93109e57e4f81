/** Why an e2e test that runs real containers under a `berth server` cannot run here. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The busybox rootfs scripts/setup installs; the e2e tests import it as their image. */
export const BUSYBOX_TAR = '/usr/local/share/berth/busybox-rootfs.tar';

/** Undefined when the `what` e2e test can run: root, BUSYBOX_TAR and every command in `commands`; else the reason it cannot. */
export function e2eSkipReason(what: string, commands: string[]): string | undefined {
  if (process.getuid?.() !== 0) return `the ${what} e2e test needs root (runc, mounts, cgroups)`;
  if (!existsSync(BUSYBOX_TAR)) return `the ${what} e2e test needs ${BUSYBOX_TAR} (run scripts/setup as root)`;
  for (const c of commands) {
    if (spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0) return `the ${what} e2e test needs ${c} (run scripts/setup)`;
  }
  return undefined;
}
