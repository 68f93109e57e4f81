/** The teardown of an e2e test that ran real containers under a `berth server`. */
import { spawnSync } from 'node:child_process';
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerProcess } from './server-process.js';

/**
 * Stops the server started on `dir`/data, then removes whatever a failed test left behind:
 * containers (with their mounts and volumes), the `cgroupParent` cgroups and `dir` itself.
 * Does nothing when the server never started.
 */
export async function cleanUpE2eServer(server: Pick<ServerProcess, 'kill'> | undefined, dir: string, cgroupParent: string): Promise<void> {
  if (!server) return;
  await server.kill('SIGTERM');
  const { Runtime } = await import('../../src/runtime/index.js');
  const rt = new Runtime({ root: join(dir, 'data', 'runtime'), cgroupParent });
  for (const c of await rt.containers.records.all()) await rt.containers.remove(c.id, { force: true, volumes: true }).catch(() => undefined);
  await rt.sweepNetworks().catch(() => undefined);
  await rt.networks.prune().catch(() => undefined);
  await rt.close();
  for (const b of ['/sys/fs/cgroup', ...(await readdir('/sys/fs/cgroup').catch(() => [] as string[])).map((n) => join('/sys/fs/cgroup', n))]) {
    await rmdir(join(b, cgroupParent)).catch(() => undefined);
  }
  // a create killed half-way (a test that kills the server) can leave its rootfs mounted with no record
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${dir}/`)).reverse();
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  await rm(dir, { recursive: true, force: true });
}
