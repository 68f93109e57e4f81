import { describe, expect, it } from 'vitest';
import type { KObject } from '../../../src/client/api-client.js';
import { toObjects } from '../../../src/client/gitops/render.js';
import { allResourceTypes } from '../../../src/client/kinds.js';
import { describePath, driftedPaths, fingerprintOf, managerOf, ownedPaths, valueAt } from '../../../src/controllers/gitsync/fields.js';
import { aggregate, healthOf } from '../../../src/controllers/gitsync/health.js';
import { isMassPrune, leftGit, stepsOf } from '../../../src/controllers/gitsync/plan.js';
import { buildStatus, statusPatch, withoutTimes, type StatusInput } from '../../../src/controllers/gitsync/status.js';

const applied: KObject = {
  apiVersion: 'berth.dev/v1alpha1',
  kind: 'Container',
  metadata: {
    name: 'web',
    namespace: 'default',
    labels: { app: 'web' },
    managedFields: [
      { manager: 'berth-gitsync', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:image': {}, 'f:env': { 'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} } } } } },
      { manager: 'berth-scheduler', operation: 'Update', fieldsV1: { 'f:spec': { 'f:nodeName': {} } } },
    ],
  },
  spec: { image: 'busybox:1', env: [{ name: 'A', value: '1' }], nodeName: 'n1', restartPolicy: 'Always' },
};

describe('owned fields and drift', () => {
  it('reads the paths a manager applied and their values', () => {
    expect(ownedPaths(applied, 'berth-gitsync').map(describePath)).toEqual(['.metadata.labels.app', '.spec.image', '.spec.env[name="A"]', '.spec.env[name="A"].name', '.spec.env[name="A"].value']);
    expect(valueAt(applied, ['f:spec', 'k:{"name":"A"}'])).toBeUndefined();
    expect(valueAt(applied, ['f:spec', 'f:env', 'k:{"name":"A"}', 'f:value'])).toBe('1');
    expect(valueAt(applied, ['f:spec', 'f:env', 'k:{"name":"A"}', '.'])).toBe(true);
  });

  it('sees a change of an owned field, never of defaults or fields others own', () => {
    const fp = fingerprintOf(applied, 'berth-gitsync');
    const live = structuredClone(applied);
    live.spec!.restartPolicy = 'Never';
    live.spec!.nodeName = 'n2';
    expect(driftedPaths(live, fp)).toEqual([]);
    live.spec!.image = 'busybox:2';
    (live.spec!.env as { name: string; value: string }[]).splice(0, 1);
    live.metadata.managedFields = [...(applied.metadata.managedFields ?? []), { manager: 'kubectl-edit', operation: 'Update', time: '2030-01-01T00:00:00Z', fieldsV1: { 'f:spec': { 'f:image': {} } } }];
    const drifted = driftedPaths(live, fp);
    expect(drifted.map((p) => describePath(JSON.parse(p) as string[]))).toEqual(['.spec.image', '.spec.env[name="A"]', '.spec.env[name="A"].name', '.spec.env[name="A"].value']);
    expect(managerOf(live, drifted[0]!, 'berth-gitsync')).toBe('kubectl-edit');
    expect(managerOf(live, drifted[1]!, 'berth-gitsync')).toBe('kubectl-edit');
  });
});

describe('health', () => {
  const ctr = (spec: Record<string, unknown>, status: Record<string, unknown>, generation = 1): KObject => ({ kind: 'Container', metadata: { name: 'c', generation }, spec, status: { observedGeneration: 1, ...status } });
  it('reads Containers, Images, Volumes and GitSyncs from status', () => {
    expect(healthOf(ctr({}, { phase: 'Running' })).health).toBe('Healthy');
    expect(healthOf(ctr({ restartPolicy: 'Never' }, { phase: 'Exited', exitCode: 0 })).health).toBe('Healthy');
    expect(healthOf(ctr({ restartPolicy: 'Never' }, { phase: 'Exited', exitCode: 3, reason: 'Error' }))).toEqual({ health: 'Degraded', message: 'exited with code 3 (Error)' });
    expect(healthOf(ctr({}, { phase: 'Running' }, 2)).health).toBe('Progressing');
    expect(healthOf(ctr({}, { phase: 'Pending', reason: 'CrashLoopBackOff' })).health).toBe('Degraded');
    expect(healthOf(undefined).health).toBe('Progressing');
    expect(healthOf({ kind: 'Image', metadata: { name: 'i' }, status: { phase: 'Ready' } }).health).toBe('Healthy');
    expect(healthOf({ kind: 'Volume', metadata: { name: 'v' }, status: { phase: 'Failed', message: 'disk' } })).toEqual({ health: 'Degraded', message: 'disk' });
    expect(healthOf({ kind: 'Secret', metadata: { name: 's' } }).health).toBe('Healthy');
    expect(healthOf({ kind: 'GitSync', metadata: { name: 'g' }, status: { conditions: [{ type: 'Ready', status: 'False', message: 'x' }] } }).health).toBe('Degraded');
  });

  it('aggregates to the worst, naming the first object holding it there', () => {
    const items = [healthOf(ctr({}, { phase: 'Running' })), { health: 'Progressing' as const, message: 'p' }, { health: 'Degraded' as const, message: 'd1' }, { health: 'Degraded' as const, message: 'd2' }];
    expect(aggregate(items, (x) => x, (_x) => 'obj')).toEqual({ health: 'Degraded', holder: 'obj', message: 'd1', count: 2 });
  });
});

describe('plan', () => {
  const o = { owner: { namespace: 'default', name: 'g' }, defaultNamespace: 'default', types: allResourceTypes };
  const m = (kind: string, apiVersion: string, name: string, wave?: number) =>
    `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${name}\n${wave !== undefined ? `  annotations:\n    berth.dev/sync-wave: "${wave}"\n` : ''}${kind === 'Container' ? 'spec:\n  image: busybox\n' : kind === 'Image' ? 'spec:\n  ref: busybox\n' : ''}`;
  it('orders steps by wave, then Namespaces, Secrets, Volumes, Images, Containers, then the rest', () => {
    const r = toObjects('r', [
      { path: 'a.yaml', text: [m('Container', 'berth.dev/v1alpha1', 'c1'), m('GitSync', 'berth.dev/v1alpha1', 'child'), m('Image', 'berth.dev/v1alpha1', 'i1'), m('Volume', 'berth.dev/v1alpha1', 'v1'), m('Secret', 'v1', 's1'), m('Namespace', 'v1', 'ns1'), m('Container', 'berth.dev/v1alpha1', 'early', -1)].join('---\n').replace('kind: GitSync\nmetadata:\n  name: child\n', 'kind: GitSync\nmetadata:\n  name: child\nspec:\n  url: file:///x\n') },
    ], o);
    expect(r.errors).toEqual([]);
    expect(stepsOf(r.objects).map((s) => s.map((d) => d.object.metadata.name))).toEqual([['early'], ['ns1'], ['s1'], ['v1'], ['i1'], ['c1'], ['child']]);
  });

  it('prunes what left git, Containers first; more than half is a mass prune', () => {
    const inv = [
      { apiVersion: 'v1', kind: 'Namespace', name: 'ns1', uid: '1' },
      { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', namespace: 'default', name: 'c1', uid: '2' },
      { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', namespace: 'default', name: 'keep', uid: '3' },
    ];
    const r = toObjects('r', [{ path: 'a.yaml', text: m('Container', 'berth.dev/v1alpha1', 'keep') }], o);
    expect(leftGit(inv, r.objects).map((e) => e.name)).toEqual(['c1', 'ns1']);
    expect(isMassPrune(2, 3)).toBe(true);
    expect(isMassPrune(1, 2)).toBe(false);
    expect(isMassPrune(1, 1)).toBe(true);
    expect(isMassPrune(0, 0)).toBe(false);
  });
});

describe('status', () => {
  const base: StatusInput = {
    generation: 2,
    fetched: { revision: 'b'.repeat(40), ref: 'refs/heads/main' },
    fetchedChanged: false,
    applied: { revision: 'a'.repeat(40), at: 0 },
    inventory: [],
    errors: [],
    outOfSync: [],
    history: [],
    health: { health: 'Progressing', holder: 'Container default/web', message: 'Creating', count: 3 },
    suspended: false,
    handled: {},
  };
  it('reports OutOfSync, the object holding health back, and keeps transition times while a status stays', () => {
    const s = buildStatus({ ...base, outOfSync: [{ apiVersion: 'v1', kind: 'Secret', namespace: 'default', name: 's', reason: 'Changed' }] });
    const byType = Object.fromEntries((s.conditions ?? []).map((c) => [c.type, c]));
    expect(byType.Synced).toMatchObject({ status: 'False', reason: 'OutOfSync' });
    expect(byType.Synced!.message).toContain('Secret default/s (Changed)');
    expect(byType.Healthy).toMatchObject({ status: 'False', reason: 'Progressing', message: 'Container default/web: Creating (and 2 more progressing)' });
    expect(byType.Ready).toMatchObject({ status: 'Unknown', reason: 'Progressing' });
    const old = { ...s, conditions: s.conditions!.map((c) => ({ ...c, lastTransitionTime: '2020-01-01T00:00:00Z' })) };
    const again = buildStatus({ ...base, previous: old, outOfSync: [{ apiVersion: 'v1', kind: 'Secret', namespace: 'default', name: 's', reason: 'Changed' }] });
    expect(again.conditions!.every((c) => c.lastTransitionTime === '2020-01-01T00:00:00Z')).toBe(true);
    expect(withoutTimes(again)).toEqual(withoutTimes(s));
  });

  it('patches absent fields away', () => {
    expect(statusPatch({ errors: [{ message: 'x' }], appliedRevision: 'a' }, { appliedRevision: 'b' })).toEqual({ appliedRevision: 'b', errors: null });
  });
});
