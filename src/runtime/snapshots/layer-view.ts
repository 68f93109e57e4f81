import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isNodeError } from '../util/errors.js';
import { isWhiteoutDevice } from './merge.js';

/** One directory of the merged view: where it is in each layer that contributes entries, top first. */
export interface ViewDir {
  rel: string;
  parts: Array<{ layer: number; path: string }>;
}

export interface ViewEntry {
  /** Metadata as the merged view shows it (from the topmost layer that has the entry). */
  st: Stats;
  /** The entry in that layer. */
  path: string;
  /** Set when the entry is a directory. */
  dir?: ViewDir;
}

/**
 * The read-only union of overlay-format layer directories (what an overlay mount of them shows),
 * read without mounting: whiteout devices hide lower entries, an opaque directory hides everything
 * below it, and a non-directory hides a lower directory of the same name.
 */
export class LayerView {
  /**
   * @param layers layer directories, top first
   * @param opaque per layer (same order), the opaque directories relative to its root
   */
  constructor(
    private readonly layers: readonly string[],
    private readonly opaque: ReadonlyArray<ReadonlySet<string>>,
  ) {}

  root(): ViewDir {
    return { rel: '', parts: this.layers.map((path, layer) => ({ layer, path })) };
  }

  /** The visible entries of a directory. */
  async list(dir: ViewDir): Promise<Map<string, ViewEntry>> {
    const seen = new Map<string, ViewEntry | null>();
    for (const [i, part] of dir.parts.entries()) {
      for (const name of await readdir(part.path)) {
        if (seen.has(name)) continue;
        const path = join(part.path, name);
        const st = await lstat(path);
        if (isWhiteoutDevice(st)) {
          seen.set(name, null);
          continue;
        }
        const entry: ViewEntry = { st, path };
        if (st.isDirectory()) entry.dir = await this.childDir(dir, i, name);
        seen.set(name, entry);
      }
    }
    const out = new Map<string, ViewEntry>();
    for (const [name, e] of seen) if (e) out.set(name, e);
    return out;
  }

  /** Where the directory `name` (first seen in parts[from]) is in each layer that shows through. */
  private async childDir(parent: ViewDir, from: number, name: string): Promise<ViewDir> {
    const rel = parent.rel ? `${parent.rel}/${name}` : name;
    const parts: ViewDir['parts'] = [];
    for (const part of parent.parts.slice(from)) {
      const path = join(part.path, name);
      let st: Stats;
      try {
        st = await lstat(path);
      } catch (e) {
        if (isNodeError(e, 'ENOENT')) continue;
        throw e;
      }
      if (!st.isDirectory()) break; // a whiteout or a file hides the directories below
      parts.push({ layer: part.layer, path });
      if (this.opaque[part.layer]?.has(rel)) break;
    }
    return { rel, parts };
  }
}
