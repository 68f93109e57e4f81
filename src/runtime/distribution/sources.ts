import { join } from 'node:path';
import { atomicWriteJson, readJsonIfExists } from '../util/fs.js';
import { Mutex } from '../util/mutex.js';

type SourcesDb = Record<string, Array<{ registry: string; repository: string }>>;

/**
 * Which registry repositories are known to hold a blob (learned from pulls and pushes), so a push
 * to another repository of the same registry can mount the blob instead of uploading it.
 */
export class BlobSources {
  private readonly path: string;
  private readonly mutex = new Mutex();

  constructor(root: string) {
    this.path = join(root, 'distribution', 'sources.json');
  }

  private async load(): Promise<SourcesDb> {
    const raw = await readJsonIfExists(this.path).catch(() => undefined);
    return raw && typeof raw === 'object' ? (raw as SourcesDb) : {};
  }

  async record(registry: string, repository: string, digests: string[]): Promise<void> {
    await this.mutex.run(async () => {
      const db = await this.load();
      let changed = false;
      for (const d of digests) {
        const list = (db[d] ??= []);
        if (list.some((s) => s.registry === registry && s.repository === repository)) continue;
        list.push({ registry, repository });
        if (list.length > 8) list.shift();
        changed = true;
      }
      if (changed) await atomicWriteJson(this.path, db);
    });
  }

  /** Other repositories of `registry` known to hold `digest`. */
  async find(registry: string, digest: string, exceptRepository: string): Promise<string[]> {
    const db = await this.load();
    return (db[digest] ?? []).filter((s) => s.registry === registry && s.repository !== exceptRepository).map((s) => s.repository);
  }
}
