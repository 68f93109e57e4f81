import { stat } from 'node:fs/promises';
import { readJsonIfExists } from './fs.js';
import { isNodeError } from './errors.js';

/**
 * Parsed JSON files, kept while the file on disk is the same one: a stat instead of a read, JSON.parse and
 * schema parse on every look-up. The files this serves are only replaced by rename (a new inode), so inode,
 * change time and size together tell a rewrite apart; a writer in this process also calls forget().
 * Values are shared between callers: treat them as read-only.
 */
export class ParsedFileCache<T> {
  private readonly entries = new Map<string, { key: string; value: T }>();

  constructor(
    private readonly parse: (raw: unknown) => T,
    private readonly limit = 4096,
  ) {}

  /** The parsed file, or undefined when there is no file. */
  async read(path: string): Promise<T | undefined> {
    let key: string;
    try {
      const st = await stat(path, { bigint: true });
      key = `${st.ino}:${st.ctimeNs}:${st.size}`;
    } catch (e) {
      if (isNodeError(e, 'ENOENT') || isNodeError(e, 'ENOTDIR')) {
        this.entries.delete(path);
        return undefined;
      }
      throw e;
    }
    const hit = this.entries.get(path);
    if (hit?.key === key) return hit.value;
    const raw = await readJsonIfExists(path);
    if (raw === undefined) {
      this.entries.delete(path);
      return undefined;
    }
    const value = this.parse(raw);
    if (this.entries.size >= this.limit) this.entries.clear();
    this.entries.set(path, { key, value });
    return value;
  }

  forget(path: string): void {
    this.entries.delete(path);
  }
}
