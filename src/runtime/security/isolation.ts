/**
 * What a container may reach, as Docker's defaults decide it: its capability set (defaults with
 * capAdd/capDrop on top), Docker's default seccomp profile, no_new_privs, /proc and /sys mounted
 * nosuid, noexec, nodev, and Docker's masked and read-only paths under them. `privileged` lifts all
 * of it, as `docker run --privileged` does (every capability, no seccomp filter, no masks, /sys
 * writable, every device allowed by the device cgroup); `seccomp: unconfined` lifts only the filter.
 * The OCI spec builder (containers/spec.ts) calls applyIsolation on the spec it has made.
 */
import { z } from 'zod';
import { invalid } from '../util/errors.js';
import { containerCapabilities } from './capabilities.js';
import { loadDefaultProfile, seccompFor, type GeneratedProfile, type OciSeccomp } from './seccomp.js';

/** The runtime's create options for isolation (the agent fills them from a Container's spec). */
export const SecurityOptionsSchema = z.object({
  capAdd: z.array(z.string()).default([]),
  capDrop: z.array(z.string()).default([]),
  privileged: z.boolean().default(false),
  /** `default`: Docker's default profile; `unconfined`: no filter (docker run --security-opt seccomp=unconfined). */
  seccomp: z.enum(['default', 'unconfined']).default('default'),
  /** Refuse to create the container when its process would run as uid 0 (Kubernetes' runAsNonRoot). */
  runAsNonRoot: z.boolean().default(false),
});
export type SecurityOptions = z.infer<typeof SecurityOptionsSchema>;

/** Docker's masked paths (moby oci/defaults.go, plus powercap since Docker 24): a /dev/null or an empty read-only tmpfs is mounted on each. */
export const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
/** Docker's read-only paths: bind-mounted over themselves read-only. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const PROC_OPTIONS = ['nosuid', 'noexec', 'nodev'];

export interface Isolation {
  capabilities: string[];
  noNewPrivileges: boolean;
  seccomp: OciSeccomp | undefined;
  privileged: boolean;
}

/** What a process of the container gets (an exec'd one too: runc applies the container's seccomp filter to it). */
export function processIsolation(input: z.input<typeof SecurityOptionsSchema> = {}): Pick<Isolation, 'capabilities' | 'noNewPrivileges'> {
  const o = SecurityOptionsSchema.parse(input);
  return { capabilities: containerCapabilities(o), noNewPrivileges: !o.privileged };
}

/** The isolation of a container with these options; the default seccomp profile is read only when it applies. */
export function isolationFor(input: z.input<typeof SecurityOptionsSchema> = {}, profile: () => GeneratedProfile = () => loadDefaultProfile()): Isolation {
  const o = SecurityOptionsSchema.parse(input);
  const { capabilities, noNewPrivileges } = processIsolation(o);
  return {
    capabilities,
    noNewPrivileges,
    seccomp: o.privileged || o.seccomp === 'unconfined' ? undefined : seccompFor(profile(), capabilities),
    privileged: o.privileged,
  };
}

/** The process's capability sets (Docker sets bounding, effective and permitted alike; no inheritable or ambient). */
export function processCapabilities(iso: Pick<Isolation, 'capabilities'>): Record<'bounding' | 'effective' | 'permitted', string[]> {
  return { bounding: [...iso.capabilities], effective: [...iso.capabilities], permitted: [...iso.capabilities] };
}

/** Refuses a process that would run as root when runAsNonRoot is set (Kubernetes' message). */
export function checkRunAsNonRoot(o: Pick<SecurityOptions, 'runAsNonRoot'>, uid: number): void {
  if (o.runAsNonRoot && uid === 0) throw invalid('runAsNonRoot: the container would run as root (uid 0); set user to a non-root user');
}

interface SpecShape {
  process?: { capabilities?: unknown; noNewPrivileges?: boolean };
  mounts?: Array<Record<string, unknown>>;
  linux?: Record<string, unknown> & { resources?: Record<string, unknown> };
}

/** Applies the isolation to an OCI spec built with Docker's mounts (/proc, /sys, /sys/fs/cgroup). */
export function applyIsolation(spec: SpecShape, iso: Isolation): void {
  spec.process = { ...spec.process, capabilities: processCapabilities(iso), noNewPrivileges: iso.noNewPrivileges };
  for (const m of spec.mounts ?? []) {
    if (m.destination === '/proc') m.options = [...PROC_OPTIONS];
    if (iso.privileged && (m.destination === '/sys' || m.destination === '/sys/fs/cgroup')) {
      m.options = ((m.options as string[] | undefined) ?? []).map((o) => (o === 'ro' ? 'rw' : o));
    }
  }
  const linux = (spec.linux ??= {});
  if (iso.privileged) {
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
    linux.resources = { ...linux.resources, devices: [{ allow: true, access: 'rwm' }] };
  } else {
    linux.maskedPaths = [...MASKED_PATHS];
    linux.readonlyPaths = [...READONLY_PATHS];
  }
  if (iso.seccomp) linux.seccomp = iso.seccomp;
  else delete linux.seccomp;
}
