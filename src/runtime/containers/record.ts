import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { creatorAlive, processIdentity } from '../util/process.js';
import { z } from 'zod';
import { conflict, notFound } from '../util/errors.js';
import { atomicWriteJson, pathExists, readDirOrEmpty, readJsonIfExists, replaceJson } from '../util/fs.js';
import { ParsedFileCache } from '../util/parsed-file-cache.js';
import { NameIndex } from './names.js';
import { CONTAINER_NAME_RE, CreateOptionsSchema, ResolvedMountSchema } from './options.js';

export const ContainerRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  created: z.string(),
  /** The image as the user named it, and the ID it resolved to at create time. */
  image: z.string(),
  imageId: z.string(),
  diffIDs: z.array(z.string()),
  options: CreateOptionsSchema,
  mounts: z.array(ResolvedMountSchema),
  path: z.string(),
  args: z.array(z.string()),
  env: z.array(z.string()),
  workingDir: z.string(),
  user: z.string(),
  hostname: z.string(),
  cgroupsPath: z.string(),
  stopSignal: z.string(),
  stopTimeoutSeconds: z.number(),
});
export type ContainerRecord = z.infer<typeof ContainerRecordSchema>;

export const ContainerStatusSchema = z.enum(['created', 'running', 'paused', 'exited']);
export type ContainerStatus = z.infer<typeof ContainerStatusSchema>;

export const ContainerStateSchema = z.object({
  status: ContainerStatusSchema,
  pid: z.number().default(0),
  conmonPid: z.number().default(0),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  exitCode: z.number().optional(),
  oomKilled: z.boolean().default(false),
  restartCount: z.number().default(0),
  error: z.string().optional(),
});
export type ContainerState = z.infer<typeof ContainerStateSchema>;

/** The state of a container that create has just made. */
export function createdState(): ContainerState {
  return { status: 'created', pid: 0, conmonPid: 0, oomKilled: false, restartCount: 0 };
}

/** Paths of one container's on-disk state, <root>/containers/<id>/. */
export class ContainerPaths {
  constructor(readonly dir: string, readonly id: string) {}
  get config(): string { return join(this.dir, 'config.json'); }
  get state(): string { return join(this.dir, 'state.json'); }
  get bundle(): string { return join(this.dir, 'bundle'); }
  get spec(): string { return join(this.dir, 'bundle', 'config.json'); }
  get log(): string { return join(this.dir, 'ctr.log'); }
  get exitDir(): string { return join(this.dir, 'exits'); }
  get exitFile(): string { return join(this.dir, 'exits', this.id); }
  get conmonPid(): string { return join(this.dir, 'conmon.pid'); }
  get initPid(): string { return join(this.dir, 'init.pid'); }
  get execDir(): string { return join(this.dir, 'exec'); }
  /** Present while a create is in progress: the creating process (pid and start time, util/process.ts). */
  get creating(): string { return join(this.dir, 'creating'); }
  /** Staging points of subPath mounts (volumes/subpath.ts). */
  get subPaths(): string { return join(this.dir, 'subpaths'); }
  get oomFiles(): string[] { return [join(this.dir, 'bundle', 'oom'), join(this.dir, 'oom')]; }
}

/** Container records on disk; names are unique. */
export class ContainerRecords {
  readonly dir: string;
  readonly names: NameIndex;
  /** Records are written once, at create, and read on every state look-up. */
  private readonly cache = new ParsedFileCache((raw) => ContainerRecordSchema.parse(raw));

  constructor(root: string) {
    this.dir = join(root, 'containers');
    this.names = new NameIndex(
      join(root, 'container-names'),
      (id) => this.ownerLive(id),
      async () => (await this.all()).map((r) => ({ name: r.name, id: r.id })),
    );
  }

  paths(id: string): ContainerPaths {
    return new ContainerPaths(join(this.dir, id), id);
  }

  /**
   * Whether a container ID has an owner: its record (the commit point of a create), or a create in
   * progress in a process that still runs. A directory left by a create that died has neither, so its
   * name is free again and the crash sweep removes it.
   */
  async ownerLive(id: string): Promise<boolean> {
    if (await pathExists(this.paths(id).config)) return true;
    return creatorAlive(await readJsonIfExists(this.paths(id).creating).catch(() => undefined));
  }

  /** Marks a create in progress by this process (see ownerLive). */
  markCreating(id: string): void {
    writeFileSync(this.paths(id).creating, JSON.stringify(processIdentity()));
  }

  async ids(): Promise<string[]> {
    return (await readDirOrEmpty(this.dir)).filter((n) => /^[a-f0-9]{64}$/.test(n));
  }

  async read(id: string): Promise<ContainerRecord | undefined> {
    return this.cache.read(this.paths(id).config);
  }

  async readState(id: string): Promise<ContainerState> {
    const raw = await readJsonIfExists(this.paths(id).state);
    return ContainerStateSchema.parse(raw ?? { status: 'created' });
  }

  /** Not fsynced: after a power cut every container is stopped, and observing runc and the exit file says so. */
  async writeState(id: string, state: ContainerState): Promise<void> {
    await replaceJson(this.paths(id).state, state);
  }

  /** The record is the container's commit point: durable. */
  async write(rec: ContainerRecord): Promise<void> {
    this.cache.forget(this.paths(rec.id).config);
    await atomicWriteJson(this.paths(rec.id).config, rec);
  }

  async all(): Promise<ContainerRecord[]> {
    const recs = await Promise.all((await this.ids()).map((id) => this.read(id)));
    return recs.filter((r): r is ContainerRecord => r !== undefined);
  }

  /** By full ID, unique ID prefix, or name. */
  async resolve(ref: string): Promise<ContainerRecord> {
    // a full ID is the common case (and wins over names, as in Docker): one read instead of a scan
    if (/^[a-f0-9]{64}$/.test(ref)) {
      const byId = await this.read(ref);
      if (byId) return byId;
    }
    const name = ref.replace(/^\//, '');
    const byName = CONTAINER_NAME_RE.test(name) ? await this.names.lookup(name) : undefined;
    const named = byName === undefined ? undefined : await this.read(byName);
    if (named) return named;
    if (/^[a-f0-9]{3,63}$/.test(ref)) {
      const m = (await this.ids()).filter((id) => id.startsWith(ref));
      if (m.length > 1) throw conflict(`container ID prefix "${ref}" is ambiguous`);
      const byPrefix = m[0] === undefined ? undefined : await this.read(m[0]);
      if (byPrefix) return byPrefix;
    }
    throw notFound(`container "${ref}" not found`);
  }
}
