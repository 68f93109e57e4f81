import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentStore } from '../../../src/runtime/content/store.js';
import { importRootfsTarball } from '../../../src/runtime/images/import.js';
import { ImageStore } from '../../../src/runtime/images/store.js';
import { SnapshotStore } from '../../../src/runtime/snapshots/store.js';
import type { TarEntry } from '../../../src/util/tar/entry.js';
import { TarWriter } from '../../../src/util/tar/writer.js';
import { makeTempRoot, mountsUnder, runtimeSkipReason } from './helpers.js';

const skip = runtimeSkipReason();
if (skip) console.warn(`skipping runtime layer tests: ${skip}`);

type Item = Partial<TarEntry> & { name: string; type: TarEntry['type']; data?: string };

async function writeTar(path: string, items: Item[]): Promise<string> {
  const t = await TarWriter.create(path);
  for (const it of items) {
    if (it.type === 'file') await t.addBuffer({ mode: 0o644, ...it }, Buffer.from(it.data ?? ''));
    else await t.addEntry({ mode: it.type === 'dir' ? 0o755 : 0o777, ...it });
  }
  await t.close();
  return path;
}

describe.skipIf(skip !== undefined)('layer unpacking and snapshots', () => {
  let root: string;
  let outside: string;
  let images: ImageStore;
  let n = 0;
  const tmp = (): string => join(root, 'tmp');

  beforeAll(async () => {
    root = await makeTempRoot('layers');
    outside = await makeTempRoot('layers-outside');
    images = new ImageStore(root, new ContentStore(root), new SnapshotStore(root));
  });
  afterAll(async () => {
    expect(mountsUnder(root)).toEqual([]);
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  const hostile: Array<[string, (o: string) => Item[], RegExp]> = [
    ['path traversal', (o) => [{ name: `../../../../../..${o}/traversal`, type: 'file', data: 'x' }], /escapes the root/],
    ['absolute path', (o) => [{ name: `${o}/absolute`, type: 'file', data: 'x' }], /absolute path escapes/],
    ['escaping symlink', () => [{ name: 'etc', type: 'dir' }, { name: 'etc/evil', type: 'symlink', linkname: '../../../../../../../../tmp' }], /symlink target .* escapes the root/],
    ['write through a symlink', (o) => [{ name: 'out', type: 'symlink', linkname: o }, { name: 'out/through-link', type: 'file', data: 'x' }], /is a symlink/],
    ['hardlink out', () => [{ name: 'passwd', type: 'hardlink', linkname: '../../../../../../etc/passwd' }], /escapes the root/],
    ['hardlink to a host path', () => [{ name: 'passwd', type: 'hardlink', linkname: '/etc/passwd' }], /does not exist inside the layer/],
    ['device node', () => [{ name: 'mem', type: 'char', devmajor: 1, devminor: 1 }], /device nodes are not allowed/],
  ];

  for (const [label, items, message] of hostile) {
    it(`rejects a tarball with ${label}, writing nothing outside the root and keeping nothing`, async () => {
      const tarPath = await writeTar(join(root, `hostile-${n++}.tar`), items(outside));
      const blobsBefore = await images.content.list();
      await expect(importRootfsTarball(images, tmp(), tarPath, { ref: 'hostile' })).rejects.toThrow(message);
      expect(await readdir(outside)).toEqual([]);
      expect(await images.content.list()).toEqual(blobsBefore);
      expect(await images.snapshots.listLayers()).toEqual([]);
      expect(await readdir(join(root, 'snapshots', 'tmp')).catch(() => [])).toEqual([]);
      expect(await images.exists('hostile')).toBe(false);
      await expect(stat('/etc/passwd')).resolves.toBeDefined();
    });
  }

  it('honours whiteouts and opaque directories (overlay mount and copy fallback agree)', async () => {
    const base = await writeTar(join(root, 'base.tar'), [
      { name: 'a', type: 'dir' }, { name: 'a/x', type: 'file', data: 'x' }, { name: 'a/y', type: 'file', data: 'y' },
      { name: 'b', type: 'dir' }, { name: 'b/z', type: 'file', data: 'z' }, { name: 'keep', type: 'file', data: 'k' },
      { name: 'gone', type: 'file', data: 'g' }, { name: 'rel', type: 'symlink', linkname: 'a/x' },
    ]);
    const top = await writeTar(join(root, 'top.tar'), [
      { name: 'a', type: 'dir' }, { name: 'a/.wh..wh..opq', type: 'file' }, { name: 'a/new', type: 'file', data: 'n' },
      { name: '.wh.b', type: 'file' }, { name: '.wh.gone', type: 'file' },
    ]);
    const baseId = await importRootfsTarball(images, tmp(), base, { ref: 'layers/base' });
    const topId = await importRootfsTarball(images, tmp(), top, { ref: 'layers/top' });
    const diffIDs = [...(await images.config(baseId)).rootfs.diff_ids, ...(await images.config(topId)).rootfs.diff_ids];
    const views: Record<string, string[]> = {};
    for (const [label, store] of [['overlay', images.snapshots], ['copy', new SnapshotStore(root, { forceCopy: true })]] as const) {
      const snap = await store.prepare(`wh-${label}`, diffIDs);
      expect(snap.mode).toBe(label);
      views[label] = (await readdir(snap.rootfs)).sort();
      expect(await readdir(join(snap.rootfs, 'a'))).toEqual(['new']);
      expect(await readFile(join(snap.rootfs, 'keep'), 'utf8')).toBe('k');
      await store.remove(`wh-${label}`);
    }
    expect(views.overlay).toEqual(['a', 'keep', 'rel']);
    expect(views.copy).toEqual(views.overlay);
    expect(mountsUnder(root).map((m) => basename(m))).toEqual([]);
  });
});
