import { describe, expect, it } from 'vitest';
import { mergeEnv, resolveProcessArgs } from '../../../src/runtime/containers/command.js';
import { parseK8sLog } from '../../../src/runtime/containers/logs.js';
import { buildSpec, DEFAULT_CAPABILITIES } from '../../../src/runtime/containers/spec.js';
import { isolationFor } from '../../../src/runtime/security/isolation.js';
import { normaliseTaggedName, parseReference } from '../../../src/runtime/images/reference.js';
import { applyConfigChanges } from '../../../src/runtime/images/schema.js';
import { archivePathParts, symlinkStaysInside } from '../../../src/runtime/snapshots/safe-path.js';

describe('ENTRYPOINT/CMD resolution (Docker semantics)', () => {
  const image = { Entrypoint: ['/entry'], Cmd: ['default'] };
  it('uses ENTRYPOINT + CMD when nothing is given', () => expect(resolveProcessArgs(image)).toEqual(['/entry', 'default']));
  it('args replace CMD only', () => expect(resolveProcessArgs(image, undefined, ['a'])).toEqual(['/entry', 'a']));
  it('command replaces ENTRYPOINT and drops the image CMD', () => expect(resolveProcessArgs(image, ['sh'])).toEqual(['sh']));
  it('command and args together', () => expect(resolveProcessArgs(image, ['sh'], ['-c', 'x'])).toEqual(['sh', '-c', 'x']));
  it('CMD alone when the image has no ENTRYPOINT', () => expect(resolveProcessArgs({ Cmd: ['/bin/sh', '-c', 'echo hi'] })).toEqual(['/bin/sh', '-c', 'echo hi']));
  it('an empty command is an error naming the field', () => expect(() => resolveProcessArgs({})).toThrow(/command: no command specified/));
  it('merges env by key, later wins, adds PATH', () => {
    expect(mergeEnv(['A=1', 'B=2'], ['A=3'])).toEqual(['A=3', 'B=2', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(() => mergeEnv(['novalue'])).toThrow(/env: "novalue" is not KEY=VALUE/);
  });
});

describe('image references', () => {
  it('defaults the tag to latest and keeps registries with ports', () => {
    expect(normaliseTaggedName('busybox')).toBe('busybox:latest');
    expect(normaliseTaggedName('localhost:5000/team/app:v1')).toBe('localhost:5000/team/app:v1');
    expect(normaliseTaggedName('docker.io/library/debian:12')).toBe('debian:12');
    expect(parseReference(`app@sha256:${'a'.repeat(64)}`)).toEqual({ repository: 'app', tag: undefined, digest: `sha256:${'a'.repeat(64)}` });
  });
  it('rejects invalid names with a clear error', () => {
    expect(() => normaliseTaggedName('Upper/Case')).toThrow(/not a valid image reference/);
    expect(() => normaliseTaggedName('app:bad tag')).toThrow(/invalid tag/);
  });
  it('applies config changes like docker import --change', () => {
    const c = applyConfigChanges({ Env: ['A=1'], ExposedPorts: { '22/tcp': {} } }, { Env: ['A=2', 'B=3'], ExposedPorts: ['80', '53/udp'], Volumes: ['/v'], Cmd: ['x'] });
    expect(c).toEqual({ Env: ['A=2', 'B=3'], ExposedPorts: { '22/tcp': {}, '80/tcp': {}, '53/udp': {} }, Volumes: { '/v': {} }, Cmd: ['x'] });
  });
});

describe('layer path safety', () => {
  it('rejects absolute and ".." names', () => {
    expect(() => archivePathParts('/etc/passwd')).toThrow(/absolute path/);
    expect(() => archivePathParts('a/../../b')).toThrow(/"\.\." escapes/);
    expect(archivePathParts('./a//b/')).toEqual(['a', 'b']);
  });
  it('judges symlink targets lexically', () => {
    expect(symlinkStaysInside(['a', 'link'], '../b')).toBe(true);
    expect(symlinkStaysInside(['a', 'link'], '../../b')).toBe(false);
    expect(symlinkStaysInside(['link'], '/etc/passwd')).toBe(true); // resolved against the container root
  });
});

describe('k8s-file log parsing', () => {
  it('splits streams and joins partial lines', () => {
    const text = '2024-01-01T00:00:00.1Z stdout P hel\n2024-01-01T00:00:00.2Z stderr F err\n2024-01-01T00:00:00.3Z stdout F lo\n';
    expect(parseK8sLog(text)).toEqual([
      { time: '2024-01-01T00:00:00.2Z', stream: 'stderr', line: 'err' },
      { time: '2024-01-01T00:00:00.3Z', stream: 'stdout', line: 'hello' },
    ]);
  });
});

describe('OCI spec', () => {
  const base = {
    args: ['sh'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [], home: '/root' }, hostname: 'h', rootfs: '/r',
    readOnlyRootfs: true, network: 'none' as const, cgroupsPath: '/berth/x', etcFiles: [], swapAccounting: true,
    mounts: [{ type: 'bind' as const, source: '/s', target: '/t', readOnly: true, anonymous: false }],
    isolation: isolationFor({}),
  };
  it('has Docker defaults: caps, no-new-privileges, namespaces, rlimits within host limits', () => {
    const s = buildSpec({ ...base, memoryBytes: 64 << 20, cpus: 1.5, pids: 50 }) as {
      process: { capabilities: { bounding: string[] }; noNewPrivileges: boolean; rlimits: unknown[] };
      linux: { namespaces: Array<{ type: string }>; resources: Record<string, unknown>; maskedPaths: string[] };
      root: { readonly: boolean };
      mounts: Array<{ destination: string; options?: string[] }>;
    };
    expect([...s.process.capabilities.bounding].sort()).toEqual([...DEFAULT_CAPABILITIES].sort());
    expect(s.process.capabilities.bounding).not.toContain('CAP_SYS_ADMIN');
    expect(s.process.noNewPrivileges).toBe(true);
    expect(s.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    expect(s.linux.namespaces.map((n) => n.type).sort()).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    expect(s.linux.resources).toMatchObject({ memory: { limit: 64 << 20, swap: 64 << 20 }, cpu: { period: 100000, quota: 150000 }, pids: { limit: 50 } });
    expect(s.linux.maskedPaths).toContain('/proc/kcore');
    expect(s.root.readonly).toBe(true);
    expect(s.mounts.find((m) => m.destination === '/t')?.options).toContain('ro');
  });
  it('host network shares the host network namespace', () => {
    const s = buildSpec({ ...base, network: 'host' }) as { linux: { namespaces: Array<{ type: string }> } };
    expect(s.linux.namespaces.map((n) => n.type)).not.toContain('network');
  });
});
