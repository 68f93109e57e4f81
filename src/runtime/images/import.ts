import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decompressTo } from '../snapshots/decompress.js';
import { randomHexId } from '../util/digest.js';
import { applyConfigChanges, goArch, MEDIA, type ConfigChanges, type ImageConfig } from './schema.js';
import type { ImageStore } from './store.js';

export interface ImportOptions {
  /** name[:tag] for the new image; without it the image is dangling, as with `docker import` without a name. */
  ref?: string;
  changes?: ConfigChanges;
  message?: string;
  author?: string;
}

/** Adds a layer tarball (plain or gzip) to the content store and unpacks it; on a bad layer nothing is kept. */
export async function ingestLayerTarball(images: ImageStore, tmpDir: string, tarPath: string): Promise<{ digest: string; diffID: string; size: number }> {
  await mkdir(tmpDir, { recursive: true });
  const plain = join(tmpDir, `layer-${randomHexId()}.tar`);
  try {
    const diffID = await decompressTo(tarPath, plain);
    const existed = await images.content.has(diffID);
    const digest = await images.content.ingestFile(plain, diffID);
    try {
      await images.snapshots.ensureLayer(diffID, images.content.path(digest));
    } catch (e) {
      if (!existed) await images.content.delete(digest);
      throw e;
    }
    return { digest, diffID, size: (await stat(plain)).size };
  } finally {
    await rm(plain, { force: true });
  }
}

/** docker import: a rootfs tarball becomes a one-layer image. */
export async function importRootfsTarball(images: ImageStore, tmpDir: string, tarPath: string, opts: ImportOptions = {}): Promise<string> {
  const layer = await ingestLayerTarball(images, tmpDir, tarPath);
  const created = new Date().toISOString();
  const config: ImageConfig = {
    created,
    ...(opts.author ? { author: opts.author } : {}),
    architecture: goArch(),
    os: 'linux',
    config: applyConfigChanges({}, opts.changes),
    rootfs: { type: 'layers', diff_ids: [layer.diffID] },
    history: [{ created, created_by: 'berth import', ...(opts.message ? { comment: opts.message } : {}), ...(opts.author ? { author: opts.author } : {}) }],
  };
  return images.addImage(Buffer.from(JSON.stringify(config)), [
    { descriptor: { mediaType: MEDIA.ociLayer, digest: layer.digest, size: layer.size }, diffID: layer.diffID },
  ], { names: opts.ref ? [opts.ref] : [] });
}
