import { lstat, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageStore, LayerInput } from '../images/store.js';
import { MEDIA } from '../images/schema.js';
import { packUpperAsLayer } from '../snapshots/diff.js';
import { TarWriter } from '../../util/tar/writer.js';
import { randomHexId, sha256OfFile } from '../util/digest.js';

export interface BuiltLayer extends LayerInput {
  size: number;
}

/** Paths the runtime creates as mount points in a RUN container; left out of the layer when they were not in the image. */
const MOUNT_POINTS = ['etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'proc', 'sys', 'dev'];

/** Is `rel` present in any of the read-only layer dirs? */
async function inLayers(lowerdirs: readonly string[], rel: string): Promise<boolean> {
  for (const l of lowerdirs) {
    try {
      await lstat(join(l, rel));
      return true;
    } catch {
      /* not in this layer */
    }
  }
  return false;
}

/** Mount-point artifacts in an upper dir: empty files/dirs the runtime made that the image did not have. */
export async function mountArtifacts(upper: string, lowerdirs: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const rel of MOUNT_POINTS) {
    const st = await lstat(join(upper, rel)).catch(() => undefined);
    if (!st || (st.isFile() && st.size > 0)) continue;
    if (st.isDirectory() && st.nlink > 2) continue;
    if (!(await inLayers(lowerdirs, rel))) out.add(rel);
  }
  // /etc copied up only to hold those mount points is an artifact too
  const etc = await readdir(join(upper, 'etc')).catch(() => undefined);
  if (etc && etc.every((n) => out.has(`etc/${n}`)) && (await inLayers(lowerdirs, 'etc'))) out.add('etc');
  return out;
}

/** Packs an overlay upper dir into a layer blob, stores it and unpacks it as a snapshot layer. */
export async function commitUpper(images: ImageStore, tmpDir: string, upper: string, exclude: ReadonlySet<string> = new Set()): Promise<BuiltLayer> {
  await mkdir(tmpDir, { recursive: true });
  const path = join(tmpDir, `build-layer-${randomHexId()}.tar`);
  try {
    const tar = await TarWriter.create(path);
    try {
      await packUpperAsLayer(tar, upper, exclude.size ? (rel) => exclude.has(rel) : undefined);
      await tar.close();
    } catch (e) {
      await tar.abort();
      throw e;
    }
    const diffID = await sha256OfFile(path);
    const size = (await stat(path)).size;
    const digest = await images.content.ingestFile(path, diffID);
    await images.snapshots.ensureLayer(diffID, images.content.path(digest));
    return { descriptor: { mediaType: MEDIA.ociLayer, digest, size }, diffID, size };
  } finally {
    await rm(path, { force: true });
  }
}
