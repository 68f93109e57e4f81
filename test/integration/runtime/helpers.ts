import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, rmdir, symlink, copyFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../../../src/runtime/index.js';

const APPLETS = ['sh', 'echo', 'sleep', 'cat', 'ls', 'id', 'touch', 'mkdir', 'rm', 'true', 'false', 'env', 'pwd', 'hostname', 'ps', 'dd', 'head', 'tail', 'wc', 'grep', 'yes', 'kill', 'stat', 'mv', 'cp', 'test', 'whoami', 'uname'];

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Why the runtime integration tests cannot run here, or undefined when they can. */
export function runtimeSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'runtime integration tests need root (runc, mounts, cgroups)';
  for (const c of ['runc', 'conmon', 'mknod', 'setfattr', 'getfattr']) if (!has(c)) return `runtime integration tests need ${c} (run scripts/setup)`;
  if (!existsSync('/bin/busybox')) return 'runtime integration tests need /bin/busybox (Debian busybox-static)';
  return undefined;
}

export async function makeTempRoot(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `berth-${prefix}-`));
}

/** A busybox rootfs: /bin/busybox, applet symlinks, /etc/passwd and /etc/group with root, nobody and an app user. */
export async function makeBusyboxRootfs(dir: string, extra?: (root: string) => Promise<void>): Promise<string> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(dir, 'bin', 'busybox'));
  execFileSync('chmod', ['0755', join(dir, 'bin', 'busybox')]);
  for (const a of APPLETS) await symlink('busybox', join(dir, 'bin', a));
  for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'home/app', 'data']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
  await writeFile(join(dir, 'etc', 'group'), 'root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n');
  if (extra) await extra(dir);
  return dir;
}

/** Tars a directory with GNU tar (an outside producer, so our reader is tested against real archives). */
export function tarDirectory(dir: string, out: string): string {
  execFileSync('tar', ['-C', dir, '--numeric-owner', '-cf', out, '.']);
  return out;
}

export async function busyboxTarball(work: string, extra?: (root: string) => Promise<void>): Promise<string> {
  const rootfs = join(work, `rootfs-${Math.random().toString(16).slice(2)}`);
  await makeBusyboxRootfs(rootfs, extra);
  const out = tarDirectory(rootfs, `${rootfs}.tar`);
  await rm(rootfs, { recursive: true, force: true });
  return out;
}

/** Mount points under a path (from /proc/self/mountinfo). */
export function mountsUnder(path: string): string[] {
  const info = execFileSync('cat', ['/proc/self/mountinfo']).toString();
  return info.split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(path));
}

/** Removes a test's parent cgroup from every hierarchy (runc leaves the parent behind). */
export async function removeCgroupParent(parent: string): Promise<void> {
  const bases = ['/sys/fs/cgroup', ...(await readdir('/sys/fs/cgroup').catch(() => [] as string[])).map((n) => join('/sys/fs/cgroup', n))];
  for (const b of bases) await rmdir(join(b, parent)).catch(() => undefined);
}

/** Container cgroups (64-hex dirs) still present under a test's parent cgroup. */
export async function cgroupsUnder(parent: string): Promise<string[]> {
  const out: string[] = [];
  const bases = ['/sys/fs/cgroup', ...(await readdir('/sys/fs/cgroup').catch(() => [] as string[])).map((n) => join('/sys/fs/cgroup', n))];
  for (const b of bases) {
    for (const n of await readdir(join(b, parent)).catch(() => [] as string[])) if (/^[a-f0-9]{64}$/.test(n)) out.push(join(b, parent, n));
  }
  return out;
}

/**
 * A runtime test's teardown: removes every container, the cgroup parent and the root, then fails
 * if any mount or container cgroup was left behind (everything is removed either way).
 */
export async function removeRuntimeTestRoot(rt: Runtime, root: string, cgroupParent: string): Promise<void> {
  for (const c of await rt.containers.list({ all: true })) await rt.containers.remove(c.id, { force: true, volumes: true });
  await rt.close(); // no garbage collection in the root while it is removed
  const leftMounts = mountsUnder(root);
  const leftCgroups = await cgroupsUnder(cgroupParent);
  await removeCgroupParent(cgroupParent);
  await rm(root, { recursive: true, force: true });
  if (leftMounts.length || leftCgroups.length) throw new Error(`leftovers: mounts ${leftMounts.join(', ')} cgroups ${leftCgroups.join(', ')}`);
}
