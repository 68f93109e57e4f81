import { describe, expect, it } from 'vitest';
import { applyEventDefaults, event, eventKind } from '../../../src/api/event.js';
import { applyGitSyncDefaults, gitSync, gitSyncKind } from '../../../src/api/gitsync.js';
import type { ApiObject } from '../../../src/api/meta.js';
import { applyNamespaceDefaults, namespace, namespaceKind } from '../../../src/api/namespace.js';
import { applyNodeDefaults, node, nodeKind } from '../../../src/api/node.js';
import { applyVolumeDefaults, volume, volumeKind } from '../../../src/api/volume.js';
import { badFields, causesOf, meta } from './helpers.js';

describe('Volume schema', () => {
  const vol = (spec?: Record<string, unknown>): Record<string, unknown> => ({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Volume',
    metadata: meta('data'),
    ...(spec ? { spec } : {}),
  });

  it('needs no spec: every field has a default', () => {
    expect(applyVolumeDefaults(vol() as ApiObject).spec).toEqual({ driver: 'local', reclaimPolicy: 'Delete' });
    expect(applyVolumeDefaults(vol({ reclaimPolicy: 'Retain', nodeName: 'n1' }) as ApiObject).spec).toEqual({
      driver: 'local',
      reclaimPolicy: 'Retain',
      nodeName: 'n1',
    });
  });

  it('names bad fields', () => {
    expect(badFields(volume, vol({ driver: 'nfs' }))).toEqual(['spec.driver']);
    expect(badFields(volume, vol({ reclaimPolicy: 'Recycle' }))).toEqual(['spec.reclaimPolicy']);
    expect(badFields(volume, vol({ nodeName: 'Node_1' }))).toEqual(['spec.nodeName']);
    expect(badFields(volume, vol({ size: '1Gi' }))).toEqual(['spec.size']);
    expect(badFields(volume, { ...vol(), status: { usedBy: 'web' } })).toEqual(['status.usedBy']);
  });

  it('accepts a status', () => {
    const status = { phase: 'Ready', nodeName: 'n1', mountpoint: '/var/lib/berth/volumes/data/_data', usedBy: ['web'], size: 4096 };
    expect(volume.safeParse({ ...vol(), status }).success).toBe(true);
    expect(volumeKind).toMatchObject({ shortNames: ['vol'], namespaced: true, selectableFields: ['spec.nodeName'] });
  });
});

describe('Node schema', () => {
  const base = { apiVersion: 'berth.dev/v1alpha1', kind: 'Node', metadata: { name: 'node-1' } };

  it('accepts what an agent registers, with quantities as strings or numbers', () => {
    const full = {
      ...base,
      spec: { unschedulable: false, taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] },
      status: {
        capacity: { cpu: 2, memory: '8Gi', pids: 4194304 },
        allocatable: { cpu: '1900m', memory: '7Gi', pids: '4000000' },
        nodeInfo: { berthVersion: '0.1.0', runcVersion: '1.1.12', cgroupVersion: 'v1', architecture: 'amd64' },
        addresses: [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'Hostname', address: 'node-1' }],
        agentEndpoint: { url: 'https://10.0.0.5:10250' },
        lastHeartbeatTime: '2025-01-01T00:00:00Z',
        conditions: [{ type: 'Ready', status: 'True', reason: 'AgentReady' }],
      },
    };
    expect(node.safeParse(full).success).toBe(true);
    expect(applyNodeDefaults(base as ApiObject).spec).toEqual({});
  });

  it('names bad fields', () => {
    expect(badFields(node, { ...base, spec: { taints: [{ key: 'k', effect: 'Evict' }] } })).toEqual(['spec.taints[0].effect']);
    expect(badFields(node, { ...base, status: { capacity: { cpu: 'lots' } } })).toEqual(['status.capacity.cpu']);
    expect(badFields(node, { ...base, status: { nodeInfo: { cgroupVersion: 'v3' } } })).toEqual(['status.nodeInfo.cgroupVersion']);
    expect(badFields(node, { ...base, status: { agentEndpoint: { url: 'not a url' } } })).toEqual(['status.agentEndpoint.url']);
    expect(
      badFields(node, { ...base, status: { addresses: [{ type: 'InternalIP', address: 'a' }, { type: 'InternalIP', address: 'b' }] } }),
    ).toEqual(['status.addresses[1].type']);
  });

  it('is cluster scoped under berth.dev', () => {
    expect(nodeKind).toMatchObject({ group: 'berth.dev', plural: 'nodes', namespaced: false, hasStatus: true });
  });
});

describe('GitSync schema', () => {
  const gs = (spec: Record<string, unknown>): Record<string, unknown> => ({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'GitSync',
    metadata: meta('site'),
    spec,
  });

  it('defaults interval and the switches', () => {
    expect(applyGitSyncDefaults(gs({ url: 'https://example.com/site.git' }) as ApiObject).spec).toEqual({
      url: 'https://example.com/site.git',
      interval: '1m',
      timeout: '5m',
      autoSync: true,
      prune: false,
      allowMassPrune: false,
      selfHeal: { driftPolicy: 'Correct' },
      suspend: false,
      rollbackOnFailure: false,
    });
  });

  it('names bad fields', () => {
    expect(badFields(gitSync, gs({}))).toEqual(['spec.url']);
    expect(badFields(gitSync, gs({ url: 'file:///srv/repo', interval: '5 minutes' }))).toEqual(['spec.interval']);
    expect(badFields(gitSync, gs({ url: 'file:///srv/repo', path: '/abs' }))).toEqual(['spec.path']);
    expect(badFields(gitSync, gs({ url: 'file:///srv/repo', targetNamespace: 'Bad_NS' }))).toEqual(['spec.targetNamespace']);
    expect(badFields(gitSync, gs({ url: 'file:///srv/repo', selfHeal: { driftPolicy: 'Sometimes' } }))).toEqual(['spec.selfHeal.driftPolicy']);
    expect(badFields(gitSync, gs({ url: 'file:///srv/repo', ref: '--upload-pack=evil' }))).toEqual(['spec.ref']);
  });

  it('accepts a status with an inventory', () => {
    const status = {
      fetchedRevision: 'abc',
      appliedRevision: 'abc',
      inventory: [{ apiVersion: 'berth.dev/v1alpha1', kind: 'Container', namespace: 'default', name: 'web' }],
      conditions: [{ type: 'Ready', status: 'True' }],
    };
    expect(gitSync.safeParse({ ...gs({ url: 'file:///srv/repo', ref: 'main', path: 'apps' }), status }).success).toBe(true);
    expect(gitSyncKind).toMatchObject({ plural: 'gitsyncs', singular: 'gitsync', namespaced: true });
  });
});

describe('core Namespace', () => {
  it('is Active by default, as kubectl create namespace sends it', () => {
    const fromKubectl = { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'team-a', creationTimestamp: null }, spec: {}, status: {} };
    expect(applyNamespaceDefaults(fromKubectl as unknown as ApiObject).status).toEqual({ phase: 'Active' });
    expect(badFields(namespace, { ...fromKubectl, status: { phase: 'Gone' } })).toEqual(['status.phase']);
    expect(namespaceKind).toMatchObject({ group: '', version: 'v1', shortNames: ['ns'], namespaced: false });
  });
});

describe('core Event', () => {
  const ev = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'web.17a', namespace: 'default' },
    involvedObject: { apiVersion: 'berth.dev/v1alpha1', kind: 'Container', name: 'web', namespace: 'default', uid: 'u1' },
    reason: 'Started',
    message: 'Started container web',
    source: { component: 'berth-agent', host: 'node-1' },
    firstTimestamp: '2025-01-01T00:00:00Z',
    lastTimestamp: '2025-01-01T00:00:00Z',
    count: 1,
    type: 'Normal',
    // client-go sends unset times as null
    eventTime: null,
    reportingComponent: 'berth-agent',
    reportingInstance: 'node-1',
  };

  it('accepts what client-go and client-node send', () => {
    expect(event.safeParse(ev).success).toBe(true);
    expect(event.safeParse({ ...ev, eventTime: '2025-01-01T00:00:00.123456Z', series: { count: 2, lastObservedTime: '2025-01-01T00:00:01.000000Z' } }).success).toBe(true);
  });

  it('defaults type and needs involvedObject', () => {
    const noType: Record<string, unknown> = { ...ev };
    delete noType.type;
    expect(applyEventDefaults(noType as unknown as ApiObject).type).toBe('Normal');
    const noObject: Record<string, unknown> = { ...ev };
    delete noObject.involvedObject;
    expect(causesOf(event, noObject)).toEqual([{ reason: 'FieldValueRequired', field: 'involvedObject', message: 'Required value' }]);
    expect(badFields(event, { ...ev, type: 'Error' })).toEqual(['type']);
    expect(badFields(event, { ...ev, spec: {} })).toEqual(['spec']);
  });

  it('has no status and selects on the involved object', () => {
    expect(eventKind.hasStatus).toBe(false);
    expect(eventKind.selectableFields).toEqual(
      expect.arrayContaining(['involvedObject.name', 'involvedObject.kind', 'involvedObject.uid', 'involvedObject.namespace', 'reason', 'type']),
    );
    expect(eventKind.printerColumns.filter((c) => !c.priority).map((c) => c.name)).toEqual(['Last Seen', 'Type', 'Reason', 'Object', 'Message']);
  });
});
