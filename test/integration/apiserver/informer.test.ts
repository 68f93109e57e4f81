import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';

const GROUP = 'berth.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'volumes';
const volume = (name: string) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'Volume', metadata: { name }, spec: {} });

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

/** An informer that restarts itself after errors, as a controller would. */
function startInformer(kc: k8s.KubeConfig) {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const informer = k8s.makeInformer<k8s.KubernetesObject>(
    kc,
    `/apis/${GROUP}/${VERSION}/namespaces/default/${PLURAL}`,
    async () => {
      seen.lists++;
      return (await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: PLURAL })) as k8s.KubernetesListObject<k8s.KubernetesObject>;
    },
  );
  const seen = { added: new Set<string>(), deleted: new Set<string>(), errors: 0, lists: 0 };
  let stopped = false;
  // While closed, the informer waits before reconnecting: the test decides what happens meanwhile.
  let gate: Promise<void> = Promise.resolve();
  let open = (): void => {};
  informer.on('add', (o) => seen.added.add(o.metadata!.name!));
  informer.on('delete', (o) => seen.deleted.add(o.metadata!.name!));
  informer.on('error', () => {
    seen.errors++;
    if (!stopped) void gate.then(() => setTimeout(() => void informer.start().catch(() => undefined), 100));
  });
  return {
    informer,
    seen,
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release() {
      open();
    },
    async stop() {
      stopped = true;
      await informer.stop();
    },
  };
}

async function serverNames(api: k8s.CustomObjectsApi): Promise<string[]> {
  const list = (await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: PLURAL })) as { items: k8s.KubernetesObject[] };
  return list.items.map((o) => o.metadata!.name!).sort();
}

describe('@kubernetes/client-node informer', () => {
  it('lists and watches through a server restart and a forced 410, missing no event', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(t.server.kubeconfigPath);
    const api = kc.makeApiClient(k8s.CustomObjectsApi);
    const create = (name: string) => api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: PLURAL, body: volume(name) });
    const remove = (name: string) => api.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: PLURAL, name });

    await create('before');
    const inf = startInformer(kc);
    await inf.informer.start();
    await expect.poll(() => inf.seen.added.has('before')).toBe(true);

    await create('live');
    await expect.poll(() => inf.seen.added.has('live')).toBe(true);

    // Restart: the informer's watch breaks, it comes back and resumes from its resourceVersion.
    await t.restart();
    await create('after-restart');
    await remove('live');
    await expect.poll(() => inf.seen.added.has('after-restart') && inf.seen.deleted.has('live'), { timeout: 15_000 }).toBe(true);

    // Forced 410: history compacted while the informer is cut off, so it must relist.
    const listsBefore = inf.seen.lists;
    const errorsBefore = inf.seen.errors;
    inf.hold();
    await t.restart();
    await expect.poll(() => inf.seen.errors > errorsBefore, { timeout: 15_000 }).toBe(true);
    await create('during-gap');
    await remove('before');
    await t.server.store.compact(await t.server.store.revision());
    await create('after-compaction');
    inf.release();
    await expect
      .poll(() => ['during-gap', 'after-compaction'].every((n) => inf.seen.added.has(n)) && inf.seen.deleted.has('before'), { timeout: 15_000 })
      .toBe(true);

    expect(inf.seen.lists).toBeGreaterThan(listsBefore);
    const cached = inf.informer.list('default').map((o) => o.metadata!.name!).sort();
    expect(cached).toEqual(await serverNames(api));
    await inf.stop();
  });
});
