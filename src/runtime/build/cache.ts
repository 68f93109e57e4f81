import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { atomicWriteJson, readDirOrEmpty } from '../util/fs.js';
import { isNodeError } from '../util/errors.js';
import { sha256Of } from '../util/digest.js';

export const CacheEntrySchema = z.object({
  /** When the step first ran (kept, so a cache-hit rebuild yields the same image ID). */
  created: z.string(),
  layer: z
    .object({
      diffID: z.string(),
      digest: z.string(),
      size: z.number().int().nonnegative(),
      mediaType: z.string(),
    })
    .optional(),
  /** A metadata step that only advances the chain. */
  emptyLayer: z.boolean().optional(),
});
export type CacheEntry = z.infer<typeof CacheEntrySchema>;

/** The next link of a cache chain: parent chain + the step's key (instruction with resolved values, file checksums). */
export const chainKey = (parent: string, step: string): string => sha256Of(`${parent}\n${step}`);

/**
 * The build cache index: one small JSON file per step key under <root>/build-cache, mapping
 * (parent chain, instruction) to the layer that step produced.
 */
export class BuildCache {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'build-cache');
  }

  private path(key: string): string {
    return join(this.dir, `${key.replace(/^sha256:/, '')}.json`);
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    try {
      const parsed = CacheEntrySchema.safeParse(JSON.parse(await readFile(this.path(key), 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch (e) {
      if (isNodeError(e, 'ENOENT') || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    await atomicWriteJson(this.path(key), entry);
  }

  /**
   * The layer blobs the entries name: roots of the garbage collector, so that a step is not run again
   * because an image that had its layer was removed (an unpacked layer may go: it is unpacked again).
   */
  async referenced(): Promise<{ entries: number; blobs: Set<string> }> {
    const blobs = new Set<string>();
    let entries = 0;
    for (const name of await readDirOrEmpty(this.dir)) {
      if (!/^[a-f0-9]{64}\.json$/.test(name)) continue;
      const e = await this.get(name.slice(0, -5));
      if (!e) continue;
      entries++;
      if (e.layer) blobs.add(e.layer.digest);
    }
    return { entries, blobs };
  }

  /** Forgets every entry (docker builder prune); the collector then frees what only the cache kept. */
  async clear(): Promise<number> {
    let n = 0;
    for (const name of await readDirOrEmpty(this.dir)) {
      if (!name.endsWith('.json')) continue;
      await rm(join(this.dir, name), { force: true });
      n++;
    }
    return n;
  }
}
