import { randomBytes } from 'node:crypto';
import { linkSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, isNodeError } from '../util/errors.js';
import { FileLock } from '../util/file-lock.js';
import { pathExists, readDirOrEmpty } from '../util/fs.js';

/**
 * Container names, one file per name (<root>/container-names/<name> holding the container ID), so
 * that create and lookup by name read no other record.
 *
 * A name never exists without its owner: the ID is written to a temp file first, which link(2) then
 * gives the name. link is atomic and fails with EEXIST when the name is taken, so of any number of
 * reservers (threads or processes sharing the root) exactly one wins, and every loser reads the
 * winner's ID. (Creating the name with O_EXCL and writing it afterwards let a second reserver read it
 * empty in between, take it for a stale name, remove it and win too.)
 *
 * A name whose container is gone (a create that died before it released it) is taken over; that and
 * release, the only two ways a name file is removed, run under a cross-process lock
 * (<root>/container-names.lock), so a name is removed only while it still names whom the remover read.
 */
export class NameIndex {
  private building: Promise<void> | undefined;
  private readonly lock: FileLock;

  constructor(
    readonly dir: string,
    /** Whether a container directory exists for an ID: a name whose container is gone is free again. */
    private readonly containerExists: (id: string) => Promise<boolean>,
    /** Every (name, ID) pair from the records, to build the index for a root that predates it. */
    private readonly scan: () => Promise<Array<{ name: string; id: string }>>,
  ) {
    this.lock = new FileLock(`${dir}.lock`);
  }

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

  /** The ID a name file holds, or undefined when there is none. */
  private async holder(name: string): Promise<string | undefined> {
    try {
      return (await readFile(this.file(name), 'utf8')).trim();
    } catch (e) {
      if (isNodeError(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  private async live(id: string | undefined): Promise<boolean> {
    return id !== undefined && id !== '' && (await this.containerExists(id));
  }

  /** The container ID holding a name, if any. */
  async lookup(name: string): Promise<string | undefined> {
    await this.ensureBuilt();
    const id = await this.holder(name);
    return (await this.live(id)) ? id : undefined;
  }

  /** Gives the name the temp file's ID unless the name exists; whether it did. */
  private linkName(tmp: string, name: string): boolean {
    try {
      linkSync(tmp, this.file(name));
      return true;
    } catch (e) {
      if (isNodeError(e, 'EEXIST')) return false;
      throw e;
    }
  }

  /** Takes a name for a container whose directory already exists; refused when another container holds it. */
  async reserve(name: string, id: string): Promise<void> {
    await this.ensureBuilt();
    // names start with [a-zA-Z0-9]: a dot file is never one. The few syscalls of a free name are made
    // synchronously: on container create's path, five round trips through the thread pool cost more.
    const tmp = join(this.dir, `.tmp-${randomBytes(8).toString('hex')}`);
    writeFileSync(tmp, id, { flag: 'wx' });
    try {
      if (this.linkName(tmp, name)) return;
      const won = await this.lock.run(async () => {
        if (await this.live(await this.holder(name))) return false;
        // left by a create that died before it could release it (or released meanwhile): no one else
        // removes a name while we hold the lock, so this removes the stale file read above
        await rm(this.file(name), { force: true });
        // a reserver that does not need the lock may still get there first: then it won
        return this.linkName(tmp, name);
      });
      if (won) return;
    } finally {
      rmSync(tmp, { force: true });
    }
    throw conflict(`name: the container name "${name}" is already in use`);
  }

  /** Frees a name if this container holds it. */
  async release(name: string, id: string): Promise<void> {
    await this.ensureBuilt();
    await this.lock.run(async () => {
      if ((await this.holder(name)) === id) await rm(this.file(name), { force: true });
    });
  }

  async names(): Promise<string[]> {
    await this.ensureBuilt();
    return (await readDirOrEmpty(this.dir)).filter((n) => !n.startsWith('.'));
  }
}
