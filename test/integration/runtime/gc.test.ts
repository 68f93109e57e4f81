/**
 * Garbage collection by references with real images, runc and overlayfs: removing an image gives the
 * disk back, and a pull or an import that the collector runs into keeps everything it wrote.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../../../src/registry/server.js';
import { Distribution, Runtime, type GcResult } from '../../../src/runtime/index.js';
import { TarWriter } from '../../../src/util/tar/writer.js';
import { busyboxTarball, makeTempRoot, removeRuntimeTestRoot, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping runtime GC tests: ${skip}`);

const CGROUP_PARENT = `berth-test-gc-${process.pid}`;
const MiB = 1024 * 1024;

/** Bytes a tree takes as `du -sb` counts them: the sizes of every file, link and directory, hardlinks once. */
async function du(path: string, seen = new Set<string>()): Promise<number> {
  const st = await lstat(path).catch(() => undefined); // removed while we walk (the collector at work)
  if (!st) return 0;
  const key = `${st.dev}:${st.ino}`;
  if (seen.has(key)) return 0;
  seen.add(key);
  let total = st.size;
  if (st.isDirectory()) for (const name of await readdir(path).catch(() => [])) total += await du(join(path, name), seen);
  return total;
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe.skipIf(skip !== undefined)('garbage collection', () => {
  let work: string;
  let tarball: string;
  const roots: Array<{ rt: Runtime; root: string }> = [];

  const freshRuntime = async (label: string): Promise<{ rt: Runtime; root: string }> => {
    const root = await makeTempRoot(`gc-${label}`);
    const r = { rt: new Runtime({ root, cgroupParent: CGROUP_PARENT }), root };
    roots.push(r);
    return r;
  };

  beforeAll(async () => {
    work = await makeTempRoot('gc-work');
    tarball = await busyboxTarball(work);
  });

  afterAll(async () => {
    for (const { rt, root } of roots) await removeRuntimeTestRoot(rt, root, CGROUP_PARENT);
    await removeRuntimeTestRoot(new Runtime({ root: work, cgroupParent: CGROUP_PARENT }), work, CGROUP_PARENT);
  });

  it('import, run and remove a container, remove the image: the root is back to its size before the import', async () => {
    const { rt, root } = await freshRuntime('size');
    const before = await du(root).catch(() => 0);
    await rt.importImage(tarball, { ref: 'test/gc:size' });
    const c = await rt.containers.create({ image: 'test/gc:size', command: ['sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1024 count=2048 2>/dev/null'] });
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(0);
    const full = await du(root);
    expect(full - before).toBeGreaterThan(4 * MiB); // blob, unpacked layer, the container's 2 MiB
    await rt.containers.remove(c.id);
    expect(await rt.images.remove('test/gc:size')).toEqual([{ untagged: 'test/gc:size' }, { deleted: expect.stringMatching(/^sha256:/) }]);
    // nobody calls gc(): the removal scheduled it
    await expect.poll(() => du(root), { timeout: 30_000, interval: 100 }).toBeLessThan(before + MiB);
    console.log(`runtime root: ${before} bytes before the import, ${full} with image and container, ${await du(root)} after removing both`);
    expect(await rt.images.content.list()).toEqual([]);
    expect(await rt.snapshots.listLayers()).toEqual([]);
    expect(await rt.gc()).toEqual({ blobs: [], layers: [], bytes: 0 });
  });

  it('a pull from a registry that the collector runs into keeps every blob and layer', async () => {
    let reg: RunningRegistry | undefined;
    try {
      reg = await startRegistry({ dataDir: join(work, 'registry'), listen: '127.0.0.1:0', auth: 'off' });
      const host = new URL(reg.url).host;
      // three layers: busybox, then two of random data (incompressible, so the transfer takes a while)
      const { rt: src, root: srcRoot } = await freshRuntime('push');
      const layers: Buffer[] = [await readFile(tarball)];
      for (const n of [1, 2]) {
        const path = join(srcRoot, `data-${n}.tar`);
        const t = await TarWriter.create(path);
        await t.addEntry({ name: `data${n}`, type: 'dir', mode: 0o755 });
        await t.addBuffer({ name: `data${n}/blob.bin`, mode: 0o644 }, randomBytes(6 * MiB));
        await t.close();
        layers.push(await readFile(path));
      }
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: layers.map(sha) } }));
      const digests: string[] = [];
      for (const l of layers) digests.push(await src.content.putBuffer(l));
      await src.images.addImage(config, layers.map((l, i) => ({ descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digests[i] as string, size: l.length }, diffID: sha(l) })), { names: [`${host}/gc/app:1`] });
      const srcDist = new Distribution({ images: src.images, root: src.root, credentialsPath: join(work, 'creds.json') });
      await srcDist.push(`${host}/gc/app:1`);

      const { rt } = await freshRuntime('pull');
      const dist = new Distribution({ images: rt.images, root: rt.root, credentialsPath: join(work, 'creds.json') });
      let pulling = true;
      const pull = dist.pull(`${host}/gc/app:1`).finally(() => (pulling = false));
      // the collector runs again and again while the pull is in flight
      const passes: GcResult[] = [];
      while (pulling) passes.push(await rt.gc());
      const result = await pull;
      expect(passes.length).toBeGreaterThan(0);
      expect(passes.flatMap((p) => [...p.blobs, ...p.layers])).toEqual([]);
      console.log(`${passes.length} collections ran during the pull`);
      expect(rt.leases.running()).toEqual([]);
      // every blob is there and intact, every layer unpacked
      const manifest = await rt.images.manifest(result.id);
      for (const d of [result.id, result.manifestDigest, ...manifest.layers.map((l) => l.digest)]) expect(sha(await rt.content.read(d))).toBe(d);
      for (const l of layers) expect(await rt.snapshots.hasLayer(sha(l))).toBe(true);
      // and the image runs, with all its layers
      const c = await rt.containers.create({ image: result.id, command: ['sh', '-c', 'cat /data1/blob.bin /data2/blob.bin | wc -c'] });
      await rt.tasks.start(c.id);
      expect(await rt.tasks.wait(c.id)).toBe(0);
      const out: string[] = [];
      for await (const l of rt.tasks.logs(c.id)) out.push(l.line.trim());
      expect(out).toEqual([String(12 * MiB)]);
      await rt.containers.remove(c.id);
      // what the pull held is collected once the image is gone
      await rt.images.remove(result.id, { force: true });
      await rt.gc();
      expect(await rt.content.list()).toEqual([]);
      expect(await rt.snapshots.listLayers()).toEqual([]);
    } finally {
      await reg?.close();
    }
  });

  it('an import that the collector runs into keeps its blob and layer', async () => {
    const { rt } = await freshRuntime('import');
    let importing = true;
    const imported = rt.importImage(tarball, { ref: 'test/gc:import' }).finally(() => (importing = false));
    const passes: GcResult[] = [];
    while (importing) passes.push(await rt.gc());
    const id = await imported;
    expect(passes.length).toBeGreaterThan(0);
    expect(passes.flatMap((p) => [...p.blobs, ...p.layers])).toEqual([]);
    const cfg = await rt.images.config(id);
    expect(await rt.snapshots.hasLayer(cfg.rootfs.diff_ids[0] as string)).toBe(true);
    const c = await rt.containers.create({ image: 'test/gc:import', command: ['true'] });
    await rt.tasks.start(c.id);
    expect(await rt.tasks.wait(c.id)).toBe(0);
    await rt.containers.remove(c.id);
  });

  it('system df reports what is reclaimable: unused images, stopped containers, and what nothing references', async () => {
    const { rt } = await freshRuntime('df');
    await rt.importImage(tarball, { ref: 'test/gc:df' });
    let df = await rt.systemDf();
    expect(df.images).toMatchObject({ total: 1, active: 0 });
    expect(df.images.reclaimable).toBe(df.images.size);
    expect(df.unreferenced).toMatchObject({ total: 0, size: 0 });
    const c = await rt.containers.create({ image: 'test/gc:df', command: ['true'] });
    df = await rt.systemDf();
    expect(df.images).toMatchObject({ active: 1, reclaimable: 0 });
    await rt.containers.remove(c.id);
    // a blob no image names (left by a crash, say) is reclaimable until the next collection
    const stray = await rt.content.putBuffer(randomBytes(100_000));
    df = await rt.systemDf();
    expect(df.unreferenced).toMatchObject({ total: 1, size: 100_000, reclaimable: 100_000 });
    expect((await rt.gc()).blobs).toEqual([stray]);
    expect((await rt.systemDf()).unreferenced.total).toBe(0);
  });
});
