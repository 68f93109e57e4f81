/**
 * Linux capabilities of a container, as Docker computes them: its default set of 14, with
 * `--cap-add`/`--cap-drop` applied on top (moby's TweakCapabilities), every capability the kernel
 * knows for a privileged container. Names are the kernel's (include/uapi/linux/capability.h), in
 * the order of their numbers, so that a set can also be written as the bit mask /proc shows.
 */
import { readFileSync } from 'node:fs';
import { invalid } from '../util/errors.js';

/** Capability names by number (CAP_CHOWN is 0). */
export const CAPABILITY_NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

let available: string[] | undefined;

/**
 * Every capability a container can be given here: those the running kernel knows (up to
 * /proc/sys/kernel/cap_last_cap) and this process still has in its bounding set (as containerd's
 * privileged set is the current process's: inside a VM or another container some may be gone).
 */
export function kernelCapabilities(): string[] {
  if (available === undefined) {
    let lastCap = CAPABILITY_NAMES.length - 1;
    try {
      const n = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
      if (Number.isInteger(n) && n >= 0) lastCap = Math.min(n, lastCap);
    } catch {
      // no /proc/sys: every name we know
    }
    let bounding = (1n << 64n) - 1n;
    try {
      const m = /^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m?.[1]) bounding = BigInt(`0x${m[1]}`);
    } catch {
      // no /proc: assume a full bounding set
    }
    available = CAPABILITY_NAMES.slice(0, lastCap + 1).filter((_, i) => (bounding >> BigInt(i)) & 1n);
  }
  return available;
}

/** `NET_ADMIN`, `cap_net_admin` and `CAP_NET_ADMIN` name the same capability; `ALL` stays `ALL`. */
export function normaliseCapability(name: string, field: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!(CAPABILITY_NAMES as readonly string[]).includes(full)) throw invalid(`${field}: unknown capability "${name}"`);
  return full;
}

/**
 * The capability set of a container (moby's TweakCapabilities): privileged gets everything; an
 * `ALL` in capAdd gives everything but what capDrop names; an `ALL` in capDrop leaves only capAdd;
 * otherwise the defaults less capDrop plus capAdd. Capabilities this kernel does not have are
 * refused by name rather than silently left out.
 */
export function containerCapabilities(o: { capAdd?: readonly string[]; capDrop?: readonly string[]; privileged?: boolean }): string[] {
  const known = kernelCapabilities();
  if (o.privileged) return known;
  const add = (o.capAdd ?? []).map((c) => normaliseCapability(c, 'capAdd'));
  const drop = (o.capDrop ?? []).map((c) => normaliseCapability(c, 'capDrop'));
  for (const c of add) if (c !== 'ALL' && !known.includes(c)) throw invalid(`capAdd: capability ${c} is not available on this node (kernel or the runtime's bounding set)`);
  let caps: string[];
  if (add.includes('ALL')) caps = known.filter((c) => !drop.includes(c));
  else if (drop.includes('ALL')) caps = add;
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c) && known.includes(c)), ...add];
  return [...new Set(caps)].sort((a, b) => capabilityNumber(a) - capabilityNumber(b));
}

export function capabilityNumber(name: string): number {
  return (CAPABILITY_NAMES as readonly string[]).indexOf(name);
}

/** The set as the hex mask /proc/PID/status shows (CapEff: 00000000a80425fb for Docker's defaults). */
export function capabilityMask(caps: readonly string[]): string {
  let mask = 0n;
  for (const c of caps) {
    const n = capabilityNumber(c);
    if (n >= 0) mask |= 1n << BigInt(n);
  }
  return mask.toString(16).padStart(16, '0');
}
