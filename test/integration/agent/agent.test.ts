/** The agent against a real API server and real runc: Containers, Volumes and Images become real. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupsUnder, containerManifest, GV, imageManifest, mountsUnder, phaseOf, runtimeSkipReason, startTestNode, statusOf, type TestNode } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping agent integration tests: ${skip}`);

describe.skipIf(!!skip)('agent', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  const POLL = { timeout: 30_000, interval: 200 };

  it('registers its Node with capacity, versions and a Ready condition', async () => {
    const node = await t.client.get('nodes', undefined, t.nodeName);
    const st = node.status as { capacity: { cpu: string; memory: string }; nodeInfo: Record<string, string>; conditions: { type: string; status: string }[]; agentEndpoint: { url: string }; lastHeartbeatTime: string };
    expect(Number(st.capacity.memory)).toBeGreaterThan(0);
    expect(st.nodeInfo.runcVersion).toMatch(/\d+\.\d+/);
    expect(st.nodeInfo.conmonVersion).toMatch(/\d+\.\d+/);
    expect(st.nodeInfo.kernelVersion).toBeTruthy();
    expect(st.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(st.agentEndpoint.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(Date.parse(st.lastHeartbeatTime)).toBeGreaterThan(0);
  });

  it('a Container naming a missing image gets ImagePullBackOff, retries, and runs once the Image is imported', async () => {
    await t.apply(containerManifest('early', { command: ['sh', '-c', 'echo early bird; sleep 3600'] }));
    await expect.poll(async () => statusOf(await t.container('early')).reason, POLL).toBe('ImagePullBackOff');
    const c = await t.container('early');
    expect(String(statusOf(c).message)).toContain('busybox:latest');
    expect(phaseOf(c)).toBe('Pending');
    // nothing half-made on the node
    expect(await t.node.runtime!.containers.records.all()).toHaveLength(0);
    // it retries with backoff: the Failed event repeats
    await expect
      .poll(async () => {
        const evs = (await t.client.core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=early' })).items;
        return evs.find((e) => e.reason === 'Failed')?.count ?? 0;
      }, POLL)
      .toBeGreaterThan(1);

    await t.apply(imageManifest(t.tarball));
    await expect.poll(async () => (await t.client.get('images', 'default', 'busybox')).status?.phase, POLL).toBe('Ready');
    const img = await t.client.get('images', 'default', 'busybox');
    expect(String(statusOf(img).digest)).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect((statusOf(img).nodes as { nodeName: string; present: boolean }[])[0]).toMatchObject({ nodeName: t.nodeName, present: true });
    await expect.poll(async () => phaseOf(await t.container('early')), POLL).toBe('Running');
    const st = statusOf(await t.container('early'));
    expect(st.pid).toBeGreaterThan(0);
    expect(st.containerID).toMatch(/^[a-f0-9]{64}$/);
    expect(st.restartCount).toBe(0);
    // docker ps -s: the writable layer, and that plus the image (busybox is over a megabyte)
    expect(st.sizeRw).toBeGreaterThanOrEqual(0);
    expect(Number(st.sizeRootFs)).toBeGreaterThan(Number(st.sizeRw) + 500_000);
    // the finalizer went out while runc started the container
    expect((await t.container('early'))?.metadata?.finalizers).toContain('berth.dev/container');
  });

  it('an Image from a broken tarball is Failed with the tar error, retries with backoff, and leaves no image', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-broken-'));
    try {
      const broken = join(dir, 'broken.tar');
      await writeFile(broken, Buffer.alloc(3000, 'x'));
      const images = (await t.node.runtime!.images.list()).length;
      await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'broken', namespace: 'default' }, spec: { ref: 'broken:1', source: { import: { path: broken, format: 'rootfs' } } } });
      await expect.poll(async () => phaseOf(await t.client.get('images', 'default', 'broken')), POLL).toBe('Failed');
      const ready = (statusOf(await t.client.get('images', 'default', 'broken')).conditions as { type: string; reason: string; message: string }[]).find((c) => c.type === 'Ready');
      expect(ready).toMatchObject({ reason: 'ImportFailed', message: expect.stringMatching(/^import of .*broken\.tar failed: tar/) });
      // retries keep the Failed status; the queue's backoff (5 ms doubling) allows about a dozen attempts in
      // 3 s, where the Importing/Failed status writes used to restart the import at once, hundreds of times
      await new Promise((r) => setTimeout(r, 3000));
      expect(phaseOf(await t.client.get('images', 'default', 'broken'))).toBe('Failed');
      const evs = (await t.client.core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=broken' })).items;
      expect(evs.find((e) => e.reason === 'Failed')?.count ?? 0).toBeLessThan(20);
      expect(await t.node.runtime!.images.exists('broken:1')).toBe(false);
      expect((await t.node.runtime!.images.list()).length).toBe(images);
      await t.client.custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'images', namespace: 'default', name: 'broken' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves logs through the API (tailLines, timestamps) and reports events', async () => {
    await expect
      .poll(async () => (await t.api('/apis/berth.dev/v1alpha1/namespaces/default/containers/early/log')).text(), POLL)
      .toBe('early bird\n');
    const ts = await (await t.api('/apis/berth.dev/v1alpha1/namespaces/default/containers/early/log?timestamps=true&tailLines=1')).text();
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\S+ early bird\n$/);
    // format=cri: the CRI log format, each line with its stream
    const cri = await (await t.api('/apis/berth.dev/v1alpha1/namespaces/default/containers/early/log?format=cri')).text();
    expect(cri).toMatch(/^\d{4}-\d\d-\d\dT\S+ stdout F early bird\n$/);
    const badFormat = await t.api('/apis/berth.dev/v1alpha1/namespaces/default/containers/early/log?format=json');
    expect([badFormat.status, await badFormat.text()]).toEqual([400, expect.stringContaining('format: must be text or cri')]);
    // follow keeps the stream open and delivers what is already there
    const ac = new AbortController();
    const follow = await t.api('/apis/berth.dev/v1alpha1/namespaces/default/containers/early/log?follow=true', { signal: ac.signal });
    const reader = follow.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('early bird\n');
    ac.abort();
    await reader.cancel().catch(() => undefined);
    const missing = await t.api('/apis/berth.dev/v1alpha1/namespaces/default/containers/nope/log');
    expect(missing.status).toBe(404);
    const evs = (await t.client.core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=early' })).items.map((e) => e.reason);
    expect(evs).toEqual(expect.arrayContaining(['Failed', 'Pulled', 'Created', 'Started']));
  });

  it('recreates on a command change, pauses (freezer FROZEN), stops and deletes cleanly', async () => {
    const before = statusOf(await t.container('early')).containerID as string;
    await t.client.patch('containers', 'default', 'early', { spec: { command: ['sh', '-c', 'echo second; exec sleep 3600'], stopGracePeriodSeconds: 1 } });
    await expect
      .poll(async () => {
        const s = statusOf(await t.container('early'));
        return s.phase === 'Running' && s.containerID !== before;
      }, POLL)
      .toBe(true);
    const id = statusOf(await t.container('early')).containerID as string;
    await t.client.patch('containers', 'default', 'early', { spec: { state: 'Paused' } });
    await expect.poll(async () => phaseOf(await t.container('early')), POLL).toBe('Paused');
    const freezer = join('/sys/fs/cgroup/freezer', t.cgroupParent, id, 'freezer.state');
    const unified = join('/sys/fs/cgroup', t.cgroupParent, id, 'cgroup.freeze');
    const frozen = await readFile(freezer, 'utf8').then((s) => s.trim()).catch(async () => ((await readFile(unified, 'utf8')).trim() === '1' ? 'FROZEN' : 'THAWED'));
    expect(frozen).toBe('FROZEN');
    await t.client.patch('containers', 'default', 'early', { spec: { state: 'Stopped' } });
    await expect.poll(async () => statusOf(await t.container('early')).reason, POLL).toBe('Stopped');
    expect(phaseOf(await t.container('early'))).toBe('Exited');
    await t.client.patch('containers', 'default', 'early', { spec: { state: 'Running' } });
    await expect.poll(async () => phaseOf(await t.container('early')), POLL).toBe('Running');
    expect(statusOf(await t.container('early')).containerID).toBe(id);
    expect(statusOf(await t.container('early')).restartCount).toBe(0);

    await t.client.custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'containers', namespace: 'default', name: 'early' });
    await expect.poll(async () => await t.container('early'), POLL).toBeUndefined();
    expect(await t.node.runtime!.containers.records.all()).toHaveLength(0);
    expect(mountsUnder(t.dir)).toEqual([]);
    expect(await cgroupsUnder(t.cgroupParent)).toEqual([]);
  });

  it('runs to completion with restartPolicy Never, and backs off restarting a failing OnFailure container', async () => {
    await t.apply(containerManifest('once', { command: ['sh', '-c', 'echo done'], restartPolicy: 'Never' }));
    await t.apply(containerManifest('crash', { command: ['sh', '-c', 'echo crashing; exit 3'], restartPolicy: 'OnFailure' }));
    await expect.poll(async () => statusOf(await t.container('once')).reason, POLL).toBe('Completed');
    expect(statusOf(await t.container('once'))).toMatchObject({ phase: 'Exited', exitCode: 0, restartCount: 0 });
    await expect.poll(async () => statusOf(await t.container('crash')).reason, POLL).toBe('CrashLoopBackOff');
    const crash = statusOf(await t.container('crash'));
    expect(crash.exitCode).toBe(3);
    expect(crash.restartCount).toBe(1);
    expect(String(crash.message)).toContain('back-off 10s');
    await expect.poll(async () => statusOf(await t.container('crash')).restartCount, { timeout: 40_000, interval: 500 }).toBe(2);
    for (const n of ['once', 'crash']) await t.client.custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'containers', namespace: 'default', name: n });
    await expect.poll(async () => (await t.node.runtime!.containers.records.all()).length, POLL).toBe(0);
  });

  it('keeps a Volume while a container uses it, then deletes its data', async () => {
    await t.apply({ apiVersion: GV, kind: 'Volume', metadata: { name: 'data', namespace: 'default' }, spec: {} });
    await t.apply(containerManifest('writer', { command: ['sh', '-c', 'echo kept > /data/f; exec sleep 3600'], volumeMounts: [{ name: 'data', mountPath: '/data' }], stopGracePeriodSeconds: 1 }));
    await expect.poll(async () => phaseOf(await t.container('writer')), POLL).toBe('Running');
    const vol = await t.client.get('volumes', 'default', 'data');
    const mountpoint = String(statusOf(vol).mountpoint);
    await expect.poll(() => readFile(join(mountpoint, 'f'), 'utf8').catch(() => ''), POLL).toBe('kept\n');
    await expect.poll(async () => statusOf(await t.client.get('volumes', 'default', 'data')).usedBy, POLL).toEqual(['writer']);

    await t.client.custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'volumes', namespace: 'default', name: 'data' });
    // still there: a container uses it
    const held = await t.client.get('volumes', 'default', 'data');
    expect(held.metadata.deletionTimestamp).toBeTruthy();
    expect(await readFile(join(mountpoint, 'f'), 'utf8')).toBe('kept\n');
    await t.client.custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'containers', namespace: 'default', name: 'writer' });
    await expect
      .poll(async () => {
        try {
          await t.client.get('volumes', 'default', 'data');
          return 'present';
        } catch {
          return 'gone';
        }
      }, POLL)
      .toBe('gone');
    await expect(readFile(join(mountpoint, 'f'), 'utf8')).rejects.toThrow();
  });

  it('a spec the node cannot run fails with a reason naming the field, and leaves nothing on the node', async () => {
    await t.apply(containerManifest('bridged', { command: ['true'], networks: [{ name: 'missing' }] }));
    await expect.poll(async () => statusOf(await t.container('bridged')).reason, POLL).toBe('CreateContainerConfigError');
    expect(phaseOf(await t.container('bridged'))).toBe('Failed');
    expect(String(statusOf(await t.container('bridged')).message)).toContain('spec.networks[0].name: network "missing" not found');
    expect(await t.node.runtime!.containers.records.all()).toHaveLength(0);
    await t.client.custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'containers', namespace: 'default', name: 'bridged' });
    await expect.poll(async () => await t.container('bridged'), POLL).toBeUndefined();
  });

  it('does not reconcile again for the watch events of its own status writes', async () => {
    const reconciles = () => t.logs.filter((l) => l.startsWith('agent_containers: default/quiet: reconciled')).length;
    await t.apply(containerManifest('quiet', { command: ['sleep', '3600'], stopGracePeriodSeconds: 0 }));
    await expect.poll(async () => phaseOf(await t.container('quiet')), POLL).toBe('Running');
    await new Promise((r) => setTimeout(r, 1500)); // the echo of the Running status write has arrived
    // the add (the object comes bound: the server puts the finalizer on at creation), and at most one
    // resync tick; the status writes coming back through the watch are not reconciled again
    expect(reconciles()).toBeGreaterThanOrEqual(1);
    expect(reconciles()).toBeLessThanOrEqual(2);
    await t.client.custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'containers', namespace: 'default', name: 'quiet' });
    await expect.poll(async () => t.container('quiet'), POLL).toBeUndefined();
  });

  it('exposes agent metrics on the API /metrics', async () => {
    const text = await (await t.api('/metrics')).text();
    expect(text).toMatch(/berth_controller_reconcile_total\{controller="agent_containers",result="success"\} \d+/);
    expect(text).toContain('berth_container_start_latency_seconds_bucket');
    expect(text).toContain('# TYPE container_cpu_usage_seconds_total counter');
    expect(text).toContain("# TYPE berth_containers gauge");
  });
});
