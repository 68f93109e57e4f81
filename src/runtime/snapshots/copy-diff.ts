import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { packEntry } from '../../util/tar/pack-dir.js';
import type { TarWriter } from '../../util/tar/writer.js';
import { sameFileContent } from '../util/fs.js';
import { OPAQUE_MARKER } from './apply-layer.js';
import { whiteoutEntryName, type Change } from './diff.js';
import type { LayerView, ViewDir, ViewEntry } from './layer-view.js';

export interface CopyDiff {
  /** docker diff order: each directory before what is in it, names sorted. */
  changes: Change[];
  /** Directories (absolute paths) whose every old entry is gone: committed as opaque, not one whiteout each. */
  opaque: Set<string>;
}

export interface CopyDiffOptions {
  /**
   * ctime (ms) from which a file may have been touched since the copy was made; files changed
   * earlier are the copy itself. Undefined: unknown, so any file may have been touched.
   */
  touchedSince?: number;
  /** Absolute paths ignored when the image does not have them (mount points the runtime creates). */
  ignoreAdded?: ReadonlySet<string>;
}

/** moby's sameFsTimeSpec: same second, and same fraction unless one side has none (tar keeps whole seconds). */
function sameMtime(a: number, b: number): boolean {
  if (Math.floor(a / 1000) !== Math.floor(b / 1000)) return false;
  return a === b || a % 1000 === 0 || b % 1000 === 0;
}

/**
 * Whether an entry differs from the image's, as `docker diff` decides it (moby's statDifferent):
 * type and permission bits, owner, and for non-directories also device, size and mtime — a
 * directory's size and mtime are no measure of change. Docker stops there; a file rewritten with
 * the same size and its mtime set back would pass unseen, so when every field matches and the
 * file's ctime (which no syscall can set back) is not older than the copy, the content is
 * compared too. Files left alone since the copy are never read. This assumes the system clock
 * was not stepped back between the copy and the change.
 */
async function changed(old: ViewEntry, st: Stats, path: string, touchedSince: number): Promise<boolean> {
  const o = old.st;
  if (o.mode !== st.mode || o.uid !== st.uid || o.gid !== st.gid) return true;
  if (st.isDirectory()) return false;
  if (o.rdev !== st.rdev || o.size !== st.size || !sameMtime(o.mtimeMs, st.mtimeMs)) return true;
  if (st.ctimeMs < touchedSince) return false;
  if (st.isFile()) return !(await sameFileContent(old.path, path));
  if (st.isSymbolicLink()) return (await readlink(old.path)) !== (await readlink(path));
  return false;
}

/**
 * docker diff for the copy snapshotter: the container's full rootfs against the image's layers
 * (A added, C changed, D deleted). Like Docker, a directory holding a change is itself C, and a
 * deleted directory is one D (its contents are not listed).
 */
export async function diffCopy(rootfs: string, view: LayerView, o: CopyDiffOptions = {}): Promise<CopyDiff> {
  const changes: Change[] = [];
  const opaque = new Set<string>();
  const touchedSince = o.touchedSince ?? -Infinity;
  const walk = async (rel: string, base: ViewDir | undefined): Promise<void> => {
    const now = new Set(await readdir(rel ? join(rootfs, rel) : rootfs));
    const before = base ? await view.list(base) : new Map<string, ViewEntry>();
    const names = [...new Set([...now, ...before.keys()])].sort();
    let kept = 0;
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = `/${r}`;
      const old = before.get(name);
      if (!now.has(name)) {
        changes.push({ kind: 'D', path: abs });
        continue;
      }
      if (!old && o.ignoreAdded?.has(abs)) continue;
      if (old) kept++;
      const path = join(rootfs, r);
      const st = await lstat(path);
      const at = changes.length;
      const isChanged = !old || (await changed(old, st, path, touchedSince));
      if (isChanged) changes.push({ kind: old ? 'C' : 'A', path: abs });
      if (!st.isDirectory()) continue;
      await walk(r, old?.dir);
      // a directory that holds a change is changed too (Docker: so its permissions travel with the layer)
      if (!isChanged && changes.length > at) changes.splice(at, 0, { kind: 'C', path: abs });
    }
    if (rel && before.size > 0 && kept === 0) opaque.add(`/${rel}`);
  };
  await walk('', view.root());
  return { changes, opaque };
}

/** Packs a copy-mode diff as an OCI layer: changed entries as they are now, whiteouts, opaque markers. */
export async function packCopyDiff(tar: TarWriter, rootfs: string, diff: CopyDiff): Promise<void> {
  const inodes = new Map<string, string>();
  for (const c of diff.changes) {
    const rel = c.path.slice(1);
    if (c.kind === 'D') {
      const parent = c.path.slice(0, c.path.lastIndexOf('/'));
      if (!diff.opaque.has(parent)) await tar.addBuffer({ name: whiteoutEntryName(rel), mode: 0o644 }, Buffer.alloc(0));
      continue;
    }
    await packEntry(tar, rootfs, rel, await lstat(join(rootfs, rel)), inodes);
    if (diff.opaque.has(c.path)) await tar.addBuffer({ name: `${rel}/${OPAQUE_MARKER}`, mode: 0o644 }, Buffer.alloc(0));
  }
}
