import { cp, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { randomHexId } from '../util/digest.js';
import { conflict, invalid, notFound } from '../util/errors.js';
import { atomicWriteJson, pathExists, readDirOrEmpty, readJsonIfExists, treeSize } from '../util/fs.js';

const VolumeMetaSchema = z.object({
  name: z.string(),
  driver: z.literal('local'),
  createdAt: z.string(),
  labels: z.record(z.string(), z.string()),
  anonymous: z.boolean(),
  /** Set once the volume has been mounted (and, if it was empty, filled from the image). */
  initialised: z.boolean(),
});
export type VolumeMeta = z.infer<typeof VolumeMetaSchema>;

export interface VolumeInfo extends VolumeMeta {
  mountpoint: string;
}

/** Names of containers using a volume (wired by the Runtime). */
export type VolumeUsage = (name: string) => Promise<string[]>;

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Local volumes: <root>/volumes/<name>/_data, metadata next to it. Data outlives every container. */
export class VolumeStore {
  private readonly dir: string;
  private usage: VolumeUsage = async () => [];

  constructor(root: string) {
    this.dir = join(root, 'volumes');
  }

  setUsage(usage: VolumeUsage): void {
    this.usage = usage;
  }

  private volDir(name: string): string {
    if (!NAME_RE.test(name)) throw invalid(`name: volume name "${name}" must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
    return join(this.dir, name);
  }

  mountpoint(name: string): string {
    return join(this.volDir(name), '_data');
  }

  /** docker volume create: idempotent for an existing name. */
  async create(name?: string, opts: { labels?: Record<string, string> } = {}): Promise<VolumeInfo> {
    const anonymous = name === undefined;
    const n = name ?? randomHexId();
    const dir = this.volDir(n);
    const existing = await this.find(n);
    if (existing) return existing;
    const meta: VolumeMeta = { name: n, driver: 'local', createdAt: new Date().toISOString(), labels: opts.labels ?? {}, anonymous, initialised: false };
    const tmp = join(this.dir, `.tmp-${randomHexId()}`);
    await mkdir(join(tmp, '_data'), { recursive: true, mode: 0o755 });
    await atomicWriteJson(join(tmp, 'meta.json'), meta);
    try {
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      const raced = await this.find(n);
      if (raced) return raced;
      throw e;
    }
    return { ...meta, mountpoint: this.mountpoint(n) };
  }

  async find(name: string): Promise<VolumeInfo | undefined> {
    const raw = await readJsonIfExists(join(this.volDir(name), 'meta.json'));
    if (raw === undefined) return undefined;
    return { ...VolumeMetaSchema.parse(raw), mountpoint: this.mountpoint(name) };
  }

  async get(name: string): Promise<VolumeInfo> {
    const v = await this.find(name);
    if (!v) throw notFound(`volume "${name}" not found`);
    return v;
  }

  async list(): Promise<VolumeInfo[]> {
    const out: VolumeInfo[] = [];
    for (const n of await readDirOrEmpty(this.dir)) {
      if (!NAME_RE.test(n)) continue;
      const v = await this.find(n);
      if (v) out.push(v);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Docker's first-mount copy: an empty, never-mounted volume gets the image's content at the
   * mount path. Called by the container service with the path inside the container's rootfs.
   */
  async initialise(name: string, imageContent: string | undefined): Promise<void> {
    const v = await this.get(name);
    if (v.initialised) return;
    const data = this.mountpoint(name);
    if (imageContent && (await pathExists(imageContent)) && (await readdir(data)).length === 0) {
      await cp(imageContent, data, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, force: false, errorOnExist: false });
    }
    await atomicWriteJson(join(this.volDir(name), 'meta.json'), { ...VolumeMetaSchema.parse(v), initialised: true });
  }

  async usedBy(name: string): Promise<string[]> {
    return this.usage(name);
  }

  async size(name: string): Promise<number> {
    return treeSize(this.mountpoint(name));
  }

  /** docker volume rm: refused while any container (running or not) uses it, unless forced. */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.get(name);
    const users = await this.usage(name);
    if (users.length && !opts.force) throw conflict(`volume "${name}" is in use by container(s) ${users.map((u) => u.slice(0, 12)).join(', ')}`);
    await rm(this.volDir(name), { recursive: true, force: true });
  }

  /** docker volume prune: unused anonymous volumes (all unused with `all`). */
  async prune(opts: { all?: boolean } = {}): Promise<string[]> {
    const removed: string[] = [];
    for (const v of await this.list()) {
      if (!v.anonymous && !opts.all) continue;
      if ((await this.usage(v.name)).length) continue;
      await rm(this.volDir(v.name), { recursive: true, force: true });
      removed.push(v.name);
    }
    return removed;
  }
}
