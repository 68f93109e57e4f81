import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { atomicWriteJson } from '../util/fs.js';
import { isNodeError } from '../util/errors.js';

const RecordSchema = z.object({ key: z.string(), hash: z.string() });
const FileSchema = z.record(z.string(), RecordSchema);

/** Files changed this recently are hashed again next time (their mtime may not move on the next write: git's "racy" rule). */
const RACY_MS = 2000;
const MAX_ENTRIES = 50_000;

export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

const keyOf = (s: FileIdentity): string => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;

/**
 * Content hashes of context files kept across builds (<root>/build-cache/context-hashes.json),
 * trusted only while the file's device, inode, size, mtime and ctime are unchanged, so a
 * no-change rebuild does not read the context files again.
 */
export class ContextHashCache {
  private entries: Map<string, { key: string; hash: string }> | undefined;
  private dirty = false;
  private readonly path: string;

  constructor(root: string) {
    this.path = join(root, 'build-cache', 'context-hashes.json');
  }

  private async load(): Promise<Map<string, { key: string; hash: string }>> {
    if (this.entries) return this.entries;
    try {
      const parsed = FileSchema.safeParse(JSON.parse(await readFile(this.path, 'utf8')));
      this.entries = new Map(parsed.success ? Object.entries(parsed.data) : []);
    } catch (e) {
      if (!isNodeError(e, 'ENOENT') && !(e instanceof SyntaxError)) throw e;
      this.entries = new Map();
    }
    return this.entries;
  }

  async get(absPath: string, id: FileIdentity): Promise<string | undefined> {
    const e = (await this.load()).get(absPath);
    return e && e.key === keyOf(id) ? e.hash : undefined;
  }

  async set(absPath: string, id: FileIdentity, hash: string, now = Date.now()): Promise<void> {
    if (now - Math.max(id.mtimeMs, id.ctimeMs) < RACY_MS) return;
    const m = await this.load();
    m.set(absPath, { key: keyOf(id), hash });
    this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.dirty || !this.entries) return;
    const all = [...this.entries];
    await atomicWriteJson(this.path, Object.fromEntries(all.slice(Math.max(0, all.length - MAX_ENTRIES))));
    this.dirty = false;
  }
}
