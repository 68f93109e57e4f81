import { execFileSync } from 'node:child_process';
import { lstat, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentStore } from '../../../src/runtime/content/store.js';
import { loadImages, saveImages } from '../../../src/runtime/images/archive.js';
import { importRootfsTarball } from '../../../src/runtime/images/import.js';
import { ImageStore } from '../../../src/runtime/images/store.js';
import { SnapshotStore } from '../../../src/runtime/snapshots/store.js';
import { busyboxTarball, makeTempRoot, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping runtime image tests: ${skip}`);

describe.skipIf(skip !== undefined)('image store (real content, snapshots)', () => {
  let root: string;
  let images: ImageStore;
  let tarball: string;

  beforeAll(async () => {
    root = await makeTempRoot('images');
    const content = new ContentStore(root);
    images = new ImageStore(root, content, new SnapshotStore(root));
    tarball = await busyboxTarball(root);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('imports a rootfs tarball as a one-layer image with config changes', async () => {
    const id = await importRootfsTarball(images, join(root, 'tmp'), tarball, {
      ref: 'test/busybox',
      message: 'from busybox-static',
      changes: { Cmd: ['sh'], Env: ['A=1'], WorkingDir: '/data', ExposedPorts: ['80'], Volumes: ['/data'], Labels: { k: 'v' }, User: 'app' },
    });
    expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
    const info = await images.inspect('test/busybox:latest');
    expect(info.Id).toBe(id);
    expect(info.RepoTags).toEqual(['test/busybox:latest']);
    expect(info.Config).toMatchObject({ Cmd: ['sh'], Env: ['A=1'], WorkingDir: '/data', User: 'app', ExposedPorts: { '80/tcp': {} }, Volumes: { '/data': {} }, Labels: { k: 'v' } });
    expect(info.RootFS.Layers).toHaveLength(1);
    const layer = images.snapshots.layerDir(info.RootFS.Layers[0] as string);
    expect((await lstat(join(layer, 'bin', 'busybox'))).isFile()).toBe(true);
    expect((await lstat(join(layer, 'bin', 'sh'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(layer, 'etc', 'passwd'), 'utf8')).toContain('app:x:1000');
    const hist = await images.history(id);
    expect(hist).toHaveLength(1);
    expect(hist[0]).toMatchObject({ id, comment: 'from busybox-static' });
    expect(info.Size).toBeGreaterThan(1_000_000);
  });

  it('tags many names onto one ID, untags before deleting, and lists dangling images', async () => {
    const id = (await images.resolve('test/busybox')).id;
    await images.tag('test/busybox', 'other/name:v1');
    expect((await images.inspect('other/name:v1')).Id).toBe(id);
    expect(await images.remove('other/name:v1')).toEqual([{ untagged: 'other/name:v1' }]);
    expect(await images.exists(id)).toBe(true);
    // a second import under the same name leaves the first image dangling
    const id2 = await importRootfsTarball(images, join(root, 'tmp'), tarball, { ref: 'test/busybox', message: 'again' });
    expect(id2).not.toBe(id);
    expect((await images.list({ dangling: true })).map((i) => i.id)).toEqual([id]);
    expect(await images.prune()).toEqual([id]);
    expect(await images.exists(id)).toBe(false);
    // refused while a container uses it, unless forced
    images.setUsage(async (img) => (img === id2 ? [{ id: 'c'.repeat(64), running: false }] : []));
    await expect(images.remove('test/busybox')).rejects.toThrow(/being used by container/);
    expect(await images.remove('test/busybox', { force: true })).toEqual([{ untagged: 'test/busybox:latest' }, { deleted: id2 }]);
    images.setUsage(async () => []);
  });

  it('saves and loads docker-archive and OCI archives, interoperating with skopeo both ways', async () => {
    const id = await importRootfsTarball(images, join(root, 'tmp'), tarball, { ref: 'test/save:v1', changes: { Cmd: ['echo', 'hi'] } });
    const oci = join(root, 'a-oci.tar');
    const dock = join(root, 'a-docker.tar');
    await saveImages(images, join(root, 'tmp'), ['test/save:v1'], oci, 'oci-archive');
    await saveImages(images, join(root, 'tmp'), ['test/save:v1'], dock, 'docker-archive');
    // skopeo reads what we wrote
    const viaSkopeoOci = join(root, 'b-oci.tar');
    const viaSkopeoDocker = join(root, 'b-docker.tar');
    execFileSync('skopeo', ['--insecure-policy', 'copy', '-q', `oci-archive:${oci}:v1`, `oci-archive:${viaSkopeoOci}:copied/oci:v2`]);
    execFileSync('skopeo', ['--insecure-policy', 'copy', '-q', `docker-archive:${dock}`, `oci-archive:${viaSkopeoDocker}:copied/docker:v3`]);
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `docker-archive:${dock}`]).toString()) as { config: { Cmd: string[] } };
    expect(inspected.config.Cmd).toEqual(['echo', 'hi']);
    // the store is emptied, then we read what skopeo wrote
    await images.remove(id, { force: true });
    expect(await images.exists(id)).toBe(false);
    expect(await loadImages(images, viaSkopeoOci)).toEqual([{ id, names: ['copied/oci:v2'] }]);
    const fromDocker = await loadImages(images, viaSkopeoDocker);
    expect(fromDocker.map((l) => l.names)).toEqual([['copied/docker:v3']]);
    expect((await images.inspect('copied/docker:v3')).Config.Cmd).toEqual(['echo', 'hi']);
    // our own archives load back to the same image ID
    await images.remove(id, { force: true });
    expect(await loadImages(images, dock)).toEqual([{ id, names: ['test/save:v1'] }]);
    await images.remove(id, { force: true });
    expect(await loadImages(images, oci)).toEqual([{ id, names: ['test/save:v1'] }]);
    // skopeo writes a docker-archive from our OCI archive and we load it
    const dock2 = join(root, 'c-docker.tar');
    execFileSync('skopeo', ['--insecure-policy', 'copy', '-q', `oci-archive:${oci}:v1`, `docker-archive:${dock2}:again/docker:v4`]);
    expect((await loadImages(images, dock2))[0]).toEqual({ id, names: ['again/docker:v4'] });
  });

  it('garbage-collects blobs and layers no image references', async () => {
    for (const id of await images.ids()) await images.remove(id, { force: true });
    const blobsBefore = await images.content.list();
    const referenced = await images.referencedBlobs();
    const gc = await images.content.gc(referenced);
    expect(gc.removed.length).toBe(blobsBefore.length - referenced.size);
    // every image is gone by now, so its layer goes too
    const layers = await images.snapshots.listLayers();
    expect(layers).toHaveLength(1);
    expect(await images.snapshots.gc(await images.referencedLayers())).toEqual(layers);
    expect(await images.snapshots.hasLayer(layers[0] as string)).toBe(false);
  });
});
