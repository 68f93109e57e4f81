/** Deleting an Image object removes its ref from the node's runtime, and the runtime gives the disk back. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GV, imageManifest, phaseOf, runtimeSkipReason, startTestNode, type TestNode } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping agent image deletion tests: ${skip}`);

describe.skipIf(!!skip)('agent: Image deletion', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  const POLL = { timeout: 30_000, interval: 200 };
  const gone = async (name: string): Promise<boolean> => {
    try {
      await t.client.get('images', 'default', name);
      return false;
    } catch {
      return true;
    }
  };
  const remove = (name: string) => t.client.custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'images', namespace: 'default', name });

  it('keeps the ref while another Image names it, then removes it, and the blobs and layers are collected', async () => {
    const rt = t.node.runtime!;
    await t.apply(imageManifest(t.tarball));
    // the same image under a longer spelling of its ref
    await t.apply({ apiVersion: GV, kind: 'Image', metadata: { name: 'busybox-again', namespace: 'default' }, spec: { ref: 'docker.io/library/busybox:latest', source: { import: { path: t.tarball, format: 'rootfs' } } } });
    for (const name of ['busybox', 'busybox-again']) {
      await expect.poll(async () => phaseOf(await t.client.get('images', 'default', name)), POLL).toBe('Ready');
      expect((await t.client.get('images', 'default', name)).metadata.finalizers).toContain('berth.dev/image');
    }
    expect(await rt.images.exists('busybox:latest')).toBe(true);
    expect((await rt.content.list()).length).toBeGreaterThan(0);

    await remove('busybox-again');
    await expect.poll(() => gone('busybox-again'), POLL).toBe(true);
    expect(await rt.images.exists('busybox:latest')).toBe(true);

    await remove('busybox');
    await expect.poll(() => gone('busybox'), POLL).toBe(true);
    expect(await rt.images.exists('busybox:latest')).toBe(false);
    // the runtime collects what no image, container or lease needs, by itself
    await expect.poll(async () => (await rt.content.list()).length + (await rt.snapshots.listLayers()).length, POLL).toBe(0);
    const evs = (await t.client.core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=busybox' })).items;
    expect(evs.some((e) => e.reason === 'Removed')).toBe(true);
  });
});
