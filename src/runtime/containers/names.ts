import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, isNodeError } from '../util/errors.js';
import { pathExists, readDirOrEmpty } from '../util/fs.js';

/**
 * Container names, one file per name (<root>/container-names/<name> holding the container ID).
 * Creating the file with O_EXCL is what makes a name unique, across processes sharing the root,
 * without reading every container record on each create or lookup by name.
 */
export class NameIndex {
  private building: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    /** Whether a container directory exists for an ID: a name whose container is gone is free again. */
    private readonly containerExists: (id: string) => Promise<boolean>,
    /** Every (name, ID) pair from the records, to build the index for a root that predates it. */
    private readonly scan: () => Promise<Array<{ name: string; id: string }>>,
  ) {}

  private file(name: string): string {
    return join(this.dir, name);
  }

  /** Builds the index once per process for a root that predates it; concurrent callers share the build. */
  private ensureBuilt(): Promise<void> {
    this.building ??= this.build().catch((e: unknown) => {
      this.building = undefined;
      throw e;
    });
    return this.building;
  }

  private async build(): Promise<void> {
    if (await pathExists(this.dir)) return;
    const tmp = `${this.dir}.tmp-${randomBytes(6).toString('hex')}`;
    await mkdir(tmp, { recursive: true });
    try {
      for (const { name, id } of await this.scan()) await writeFile(join(tmp, name), id);
      await rename(tmp, this.dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      // another process built it meanwhile: theirs is as good as ours
      if (!isNodeError(e, 'ENOTEMPTY') && !isNodeError(e, 'EEXIST')) throw e;
    }
  }

  /** The container ID holding a name, if any. */
  async lookup(name: string): Promise<string | undefined> {
    await this.ensureBuilt();
    try {
      const id = (await readFile(this.file(name), 'utf8')).trim();
      return (await this.containerExists(id)) ? id : undefined;
    } catch (e) {
      if (isNodeError(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  /** Takes a name for a container whose directory already exists; refused when another container holds it. */
  async reserve(name: string, id: string): Promise<void> {
    await this.ensureBuilt();
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.file(name), id, { flag: 'wx' });
        return;
      } catch (e) {
        if (!isNodeError(e, 'EEXIST')) throw e;
      }
      // left by a create that died before it could release the name
      if ((await this.lookup(name)) !== undefined) break;
      await rm(this.file(name), { force: true });
    }
    throw conflict(`name: the container name "${name}" is already in use`);
  }

  /** Frees a name if this container holds it. */
  async release(name: string, id: string): Promise<void> {
    await this.ensureBuilt();
    const holder = await readFile(this.file(name), 'utf8').catch(() => undefined);
    if (holder?.trim() === id) await rm(this.file(name), { force: true });
  }

  async names(): Promise<string[]> {
    await this.ensureBuilt();
    return readDirOrEmpty(this.dir);
  }
}
