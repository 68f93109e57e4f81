import type { ResolvedUser } from './user.js';
import type { ResolvedMount } from './options.js';
import { DEFAULT_CAPABILITIES } from '../security/capabilities.js';
import { applyIsolation, processCapabilities, type Isolation } from '../security/isolation.js';

/** Docker's default capability set (security/capabilities.ts). */
export { DEFAULT_CAPABILITIES };

export interface SpecInput {
  args: string[];
  env: string[];
  cwd: string;
  user: ResolvedUser;
  hostname: string;
  rootfs: string;
  readOnlyRootfs: boolean;
  /** none: a new namespace made by runc; host: the node's; { path }: one made by the network service, or another container's. */
  network: 'none' | 'host' | { path: string };
  cgroupsPath: string;
  mounts: ResolvedMount[];
  /** Files the runtime provides (/etc/hostname, /etc/hosts, /etc/resolv.conf). */
  etcFiles: Array<{ target: string; source: string }>;
  memoryBytes?: number;
  /** Whether the kernel accounts swap (memsw on v1); then swap is limited to the memory limit, as Docker does. */
  swapAccounting: boolean;
  cpus?: number;
  pids?: number;
  /** Capabilities, seccomp, no_new_privs, masked paths (security/isolation.ts). */
  isolation: Isolation;
}

export interface OciProcess {
  terminal: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: Record<'bounding' | 'effective' | 'permitted', string[]>;
  rlimits: Array<{ type: string; hard: number; soft: number }>;
  noNewPrivileges: boolean;
}

export function processSpec(
  args: string[],
  env: string[],
  cwd: string,
  user: ResolvedUser,
  iso: Pick<Isolation, 'capabilities' | 'noNewPrivileges'> = { capabilities: [...DEFAULT_CAPABILITIES], noNewPrivileges: true },
): OciProcess {
  return {
    terminal: false,
    user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
    args,
    env,
    cwd,
    capabilities: processCapabilities(iso),
    // within the host's hard limits, or the kernel refuses to start the container
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: iso.noNewPrivileges,
  };
}

/** Builds an OCI runtime spec (config.json) in the shape runc's default spec has, with Docker's defaults. */
export function buildSpec(i: SpecInput): Record<string, unknown> {
  // a pid namespace of its own, always: SIGKILL to the init then ends every process (signals.ts relies on it)
  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (i.network === 'none') namespaces.push({ type: 'network' });
  else if (i.network !== 'host') namespaces.push({ type: 'network', path: i.network.path });
  const mounts: Array<Record<string, unknown>> = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
  if (i.network === 'host') {
    // host network: /sys must come from the host's network namespace view, as Docker does
    mounts[5] = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
  }
  for (const f of i.etcFiles) mounts.push({ destination: f.target, type: 'bind', source: f.source, options: ['rbind', 'rprivate', 'rw'] });
  for (const m of [...i.mounts].sort((a, b) => a.target.split('/').length - b.target.split('/').length)) {
    mounts.push({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', 'rprivate', m.readOnly ? 'ro' : 'rw'] });
  }
  const resources: Record<string, unknown> = { devices: [{ allow: false, access: 'rwm' }] };
  if (i.memoryBytes !== undefined) {
    resources.memory = { limit: i.memoryBytes, ...(i.swapAccounting ? { swap: i.memoryBytes } : {}) };
  }
  if (i.cpus !== undefined) resources.cpu = { period: 100000, quota: Math.round(i.cpus * 100000) };
  if (i.pids !== undefined) resources.pids = { limit: i.pids };
  const spec = {
    ociVersion: '1.0.2-dev',
    process: processSpec(i.args, i.env, i.cwd, i.user, i.isolation),
    root: { path: i.rootfs, readonly: i.readOnlyRootfs },
    hostname: i.hostname,
    mounts,
    linux: {
      resources,
      cgroupsPath: i.cgroupsPath,
      namespaces,
    } as Record<string, unknown>,
  };
  applyIsolation(spec, i.isolation);
  return spec;
}
