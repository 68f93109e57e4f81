import { describe, expect, it } from 'vitest';
import { exitReason, restartDelaySeconds } from '../../../src/agent/container-reconciler.js';
import { createOptionsFor, SpecError } from '../../../src/agent/container-options.js';
import { LABEL_SPEC_HASH, specHash } from '../../../src/agent/names.js';
import { setFinalizer, writeStatus } from '../../../src/agent/status.js';
import { ApiStatusError } from '../../../src/client/api-client.js';
import { jsonEqual, mergePatchFor } from '../../../src/client/json.js';
import { requestsOf } from '../../../src/controllers/scheduler.js';
import { psTable, sizeText, statusText } from '../../../src/cli/commands/ps.js';

describe('restart back-off', () => {
  it('restarts at once the first time, then 10 s doubling up to 5 min', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map(restartDelaySeconds)).toEqual([0, 10, 20, 40, 80, 160, 300, 300]);
  });
  it('names exits as kubelet does', () => {
    const base = { status: 'exited' as const, pid: 0, conmonPid: 0, oomKilled: false, restartCount: 0 };
    expect(exitReason({ ...base, exitCode: 0 })).toBe('Completed');
    expect(exitReason({ ...base, exitCode: 2 })).toBe('Error');
    expect(exitReason({ ...base, exitCode: 137, oomKilled: true })).toBe('OOMKilled');
  });
});

describe('spec hash', () => {
  it('ignores the fields the agent changes in place and sees the others', () => {
    const spec = { image: 'busybox', command: ['sh'], state: 'Running', restartPolicy: 'Always' };
    expect(specHash({ ...spec, state: 'Paused', restartPolicy: 'Never', nodeName: 'n1', stopGracePeriodSeconds: 3 })).toBe(specHash(spec));
    expect(specHash({ ...spec, command: ['sleep', '1'] })).not.toBe(specHash(spec));
    expect(specHash({ command: ['sh'], image: 'busybox' })).toBe(specHash({ image: 'busybox', command: ['sh'] }));
  });

  it('of spec.networks sees the first only: the others are joined and left in place', () => {
    const one = { image: 'busybox', networks: [{ name: 'front' }] };
    expect(specHash({ ...one, networks: [{ name: 'front' }, { name: 'back', aliases: ['b'] }] })).toBe(specHash(one));
    expect(specHash({ ...one, networks: [{ name: 'back' }, { name: 'front' }] })).not.toBe(specHash(one));
    expect(specHash({ ...one, networks: [{ name: 'front', ipv4Address: '10.1.0.5' }] })).not.toBe(specHash(one));
    // one network or none hashes as before: no container is recreated by an upgrade for it
    expect(specHash(one)).toBe('ae8a0046ca151006'); // the hash of the code before
  });
});

describe('create options', () => {
  const obj = (spec: Record<string, unknown>) => ({ metadata: { name: 'web', namespace: 'team', uid: 'u1' }, spec: { image: 'busybox:latest', ...spec } });
  const ctx = { volumeMountpoint: (v: string) => `/vols/${v}/_data` };
  it('maps volumes, limits, env and labels', () => {
    const o = createOptionsFor(
      obj({
        env: [{ name: 'A', value: '1' }, { name: 'B' }],
        volumeMounts: [{ name: 'data', mountPath: '/d' }, { name: 'data', mountPath: '/s', subPath: 'sub', readOnly: true }, { hostPath: '/etc', mountPath: '/h' }],
        resources: { limits: { memory: '64Mi', cpu: '500m', pids: '10' } },
        network: 'host',
      }),
      ctx,
    );
    expect(o.name).toBe('team_web');
    expect(o.env).toEqual(['A=1', 'B=']);
    expect(o.mounts).toEqual([
      { type: 'volume', source: 'team_data', target: '/d', readOnly: false },
      // the runtime resolves a subPath below the volume itself, refusing symlinks on the way
      { type: 'volume', source: 'team_data', target: '/s', readOnly: true, subPath: 'sub' },
      { type: 'bind', source: '/etc', target: '/h', readOnly: false },
    ]);
    expect(o.resources).toEqual({ memoryBytes: 64 * 1024 * 1024, cpus: 0.5, pids: 10 });
    expect(o.network).toBe('host');
    expect(o.labels?.[LABEL_SPEC_HASH]).toMatch(/^[a-f0-9]{16}$/);
  });
  it('maps capabilities, seccomp, privileged, runAsNonRoot and log limits (Docker max-size units)', () => {
    const o = createOptionsFor(obj({ capAdd: ['NET_ADMIN'], capDrop: ['ALL'], seccompProfile: 'Unconfined', privileged: true, runAsNonRoot: true, logging: { maxSize: '5m', maxFile: 2 } }), ctx);
    expect(o.security).toEqual({ capAdd: ['NET_ADMIN'], capDrop: ['ALL'], privileged: true, seccomp: 'unconfined', runAsNonRoot: true });
    expect(o.log).toEqual({ maxSizeBytes: 5 * 1024 * 1024, maxFiles: 2 });
    expect(createOptionsFor(obj({}), ctx).security).toMatchObject({ seccomp: 'default', privileged: false, capAdd: [], capDrop: [] });
    expect(createOptionsFor(obj({ logging: { maxSize: '10Mi' } }), ctx).log).toEqual({ maxSizeBytes: 10 << 20 });
    expect(() => createOptionsFor(obj({ logging: { maxSize: '1k' } }), ctx)).toThrow(/spec\.logging\.maxSize: must be at least 4k/);
  });
  it('refuses what the node cannot run, naming the field', () => {
    expect(() => createOptionsFor(obj({ resources: { limits: { memory: '1Mi' } } }), ctx)).toThrow(SpecError);
    expect(() => createOptionsFor(obj({ resources: { limits: { memory: '1Mi' } } }), ctx)).toThrow(/spec\.resources\.limits\.memory/);
  });
});

describe('status patches', () => {
  it('nulls fields that went away and compares JSON deeply', () => {
    expect(mergePatchFor({ phase: 'Running', pid: 5 }, { phase: 'Exited', exitCode: 0 })).toEqual({ phase: 'Exited', exitCode: 0, pid: null });
    expect(jsonEqual({ a: [1, { b: 2 }], c: undefined }, { a: [1, { b: 2 }] })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });

  it('removes what the last write set when the cached object does not show that write yet', async () => {
    const sent: unknown[] = [];
    const resource = { patchStatus: async (_ns: unknown, _n: unknown, patch: unknown) => void sent.push(patch) } as unknown as Parameters<typeof writeStatus>[0];
    const stale = { metadata: { name: 'once', namespace: 'default' }, status: { phase: 'Creating' } };
    await writeStatus(resource, stale, { phase: 'Exited', exitCode: 0 }, { phase: 'Running', pid: 42 });
    expect(sent).toEqual([{ phase: 'Exited', exitCode: 0, pid: null }]);
  });

  it('dropping a finalizer from an object already gone is done; adding one to it is an error', async () => {
    const gone = new ApiStatusError(404, { message: 'containers.berth.dev "x" not found', reason: 'NotFound', code: 404 } as never, 'patch');
    const resource = { patch: async () => Promise.reject(gone) } as unknown as Parameters<typeof setFinalizer>[0];
    const stale = { metadata: { name: 'x', namespace: 'default', finalizers: ['berth.dev/container'], resourceVersion: '7' } };
    await expect(setFinalizer(resource, stale, 'berth.dev/container', false)).resolves.toBeUndefined();
    await expect(setFinalizer(resource, { metadata: { name: 'x', namespace: 'default' } }, 'berth.dev/container', true)).rejects.toBe(gone);
  });
});

describe('scheduler requests', () => {
  it('uses requests, else limits', () => {
    expect(requestsOf({ resources: { requests: { cpu: '250m', memory: '1Ki' }, limits: { cpu: '2' } } })).toEqual({ cpu: 0.25, memory: 1024 });
    expect(requestsOf({ resources: { limits: { cpu: '2', memory: '1Mi' } } })).toEqual({ cpu: 2, memory: 1024 * 1024 });
    expect(requestsOf({})).toEqual({ cpu: 0, memory: 0 });
  });
});

describe('berth ps', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  const c = (name: string, status: Record<string, unknown>) => ({
    metadata: { name, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { image: 'busybox:latest', command: ['sh', '-c', 'echo hello world and more'] },
    status,
  });
  it('says what docker ps says', () => {
    expect(statusText(c('a', { phase: 'Running', startedAt: '2026-01-01T00:05:00Z' }), now)).toMatch(/^Up 5m/);
    expect(statusText(c('b', { phase: 'Exited', exitCode: 3, finishedAt: '2026-01-01T00:09:00Z' }), now)).toMatch(/^Exited \(3\) 60s ago|^Exited \(3\) 1m/);
    expect(statusText(c('c', { phase: 'Pending', reason: 'ImagePullBackOff' }), now)).toBe('Pending (ImagePullBackOff)');
    expect(sizeText(1_980_000)).toBe('1.98MB');
    const table = psTable([c('web', { phase: 'Running', containerID: 'abcdef0123456789', startedAt: '2026-01-01T00:05:00Z', sizeRw: 12, sizeRootFs: 2_000_012 })], { size: true }, now);
    const [head, row] = table.trimEnd().split('\n');
    expect(head).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES\s+SIZE$/);
    expect(row).toMatch(/^abcdef012345\s+busybox:latest\s+"sh -c echo hello wo…"\s+10m ago\s+Up 5m\S*\s+web\s+12B \(virtual 2\.00MB\)$/);
  });
});
