import { join } from 'node:path';
import { z } from 'zod';
import { conflict, notFound } from '../util/errors.js';
import { atomicWriteJson, readDirOrEmpty, readJsonIfExists } from '../util/fs.js';
import { CreateOptionsSchema, ResolvedMountSchema } from './options.js';

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
  get oomFiles(): string[] { return [join(this.dir, 'bundle', 'oom'), join(this.dir, 'oom')]; }
}

/** Container records on disk; names are unique. */
export class ContainerRecords {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'containers');
  }

  paths(id: string): ContainerPaths {
    return new ContainerPaths(join(this.dir, id), id);
  }

  async ids(): Promise<string[]> {
    return (await readDirOrEmpty(this.dir)).filter((n) => /^[a-f0-9]{64}$/.test(n));
  }

  async read(id: string): Promise<ContainerRecord | undefined> {
    const raw = await readJsonIfExists(this.paths(id).config);
    return raw === undefined ? undefined : ContainerRecordSchema.parse(raw);
  }

  async readState(id: string): Promise<ContainerState> {
    const raw = await readJsonIfExists(this.paths(id).state);
    return ContainerStateSchema.parse(raw ?? { status: 'created' });
  }

  async writeState(id: string, state: ContainerState): Promise<void> {
    await atomicWriteJson(this.paths(id).state, state);
  }

  async write(rec: ContainerRecord): Promise<void> {
    await atomicWriteJson(this.paths(rec.id).config, rec);
  }

  async all(): Promise<ContainerRecord[]> {
    // reads in parallel: every create scans all records (unique names), so this is on the create path
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
    const all = await this.all();
    const exact = all.find((c) => c.id === ref || c.name === ref || c.name === ref.replace(/^\//, ''));
    if (exact) return exact;
    if (/^[a-f0-9]{3,63}$/.test(ref)) {
      const m = all.filter((c) => c.id.startsWith(ref));
      if (m.length > 1) throw conflict(`container ID prefix "${ref}" is ambiguous`);
      if (m[0]) return m[0];
    }
    throw notFound(`container "${ref}" not found`);
  }
}
