/** podman as a baseline: installed from Debian on demand, run with runc and the ulimits this host allows. */
import { spawnSync } from 'node:child_process';

/** Installs podman when it is missing; returns why it is unavailable, or undefined when it is there. */
export function ensurePodman(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v podman']).status === 0) return undefined;
  console.log('podman is missing: installing the Debian package (apt-get install podman)...');
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'podman'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) return 'podman is not installed and apt-get install podman failed';
  return undefined;
}

/** Global flags for a private podman store under `work`: runc (crun fails on this host's hybrid cgroups), cgroupfs, file events. */
export function podmanGlobalArgs(root: string, runroot: string): string[] {
  return ['--root', root, '--runroot', runroot, '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
}

/** Container limits above the host's hard limits are refused by the kernel; runc's default spec stays within. */
export const PODMAN_ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
