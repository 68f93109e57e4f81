/** The scheduler and the node lifecycle controller inside the all-in-one server, with hand-made Nodes (no agent). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne, type AllInOne } from '../../../src/cmd/compose.js';
import { PluralClient as KubeClient, type KObject } from '../../helpers/plural-client.js';
import { openStore } from '../../../src/store/index.js';

const GV = 'berth.dev/v1alpha1';
const POLL = { timeout: 30_000, interval: 100 };

describe('scheduler and node lifecycle', () => {
  let dir: string;
  let node: AllInOne;
  let client: KubeClient;

  const addNode = async (name: string, labels: Record<string, string>) => {
    await client.create('nodes', undefined, { apiVersion: GV, kind: 'Node', metadata: { name, labels }, spec: {} });
    await client.patchStatus('nodes', undefined, name, {
      allocatable: { cpu: '2', memory: '1Gi' },
      lastHeartbeatTime: new Date().toISOString(),
      conditions: [{ type: 'Ready', status: 'True', reason: 'AgentReady', lastTransitionTime: new Date().toISOString() }],
    });
  };
  const ctr = (name: string, spec: Record<string, unknown> = {}) =>
    client.create('containers', 'default', { apiVersion: GV, kind: 'Container', metadata: { name }, spec: { image: 'busybox:latest', ...spec } });
  const get = async (name: string): Promise<KObject> => client.get('containers', 'default', name);
  const nodeOf = async (name: string) => (await get(name)).spec?.nodeName as string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-sched-'));
    node = await startAllInOne({ store: await openStore(`sqlite:${join(dir, 'state.db')}`), dataDir: dir, listen: '127.0.0.1:0', nodeName: 'unused', agent: false, nodeGraceMs: 3000 });
    client = KubeClient.fromFile(node.api.kubeconfigPath);
  });
  afterAll(async () => {
    await node?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves containers Pending (Unschedulable) while no node is Ready, then binds them', async () => {
    await ctr('waiting');
    await client.create('nodes', undefined, { apiVersion: GV, kind: 'Node', metadata: { name: 'cordoned' }, spec: { unschedulable: true } });
    await expect.poll(async () => (await get('waiting')).status?.reason, POLL).toBe('Unschedulable');
    expect(String((await get('waiting')).status?.message)).toContain('no Ready node');
    await addNode('n1', { disk: 'ssd' });
    await addNode('n2', { disk: 'hdd' });
    await expect.poll(() => nodeOf('waiting'), POLL).toMatch(/^n[12]$/);
  });

  it('honours nodeSelector, resource fit and volume placement, and spreads the rest', async () => {
    await ctr('fast', { nodeSelector: { disk: 'ssd' } });
    await expect.poll(() => nodeOf('fast'), POLL).toBe('n1');

    await ctr('huge', { resources: { requests: { memory: '4Gi' } } });
    await expect.poll(async () => (await get('huge')).status?.reason, POLL).toBe('Unschedulable');
    expect(String((await get('huge')).status?.message)).toContain('enough allocatable');
    expect(await nodeOf('huge')).toBeUndefined();

    await client.create('volumes', 'default', { apiVersion: GV, kind: 'Volume', metadata: { name: 'v' }, spec: { nodeName: 'n2' } });
    await ctr('user', { volumeMounts: [{ name: 'v', mountPath: '/v' }] });
    await expect.poll(() => nodeOf('user'), POLL).toBe('n2');

    for (let i = 0; i < 4; i++) await ctr(`plain-${i}`);
    await expect.poll(async () => (await Promise.all([0, 1, 2, 3].map((i) => nodeOf(`plain-${i}`)))).every(Boolean), POLL).toBe(true);
    const all = (await client.list('containers', { namespace: 'default' })).items.map((c) => c.spec?.nodeName).filter(Boolean);
    const n1 = all.filter((n) => n === 'n1').length;
    const n2 = all.filter((n) => n === 'n2').length;
    expect(Math.abs(n1 - n2)).toBeLessThanOrEqual(1);
  });

  it('marks a silent node Ready=Unknown and its containers Unknown', async () => {
    await expect
      .poll(async () => ((await client.get('nodes', undefined, 'n1')).status?.conditions as { type: string; status: string }[]).find((c) => c.type === 'Ready')?.status, POLL)
      .toBe('Unknown');
    await expect.poll(async () => (await get('fast')).status?.phase, POLL).toBe('Unknown');
    expect((await get('fast')).status?.reason).toBe('NodeLost');
  });
});
