import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TarWriter } from '../../util/tar/writer.js';
import { isNodeError } from '../util/errors.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './apply-layer.js';
import { isOpaqueDir, isWhiteoutDevice } from './merge.js';
import { packDirectory } from '../../util/tar/pack-dir.js';

export type ChangeKind = 'A' | 'C' | 'D';
export interface Change {
  kind: ChangeKind;
  path: string;
}

/** Is `rel` visible in the read-only layers (top first), honouring whiteouts and opaque dirs? */
async function inLower(lowerdirs: readonly string[], rel: string): Promise<boolean> {
  for (const l of lowerdirs) {
    try {
      const st = await lstat(join(l, rel));
      return !isWhiteoutDevice(st);
    } catch (e) {
      if (!isNodeError(e, 'ENOENT') && !isNodeError(e, 'ENOTDIR')) throw e;
    }
  }
  return false;
}

/** docker diff from an overlay upper dir: A added, C changed, D deleted (whiteout devices). */
export async function diffUpper(upper: string, lowerdirs: readonly string[]): Promise<Change[]> {
  const out: Change[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(upper, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(upper, r));
      if (isWhiteoutDevice(st)) {
        out.push({ kind: 'D', path: `/${r}` });
        continue;
      }
      const existed = await inLower(lowerdirs, r);
      out.push({ kind: existed ? 'C' : 'A', path: `/${r}` });
      if (st.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

/**
 * Writes an overlay upper dir as an OCI layer: whiteout devices become .wh. files, opaque dirs get .wh..wh..opq.
 * `exclude` (relative paths, no leading slash) leaves paths out, e.g. mount points the runtime created.
 */
export async function packUpperAsLayer(tar: TarWriter, upper: string, exclude?: (rel: string) => boolean): Promise<void> {
  const opaque: string[] = [];
  const whiteouts: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(upper, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (exclude?.(r)) continue;
      const st = await lstat(join(upper, r));
      if (isWhiteoutDevice(st)) whiteouts.push(r);
      else if (st.isDirectory()) {
        if (await isOpaqueDir(join(upper, r))) opaque.push(r);
        await walk(r);
      }
    }
  };
  await walk('');
  const skip = new Set(whiteouts);
  await packDirectory(tar, upper, { filter: (rel) => !skip.has(rel) && !exclude?.(rel) });
  for (const dir of opaque) await tar.addBuffer({ name: `${dir}/${OPAQUE_MARKER}`, mode: 0o644 }, Buffer.alloc(0));
  for (const w of whiteouts) await tar.addBuffer({ name: whiteoutEntryName(w), mode: 0o644 }, Buffer.alloc(0));
}

/** The layer entry that deletes `rel` (a/b -> a/.wh.b). */
export function whiteoutEntryName(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? `${WHITEOUT_PREFIX}${rel}` : `${rel.slice(0, slash)}/${WHITEOUT_PREFIX}${rel.slice(slash + 1)}`;
}
