import { describe, expect, it } from 'vitest';
import { buildSpec } from '../../../src/runtime/containers/spec.js';
import { capabilityMask, containerCapabilities, DEFAULT_CAPABILITIES } from '../../../src/runtime/security/capabilities.js';
import { isolationFor } from '../../../src/runtime/security/isolation.js';
import { kernelAtLeast, loadDefaultProfile, profileForArch, seccompFor, type MobyProfile } from '../../../src/runtime/security/seccomp.js';

describe('capabilities as Docker computes them', () => {
  it("Docker's default set is the mask /proc shows (a80425fb)", () => {
    expect(capabilityMask(DEFAULT_CAPABILITIES)).toBe('00000000a80425fb');
  });
  it('capDrop ALL leaves only capAdd; capAdd ALL gives all but capDrop; names are normalised', () => {
    expect(containerCapabilities({ capDrop: ['ALL'] })).toEqual([]);
    expect(containerCapabilities({ capDrop: ['all'], capAdd: ['net_bind_service'] })).toEqual(['CAP_NET_BIND_SERVICE']);
    const most = containerCapabilities({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] });
    expect(most).toContain('CAP_SYS_MODULE');
    expect(most).not.toContain('CAP_SYS_ADMIN');
    const tweaked = containerCapabilities({ capAdd: ['CAP_NET_ADMIN'], capDrop: ['NET_RAW', 'MKNOD'] });
    expect(tweaked).toContain('CAP_NET_ADMIN');
    expect(tweaked).not.toContain('CAP_NET_RAW');
    expect(tweaked).toHaveLength(DEFAULT_CAPABILITIES.length - 1);
  });
  it('an unknown capability is refused naming the field', () => {
    expect(() => containerCapabilities({ capAdd: ['NET_WIZARD'] })).toThrow(/capAdd: unknown capability "NET_WIZARD"/);
    expect(() => containerCapabilities({ capDrop: ['x'] })).toThrow(/capDrop: unknown capability/);
  });
});

describe("Docker's default seccomp profile", () => {
  const moby: MobyProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] }],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
      { names: ['set_tls'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }], excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
    ],
  };
  it('keeps only this architecture at build time, caps and kernel at create time', () => {
    const p = profileForArch(moby, 'amd64', { path: 'test' });
    expect(p.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
    expect(p.syscalls.flatMap((s) => s.names)).not.toContain('set_tls');
    const plain = seccompFor(p, DEFAULT_CAPABILITIES, '6.1.0-18-amd64');
    expect(plain.syscalls.flatMap((s) => s.names)).toEqual(['read', 'write', 'arch_prctl', 'clone', 'ptrace']);
    const admin = seccompFor(p, [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], '4.4.0');
    expect(admin.syscalls.flatMap((s) => s.names)).toEqual(['read', 'write', 'arch_prctl', 'mount']);
  });
  it('compares kernel versions', () => {
    expect(kernelAtLeast('6.18.44-fc', '4.8')).toBe(true);
    expect(kernelAtLeast('4.8.0', '4.8')).toBe(true);
    expect(kernelAtLeast('4.4.0', '4.8')).toBe(false);
  });
  it('the generated profile is for this machine and came from a package, not from this repository', () => {
    const p = loadDefaultProfile();
    expect(p.source.sha256).toMatch(/^[a-f0-9]{64}$/);
    expect(p.source.package).toMatch(/docker|containers/);
    expect(p.architectures.length).toBeGreaterThan(0);
    const allowed = new Set(p.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.includesCaps).flatMap((s) => s.names));
    expect(allowed.has('read')).toBe(true);
    // Docker's profile refuses these to a container without the capability they need
    for (const denied of ['kexec_load', 'init_module', 'mount', 'reboot', 'bpf']) expect(allowed.has(denied)).toBe(false);
  });
});

describe('isolation in the OCI spec', () => {
  const base = {
    args: ['sh'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [], home: '/root' }, hostname: 'h', rootfs: '/r',
    readOnlyRootfs: false, network: 'none' as const, cgroupsPath: '/berth/x', etcFiles: [], swapAccounting: true, mounts: [],
  };
  type Spec = {
    process: { capabilities: Record<string, string[]>; noNewPrivileges: boolean };
    mounts: Array<{ destination: string; options?: string[] }>;
    linux: { seccomp?: { defaultAction: string; syscalls: unknown[] }; maskedPaths?: string[]; readonlyPaths?: string[]; resources: { devices: unknown[] } };
  };
  it('by default: seccomp, no_new_privs, /proc nosuid,noexec,nodev, masked and read-only paths', () => {
    const s = buildSpec({ ...base, isolation: isolationFor({}) }) as unknown as Spec;
    expect(s.linux.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(s.process.noNewPrivileges).toBe(true);
    expect(s.mounts.find((m) => m.destination === '/proc')?.options).toEqual(['nosuid', 'noexec', 'nodev']);
    expect(s.mounts.find((m) => m.destination === '/sys')?.options).toEqual(expect.arrayContaining(['nosuid', 'noexec', 'nodev', 'ro']));
    expect(s.linux.maskedPaths).toEqual(expect.arrayContaining(['/proc/kcore', '/proc/keys', '/sys/firmware']));
    expect(s.linux.readonlyPaths).toEqual(expect.arrayContaining(['/proc/sys', '/proc/sysrq-trigger']));
  });
  it('capDrop ALL empties every set; unconfined drops only the filter; privileged lifts everything', () => {
    const none = buildSpec({ ...base, isolation: isolationFor({ capDrop: ['ALL'] }) }) as unknown as Spec;
    expect(none.process.capabilities).toEqual({ bounding: [], effective: [], permitted: [] });
    const unconfined = buildSpec({ ...base, isolation: isolationFor({ seccomp: 'unconfined' }) }) as unknown as Spec;
    expect(unconfined.linux.seccomp).toBeUndefined();
    expect(unconfined.linux.maskedPaths?.length).toBeGreaterThan(0);
    const priv = buildSpec({ ...base, isolation: isolationFor({ privileged: true }) }) as unknown as Spec;
    expect(priv.linux.seccomp).toBeUndefined();
    expect(priv.linux.maskedPaths).toBeUndefined();
    expect(priv.process.noNewPrivileges).toBe(false);
    expect(priv.process.capabilities.bounding).toContain('CAP_SYS_ADMIN');
    expect(priv.mounts.find((m) => m.destination === '/sys')?.options).toContain('rw');
    expect(priv.linux.resources.devices).toEqual([{ allow: true, access: 'rwm' }]);
  });
});
